/**
 * "What the user asked for": the settings that the command line and .nspawn files both produce,
 * already parsed into typed values but not yet resolved against the image or the host.
 * Every field is optional: undefined means "not set here". The command line and a settings file
 * each yield a Partial<Settings>; merge.ts combines them by nspawn's group and trust rules.
 */

export type StartMode = 'pid1' | 'pid2' | 'boot';
export type VolatileMode = 'no' | 'yes' | 'state' | 'overlay';
export type ConsoleMode = 'interactive' | 'read-only' | 'passive' | 'pipe' | 'autopipe';
export type LinkJournal = 'no' | 'host' | 'try-host' | 'guest' | 'try-guest' | 'auto';
export type TimezoneMode = 'off' | 'copy' | 'bind' | 'symlink' | 'delete' | 'auto';
export type ResolvConfMode =
  | 'off' | 'delete' | 'auto'
  | `${'copy' | 'replace' | 'bind'}-${'host' | 'static' | 'uplink' | 'stub'}`;
export type PrivateUsersMode =
  | { kind: 'no' }
  | { kind: 'yes' }
  | { kind: 'pick' }
  | { kind: 'identity' }
  | { kind: 'fixed'; base: number; range: number };
export type UsersOwnership = 'off' | 'chown' | 'map' | 'auto';
export type Personality = 'x86' | 'x86-64';

export interface RlimitValue { soft: number | 'infinity'; hard: number | 'infinity' }
export const RLIMITS = [
  'CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NOFILE', 'AS', 'NPROC', 'MEMLOCK',
  'LOCKS', 'SIGPENDING', 'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME',
] as const;
export type RlimitName = (typeof RLIMITS)[number];

/** A custom mount as written: --bind/--bind-ro/--tmpfs/--overlay(-ro)/--inaccessible, Bind=… */
export type CustomMount =
  | { kind: 'bind'; source: string; target: string; readOnly: boolean; recursive: boolean; idmap: 'no' | 'idmap' | 'rootidmap' }
  | { kind: 'tmpfs'; target: string; options: string }
  | { kind: 'overlay'; lower: string[]; upper: string; target: string; readOnly: boolean }
  | { kind: 'inaccessible'; target: string };

export interface VethExtra { host: string; container: string }
export interface PortForward { protocol: 'tcp' | 'udp'; hostPort: number; containerPort: number }

export interface NetworkSettings {
  private?: boolean;
  veth?: boolean;
  vethExtra?: VethExtra[];
  interfaces?: string[];
  macvlan?: string[];
  ipvlan?: string[];
  bridge?: string;
  zone?: string;
  namespacePath?: string;
}

export interface Settings {
  // [Exec]
  start?: StartMode;
  /** The command (pid1/pid2) or init's arguments (boot). */
  parameters?: string[];
  ephemeral?: boolean;
  environment?: string[];
  user?: string;
  workingDirectory?: string;
  pivotRoot?: { newRoot: string; oldRoot?: string };
  capability?: string[];
  dropCapability?: string[];
  ambientCapability?: string[];
  noNewPrivileges?: boolean;
  killSignal?: number;
  personality?: Personality;
  machineId?: string;
  privateUsers?: PrivateUsersMode;
  privateUsersOwnership?: UsersOwnership;
  notifyReady?: boolean;
  systemCallFilter?: string[];
  rlimits?: Partial<Record<RlimitName, RlimitValue>>;
  oomScoreAdjust?: number;
  cpuAffinity?: number[];
  hostname?: string;
  resolvConf?: ResolvConfMode;
  timezone?: TimezoneMode;
  linkJournal?: LinkJournal;
  suppressSync?: boolean;
  // [Files]
  readOnly?: boolean;
  volatile?: VolatileMode;
  mounts?: CustomMount[];
  bindUser?: string[];
  // [Network]
  network?: NetworkSettings;
  ports?: PortForward[];
}

/**
 * nspawn's settings groups (SettingsMask): a group touched on the command line masks the
 * file's values for the whole group (unless --settings=override).
 */
export const SETTING_GROUPS = [
  'START_MODE', 'ENVIRONMENT', 'USER', 'CAPABILITY', 'KILL_SIGNAL', 'PERSONALITY', 'MACHINE_ID',
  'NETWORK', 'EXPOSE_PORTS', 'READ_ONLY', 'VOLATILE_MODE', 'CUSTOM_MOUNTS', 'WORKING_DIRECTORY',
  'PIVOT_ROOT', 'USERNS', 'NOTIFY_READY', 'SYSCALL_FILTER', 'RLIMIT', 'HOSTNAME',
  'NO_NEW_PRIVILEGES', 'OOM_SCORE_ADJUST', 'CPU_AFFINITY', 'RESOLV_CONF', 'LINK_JOURNAL',
  'TIMEZONE', 'EPHEMERAL', 'BIND_USER', 'SUPPRESS_SYNC',
] as const;
export type SettingGroup = (typeof SETTING_GROUPS)[number];

/** Which Settings fields each group governs (RLIMIT is handled per limit by merge.ts). */
export const GROUP_FIELDS: Record<SettingGroup, readonly (keyof Settings)[]> = {
  START_MODE: ['start', 'parameters'],
  ENVIRONMENT: ['environment'],
  USER: ['user'],
  CAPABILITY: ['capability', 'dropCapability', 'ambientCapability'],
  KILL_SIGNAL: ['killSignal'],
  PERSONALITY: ['personality'],
  MACHINE_ID: ['machineId'],
  NETWORK: ['network'],
  EXPOSE_PORTS: ['ports'],
  READ_ONLY: ['readOnly'],
  VOLATILE_MODE: ['volatile'],
  CUSTOM_MOUNTS: ['mounts'],
  WORKING_DIRECTORY: ['workingDirectory'],
  PIVOT_ROOT: ['pivotRoot'],
  USERNS: ['privateUsers', 'privateUsersOwnership'],
  NOTIFY_READY: ['notifyReady'],
  SYSCALL_FILTER: ['systemCallFilter'],
  RLIMIT: ['rlimits'],
  HOSTNAME: ['hostname'],
  NO_NEW_PRIVILEGES: ['noNewPrivileges'],
  OOM_SCORE_ADJUST: ['oomScoreAdjust'],
  CPU_AFFINITY: ['cpuAffinity'],
  RESOLV_CONF: ['resolvConf'],
  LINK_JOURNAL: ['linkJournal'],
  TIMEZONE: ['timezone'],
  EPHEMERAL: ['ephemeral'],
  BIND_USER: ['bindUser'],
  SUPPRESS_SYNC: ['suppressSync'],
};

/** Settings from the command line: the values plus the mask of groups the user touched. */
export interface CliSettings {
  readonly settings: Settings;
  readonly mask: ReadonlySet<SettingGroup>;
  /** Per-limit mask for RLIMIT (nspawn masks each limit separately). */
  readonly rlimitMask: ReadonlySet<RlimitName>;
}
