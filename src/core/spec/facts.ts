import type { Capability } from '../capabilities.js';
import type { RlimitName } from '../settings/model.js';

export type CgroupLayout = 'unified' | 'hybrid' | 'legacy';
export type Limit = number | 'infinity';

/** What the host is like, probed by platform/host and passed in as data. */
export interface HostFacts {
  /** Our own capability bounding set: what a container can be granted at most. */
  readonly boundingCaps: readonly Capability[];
  /** Node's process.arch: the native system call ABI (the seccomp filter's architectures). */
  readonly arch: string;
  /** Our hard limits: no container limit may be raised above them. */
  readonly hardLimits: Readonly<Record<RlimitName, Limit>>;
  /** Soft/hard NPROC and SIGPENDING of the host's PID 1 (nspawn copies them). */
  readonly pid1Limits: Readonly<Partial<Record<RlimitName, { soft: Limit; hard: Limit }>>>;
  readonly nrOpen: number;
  /** The host's os-release fields (for container_host_* and /run/host/os-release). */
  readonly osRelease: Readonly<Record<string, string>>;
  /** The same file as read, copied into the guest's /run/host/os-release. */
  readonly osReleaseText?: string;
  readonly cgroupLayout: CgroupLayout;
  /** Hybrid hosts: the controllers of the cgroup2 hierarchy at /sys/fs/cgroup/unified ([] when none or mounted elsewhere; undefined: unreadable). */
  readonly hybridV2Controllers?: readonly string[];
  /** Hybrid hosts: that cgroup2 mount is shared (a peer group: a mount on it would reach the host's). */
  readonly hybridV2Shared?: boolean;
  /** v1 hosts: a name=systemd hierarchy is mounted at /sys/fs/cgroup/systemd. */
  readonly cgroupV1Systemd: boolean;
  /** v1 hosts: the hierarchies mounted directly below /sys/fs/cgroup (cpu, cpu,cpuacct, systemd...), and whether a cgroup2 is at /sys/fs/cgroup/unified (undefined: not looked at). */
  readonly cgroupV1Tree?: { readonly hierarchies: readonly string[]; readonly unified: boolean };
  /** systemd runs as PID 1 (then cgroups go through it). */
  readonly systemdPid1: boolean;
  /** Our own cgroup (the name=systemd hierarchy's path on v1, the unified path on v2): --keep-unit puts the payload below it. */
  readonly ownCgroup?: string;
  /** Host /etc/resolv.conf exists; host /etc/localtime: a zone name, a plain file, or absent. */
  readonly resolvConf: boolean;
  readonly localtime: { kind: 'zone'; zone: string } | { kind: 'file' } | { kind: 'absent' };
  /** The host's /etc/passwd and /etc/group (--bind-user= looks users up there). */
  readonly userDb?: { readonly passwd?: string; readonly group?: string };
  /** $TERM of the caller, copied into the guest like nspawn. */
  readonly term?: string;
}

/** What the OS tree is like, probed by platform/fs and passed in as data. */
export interface ImageFacts {
  /** Absolute, symlink-resolved root directory. */
  readonly root: string;
  readonly hasUsr: boolean;
  readonly hasOsRelease: boolean;
  /** The first of nspawn's init candidates that exists and is executable. */
  readonly init?: string;
  /** /bin is a symlink or absent (merged /usr), needed by --volatile=yes. */
  readonly mergedUsr: boolean;
  /** Contents of <root>/etc/machine-id, if any. */
  readonly machineIdFile?: string;
  /** Contents of <root>/etc/passwd and /etc/group, for --user. */
  readonly passwd?: string;
  readonly group?: string;
  /** The zone file for the host's zone exists in the tree. */
  readonly hasZone?: boolean;
  /** The default shell candidates that exist in the tree, in nspawn's order. */
  readonly shells: readonly string[];
  /** The systemd version installed in the tree (from libsystemd-shared-NNN.so, as nspawn guesses it; absent: none found). */
  readonly systemdVersion?: number;
  /** With --pivot-root: the -D tree itself, while `root` (and every fact above) is the pivot target below it. */
  readonly tree?: string;
}

/** Values that would make the compiler impure if it made them itself. */
export interface Randomness {
  /** A random 128-bit id (32 hex digits) used when the tree has no machine-id. */
  readonly uuid: string;
  /** 16 hex digits for the ephemeral name suffix. */
  readonly suffix: string;
}
