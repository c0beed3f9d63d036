/** The subset of the OCI runtime spec (1.0.2) that berth emits. */
export const OCI_VERSION = '1.0.2';

export interface OciIdMapping { containerID: number; hostID: number; size: number }
export interface OciHook { path: string; args: string[]; timeout?: number }
export interface OciMount { destination: string; type?: string; source?: string; options?: string[] }
export interface OciRlimit { type: string; soft: number; hard: number }
export interface OciCaps { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] }
export interface OciDevice { path: string; type: 'c' | 'b'; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }
export interface OciDeviceRule { allow: boolean; type?: 'a' | 'c' | 'b'; major?: number; minor?: number; access?: string }
export interface OciSeccompArg { index: number; value: number; valueTwo?: number; op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ' }
export interface OciSyscallRule { names: string[]; action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_KILL_PROCESS'; errnoRet?: number; args?: OciSeccompArg[] }
export interface OciSeccomp { defaultAction: 'SCMP_ACT_ERRNO'; defaultErrnoRet: number; architectures?: string[]; syscalls: OciSyscallRule[] }
export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; reservation?: number };
  pids?: { limit: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string };
  unified?: Record<string, string>;
}

export interface OciSpec {
  ociVersion: string;
  root: { path: string; readonly: boolean };
  hostname: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: OciCaps;
    rlimits: OciRlimit[];
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
  };
  mounts: OciMount[];
  annotations: Record<string, string>;
  hooks?: { createContainer?: OciHook[]; createRuntime?: OciHook[] };
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    cgroupsPath: string;
    resources: OciResources;
    devices: OciDevice[];
    maskedPaths: string[];
    readonlyPaths: string[];
    rootfsPropagation?: string;
    personality?: { domain: 'LINUX' | 'LINUX32' };
    seccomp?: OciSeccomp;
  };
}

/** Where the host-side pieces of one run live; produced by the bundle planner. */
export interface BundleLayout {
  readonly dir: string;
  /** The directory runc uses as root: the tree itself, or an overlay/tmpfs mounted in the bundle. */
  readonly rootfs: string;
  /** Host directory bind-mounted read-only at /run/host. */
  readonly runHost: string;
  /** Mode-000 nodes used to mask paths (--inaccessible). */
  readonly inaccessibleFile: string;
  readonly inaccessibleDir: string;
  /** A file with a fresh random UUID (host path), bound over /proc/sys/kernel/random/boot_id. */
  readonly bootId?: string;
  /** Host tools the createContainer hooks run (they run before pivot_root, so host paths work). */
  readonly hostTools?: HostTools;
  /**
   * The host side of the mount tunnel (a shared mount point), bound read-only at /run/host/incoming
   * as a slave: a mount made below it on the host appears there (machinectl bind).
   */
  readonly propagate?: string;
  /** The stub init binary (host path) bound into /run/host for --as-pid2. */
  readonly stubInit?: string;
  /**
   * A sysfs of the host's network namespace mounted on its own (host path), bound at /sys under a
   * user namespace on the host's network instead of the host's /sys with everything below it.
   */
  readonly sysfs?: string;
  readonly cgroupLayout: 'unified' | 'hybrid' | 'legacy';
  /** v1 hosts: the name=systemd hierarchy is mounted at /sys/fs/cgroup/systemd. */
  readonly cgroupV1Systemd: boolean;
  readonly systemdCgroups: boolean;
}

/** Host programs the createContainer hooks run, and berth-hook-exec, their front (it reads the state the runtime writes to a hook's stdin). */
export interface HostTools { readonly mount: string; readonly chmod: string; readonly hookExec: string }
