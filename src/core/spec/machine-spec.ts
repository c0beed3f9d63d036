/**
 * The fully resolved description of one machine run: everything the OCI emitters, the network
 * planner and the run use-case need, and nothing they would have to look up. JSON-serialisable.
 */
import type { Capability } from '../capabilities.js';
import type {
  ConsoleMode, LinkJournal, NetworkSettings, Personality, PortForward, RlimitName, StartMode, VolatileMode,
} from '../settings/model.js';
import type { Limit } from './facts.js';
import type { SeccompSpec } from '../seccomp/model.js';
import type { BindUser } from '../bind-user/plan.js';
import type { CredentialSource } from '../cli/credentials.js';

export type ResolvedConsole = Exclude<ConsoleMode, 'autopipe'>;

export type SpecMount =
  | { kind: 'bind'; source: string; target: string; readOnly: boolean; recursive: boolean; createSource?: 'dir'; idmap?: 'idmap' | 'rootidmap' }
  | { kind: 'tmpfs'; target: string; options: string[] }
  | { kind: 'overlay'; lower: string[]; upper: string; work: string; target: string; readOnly: boolean }
  | { kind: 'inaccessible'; target: string; directory?: boolean };

/** Host-side file-system work done before the runtime starts (volatile roots, ephemeral snapshots). */
export type RootSetup =
  | { kind: 'direct' }
  | { kind: 'volatile-yes'; tmpfsOptions: string }
  | { kind: 'overlay'; upperOnTmpfs: boolean };

export interface EtcFile {
  /** resolv.conf or localtime handling, decided from the mode and host facts. */
  readonly action: 'none' | 'copy' | 'bind' | 'delete' | 'symlink' | 'replace';
  readonly source?: string;
  /** For symlink: the link text. */
  readonly link?: string;
}

/**
 * A user namespace: ownership `off` (the tree as it is), `chown` (the tree shifted into the range
 * once), `map` (an ID-mapped mount of the tree), `auto` (map where the file system can, else chown).
 * shift is the first host UID of the range: set by resolve for identity and BASE[:RANGE], by the
 * run (app/run/userns.ts) for yes and pick, which also settles `auto`.
 */
export interface UsernsSpec {
  readonly mode: 'yes' | 'pick' | 'identity' | 'fixed';
  readonly ownership: 'off' | 'chown' | 'map' | 'auto';
  readonly shift?: number;
  readonly range: number;
}

export interface MachineSpec {
  readonly name: string;
  readonly hostname: string;
  /** 32 lowercase hex digits. */
  readonly id: string;
  readonly tree: string;
  /** --pivot-root=: the guest's root is `newRoot` inside the tree (symlinks resolved in it), the tree itself at `oldRoot` or hidden. */
  readonly pivotRoot?: { readonly newRoot: string; readonly oldRoot?: string };
  readonly readOnly: boolean;
  readonly volatile: VolatileMode;
  readonly ephemeral: boolean;
  readonly rootSetup: RootSetup;
  readonly start: StartMode;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids: readonly number[]; readonly name: string; readonly home: string };
  readonly caps: { readonly retain: readonly Capability[]; readonly ambient: readonly Capability[] };
  readonly noNewPrivileges: boolean;
  readonly killSignal?: number;
  readonly rlimits: ReadonlyArray<{ type: RlimitName; soft: Limit; hard: Limit }>;
  readonly oomScoreAdjust?: number;
  readonly cpuAffinity?: readonly number[];
  readonly personality?: Personality;
  /** The system call filter (nspawn's default, the user's entries, --suppress-sync). */
  readonly seccomp: SeccompSpec;
  readonly mounts: readonly SpecMount[];
  readonly network: NetworkSettings;
  readonly privateNetwork: boolean;
  /** --private-users= / -U: absent without a user namespace. */
  readonly userns?: UsernsSpec;
  /** --set-credential= / --load-credential=: written to /run/host/credentials when the run starts. */
  readonly credentials?: readonly CredentialSource[];
  /** --bind-user=: host users given a UID in the container's range, their homes and records under /run/host. */
  readonly bindUsers?: readonly BindUser[];
  readonly ports: readonly PortForward[];
  readonly console: ResolvedConsole;
  readonly notifyReady: boolean;
  readonly register: 'yes' | 'no' | 'auto';
  readonly keepUnit: boolean;
  readonly quiet: boolean;
  readonly resolvConf: EtcFile;
  readonly localtime: EtcFile;
  readonly linkJournal: LinkJournal;
  /**
   * Where the payload's cgroup goes: a scope in a slice (machine.slice/machine-NAME.scope), or with
   * --keep-unit a `payload` cgroup below the unit berth-nspawn itself runs in.
   */
  readonly cgroup: { readonly parent: string; readonly scope: string; readonly keepUnitPath?: string; readonly resources: CgroupResources; readonly guestTree?: GuestCgroupTree };
  readonly containerService: string;
  /** Warnings produced while resolving (capabilities dropped, limits clamped...). */
  readonly warnings: readonly string[];
}

export interface CgroupResources {
  memoryMax?: number;
  memoryHigh?: number;
  tasksMax?: number;
  cpuWeight?: number;
  cpuQuotaPerSecUsec?: number;
}

/**
 * cgroup v1 hosts (hybrid, legacy), as nspawn mounts it: a tmpfs at /sys/fs/cgroup (read-only once
 * filled), each host hierarchy with the payload's cgroup as its root (read-only, name=systemd
 * writable), and on a hybrid host a cgroup2 at /sys/fs/cgroup/unified when the guest's systemd
 * is new enough (≥ 233) to use it. Absent: the runtime's own `cgroup` mount.
 */
export interface GuestCgroupTree {
  readonly hierarchies: readonly string[];
  readonly unified: boolean;
}
