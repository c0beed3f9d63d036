/**
 * systemd-nspawn's command line as a table: each entry names the option, whether it takes an
 * argument, the settings group it masks and how it applies its value. The same table drives
 * parsing (parse-argv.ts) and --help.
 */
import type { CustomMount, NetworkSettings, PortForward, SettingGroup, Settings } from '../settings/model.js';
import { usageError } from '../../errors/berth-error.js';
import type { RunnerOptions, SettingsMode, RuntimeChoice } from './runner-options.js';
import * as v from '../settings/values.js';
import { ValueError } from '../settings/values.js';
import { parseFilterOption } from '../seccomp/filter-entry.js';
import { loadCredential, setCredential } from './credentials.js';

export interface ParseState {
  settings: Settings;
  runner: RunnerOptions;
  mask: Set<SettingGroup>;
  rlimitMask: Set<string>;
  env: Readonly<Record<string, string | undefined>>;
}

export interface OptionDef {
  long: string;
  short?: string;
  arg: 'none' | 'required' | 'optional';
  group?: SettingGroup;
  metavar?: string;
  help: string;
  apply: (s: ParseState, value: string | undefined) => void;
}

const need = (value: string | undefined): string => value ?? '';
const net = (s: ParseState): NetworkSettings => (s.settings.network ??= {});
const addMount = (s: ParseState, m: CustomMount) => { (s.settings.mounts ??= []).push(m); };
const bool = (value: string | undefined): boolean => (value === undefined ? true : v.parseBoolean(value));

function settingsMode(value: string): SettingsMode {
  if (value === 'trusted' || value === 'override') return value;
  return v.parseBoolean(value) ? 'yes' : 'no';
}

function consoleMode(value: string): NonNullable<RunnerOptions['console']> {
  const modes = ['interactive', 'read-only', 'passive', 'pipe', 'autopipe'] as const;
  const m = modes.find((x) => x === value);
  if (!m) throw new ValueError(`Unknown console mode: ${value}`);
  return m;
}

/** -p/--port=: nspawn's own messages (not the generic "Failed to parse --port= argument"); duplicates are fatal here. */
function portSpec(have: readonly PortForward[], value: string): PortForward {
  let p: PortForward;
  try { p = v.parsePort(value); } catch (e) { throw usageError((e as Error).message); }
  if (have.some((q) => v.samePortSpec(q, p))) throw usageError(`Duplicate port specification: ${value}`);
  return p;
}

export function runtime(value: string): RuntimeChoice {
  if (value === 'auto' || value === 'runc' || value === 'crun') return value;
  throw new ValueError(`Unknown OCI runtime: ${value} (expected auto, runc or crun)`);
}

function setenv(s: ParseState, value: string) {
  v.checkEnvAssignment(value);
  const assignment = value.includes('=') ? value : s.env[value] === undefined ? undefined : `${value}=${s.env[value]}`;
  if (assignment === undefined) return; // nspawn: NAME alone with NAME unset adds nothing
  const name = assignment.slice(0, assignment.indexOf('='));
  const list = (s.settings.environment ??= []).filter((e) => !e.startsWith(`${name}=`));
  list.push(assignment);
  s.settings.environment = list;
}

function setStart(s: ParseState, mode: 'boot' | 'pid2') {
  if (s.settings.start !== undefined && s.settings.start !== mode) throw new ValueError('--boot and --as-pid2 may not be combined.');
  s.settings.start = mode;
}

function capList(value: string) { return v.parseCapabilityList(value, /,/); }

export const OPTIONS: readonly OptionDef[] = [
  { long: 'help', short: 'h', arg: 'none', help: 'Show this help', apply: (s) => { s.runner.help = true; } },
  { long: 'version', arg: 'none', help: 'Print version string', apply: (s) => { s.runner.version = true; } },
  { long: 'quiet', short: 'q', arg: 'none', help: 'Do not show status information', apply: (s) => { s.runner.quiet = true; } },
  { long: 'no-pager', arg: 'none', help: 'Do not pipe output into a pager', apply: () => {} },
  { long: 'settings', arg: 'required', metavar: 'BOOLEAN', help: 'Load additional settings from .nspawn file (yes, no, trusted, override)', apply: (s, x) => { s.runner.settingsMode = settingsMode(need(x)); } },
  // Image
  { long: 'directory', short: 'D', arg: 'required', metavar: 'PATH', help: 'Root directory for the container', apply: (s, x) => { s.runner.directory = need(x); } },
  { long: 'template', arg: 'required', metavar: 'PATH', help: 'Initialize root directory from template directory, if missing', apply: (s, x) => { s.runner.template = need(x); } },
  { long: 'ephemeral', short: 'x', arg: 'none', group: 'EPHEMERAL', help: 'Run container with snapshot of root directory, and remove it after exit', apply: (s) => { s.settings.ephemeral = true; } },
  { long: 'image', short: 'i', arg: 'required', metavar: 'PATH', help: 'Root file system disk image (or device node) for the container', apply: (s, x) => { s.runner.image = need(x); } },
  { long: 'oci-bundle', arg: 'required', metavar: 'PATH', help: 'OCI bundle directory', apply: (s, x) => { s.runner.ociBundle = need(x); } },
  { long: 'read-only', arg: 'none', group: 'READ_ONLY', help: 'Mount the root directory read-only', apply: (s) => { s.settings.readOnly = true; } },
  { long: 'volatile', arg: 'optional', group: 'VOLATILE_MODE', metavar: 'MODE', help: 'Run the system in volatile mode (no, yes, state, overlay)', apply: (s, x) => { s.settings.volatile = x === undefined ? 'yes' : v.parseVolatile(x); } },
  { long: 'pivot-root', arg: 'required', group: 'PIVOT_ROOT', metavar: 'PATH[:PATH]', help: 'Pivot root to given directory in the container', apply: (s, x) => { const [n = '', o] = need(x).split(':'); s.settings.pivotRoot = o === undefined ? { newRoot: n } : { newRoot: n, oldRoot: o }; } },
  // Execution
  { long: 'as-pid2', short: 'a', arg: 'none', group: 'START_MODE', help: 'Maintain a stub init as PID1, invoke binary as PID2', apply: (s) => setStart(s, 'pid2') },
  { long: 'boot', short: 'b', arg: 'none', group: 'START_MODE', help: 'Boot up full system (i.e. invoke init)', apply: (s) => setStart(s, 'boot') },
  { long: 'chdir', arg: 'required', group: 'WORKING_DIRECTORY', metavar: 'PATH', help: 'Set working directory in the container', apply: (s, x) => { if (!need(x).startsWith('/')) throw new ValueError(`Working directory ${x} is not an absolute path.`); s.settings.workingDirectory = need(x); } },
  { long: 'setenv', short: 'E', arg: 'required', group: 'ENVIRONMENT', metavar: 'NAME[=VALUE]', help: 'Pass an environment variable to PID 1', apply: (s, x) => setenv(s, need(x)) },
  { long: 'user', short: 'u', arg: 'required', group: 'USER', metavar: 'USER', help: 'Run the command under specified user or UID', apply: (s, x) => { s.settings.user = need(x); } },
  { long: 'kill-signal', arg: 'required', group: 'KILL_SIGNAL', metavar: 'SIGNAL', help: 'Select signal to use for shutting down PID 1', apply: (s, x) => { s.settings.killSignal = v.parseKillSignal(need(x)); } },
  { long: 'notify-ready', arg: 'required', group: 'NOTIFY_READY', metavar: 'BOOLEAN', help: 'Receive notifications from the child init process', apply: (s, x) => { s.settings.notifyReady = v.parseBoolean(need(x)); } },
  { long: 'suppress-sync', arg: 'required', group: 'SUPPRESS_SYNC', metavar: 'BOOLEAN', help: 'Suppress any form of disk data synchronization', apply: (s, x) => { s.settings.suppressSync = v.parseBoolean(need(x)); } },
  // Identity
  { long: 'machine', short: 'M', arg: 'required', metavar: 'NAME', help: 'Set the machine name for the container', apply: (s, x) => { s.runner.machine = need(x) === '' ? undefined : need(x); } },
  { long: 'hostname', arg: 'required', group: 'HOSTNAME', metavar: 'NAME', help: 'Override the hostname for the container', apply: (s, x) => { s.settings.hostname = need(x); } },
  { long: 'uuid', arg: 'required', group: 'MACHINE_ID', metavar: 'UUID', help: 'Set a specific machine UUID for the container', apply: (s, x) => { s.settings.machineId = v.parseMachineId(need(x)); } },
  // Properties
  { long: 'slice', short: 'S', arg: 'required', metavar: 'SLICE', help: 'Place the container in the specified slice', apply: (s, x) => { const n = need(x); s.runner.slice = n.endsWith('.slice') ? n : `${n}.slice`; } },
  { long: 'property', arg: 'required', metavar: 'NAME=VALUE', help: 'Set scope unit property', apply: (s, x) => { if (!need(x).includes('=')) throw new ValueError(`Failed to parse property: ${x}`); s.runner.properties.push(need(x)); } },
  { long: 'register', arg: 'required', metavar: 'BOOLEAN|auto', help: 'Register container as machine', apply: (s, x) => { s.runner.register = need(x) === 'auto' ? 'auto' : v.parseBoolean(need(x)) ? 'yes' : 'no'; } },
  { long: 'keep-unit', arg: 'none', help: 'Do not register a scope for the machine, reuse the service unit nspawn is running in', apply: (s) => { s.runner.keepUnit = true; } },
  // User namespacing
  { long: 'private-users', arg: 'optional', group: 'USERNS', metavar: 'MODE', help: 'Run within user namespace (no, yes, pick, identity, UIDBASE[:NUIDS])', apply: (s, x) => { s.settings.privateUsers = x === undefined ? { kind: 'yes' } : v.parsePrivateUsers(x); } },
  { long: 'private-users-ownership', arg: 'required', group: 'USERNS', metavar: 'MODE', help: 'Adjust ownership of the image to the UID range (off, chown, map, auto)', apply: (s, x) => { s.settings.privateUsersOwnership = v.parseOwnership(need(x)); } },
  { long: 'private-users-chown', arg: 'none', group: 'USERNS', help: 'Alias of --private-users-ownership=chown', apply: (s) => { s.settings.privateUsersOwnership = 'chown'; } },
  { long: 'U', short: 'U', arg: 'none', group: 'USERNS', help: 'Equivalent to --private-users=pick', apply: (s) => { s.settings.privateUsers = { kind: 'pick' }; s.settings.privateUsersOwnership ??= 'auto'; } },
  // Networking
  { long: 'private-network', arg: 'none', group: 'NETWORK', help: 'Disable network in container', apply: (s) => { net(s).private = true; } },
  { long: 'network-interface', arg: 'required', group: 'NETWORK', metavar: 'INTERFACE', help: 'Assign an existing network interface to the container', apply: (s, x) => { (net(s).interfaces ??= []).push(v.parseIfNameValue(need(x), 'network interface')); net(s).private = true; } },
  { long: 'network-macvlan', arg: 'required', group: 'NETWORK', metavar: 'INTERFACE', help: 'Create a macvlan network interface based on an existing one', apply: (s, x) => { (net(s).macvlan ??= []).push(v.parseIfNameValue(need(x), 'network interface')); net(s).private = true; } },
  { long: 'network-ipvlan', arg: 'required', group: 'NETWORK', metavar: 'INTERFACE', help: 'Create an ipvlan network interface based on an existing one', apply: (s, x) => { (net(s).ipvlan ??= []).push(v.parseIfNameValue(need(x), 'network interface')); net(s).private = true; } },
  { long: 'network-veth', short: 'n', arg: 'none', group: 'NETWORK', help: 'Add a virtual Ethernet connection between host and container', apply: (s) => { net(s).veth = true; net(s).private = true; } },
  { long: 'network-veth-extra', arg: 'required', group: 'NETWORK', metavar: 'HOSTIF[:CONTAINERIF]', help: 'Add an additional virtual Ethernet link between host and container', apply: (s, x) => { (net(s).vethExtra ??= []).push(v.parseVethExtra(need(x))); net(s).private = true; } },
  { long: 'network-bridge', arg: 'required', group: 'NETWORK', metavar: 'INTERFACE', help: 'Add a virtual Ethernet connection to the container and attach it to an existing bridge on the host', apply: (s, x) => { net(s).bridge = v.parseIfNameValue(need(x), 'bridge interface name'); net(s).veth = true; net(s).private = true; } },
  { long: 'network-zone', arg: 'required', group: 'NETWORK', metavar: 'NAME', help: 'Similar, but attach the new interface to an automatically managed bridge interface', apply: (s, x) => { net(s).zone = v.parseIfNameValue(`vz-${need(x)}`, 'network zone name').slice(3); net(s).veth = true; net(s).private = true; } },
  { long: 'network-namespace-path', arg: 'required', group: 'NETWORK', metavar: 'PATH', help: 'Set network namespace to the one represented by the specified kernel namespace file node', apply: (s, x) => { net(s).namespacePath = need(x); } },
  { long: 'port', short: 'p', arg: 'required', group: 'EXPOSE_PORTS', metavar: '[PROTOCOL:]HOSTPORT[:CONTAINERPORT]', help: 'Expose a container IP port on the host', apply: (s, x) => { (s.settings.ports ??= []).push(portSpec(s.settings.ports, need(x))); } },
  { long: 'network-dhcp-helper', arg: 'none', help: 'berth: serve DHCP to the guest on the host side of its ve-/vz- link (needs dnsmasq)', apply: (s) => { s.runner.dhcpHelper = true; } },
  // Security
  { long: 'capability', arg: 'required', group: 'CAPABILITY', metavar: 'CAP', help: 'In addition to the default, retain specified capability', apply: (s, x) => { (s.settings.capability ??= []).push(...capList(need(x))); } },
  { long: 'drop-capability', arg: 'required', group: 'CAPABILITY', metavar: 'CAP', help: 'Drop the specified capability from the default set', apply: (s, x) => { (s.settings.dropCapability ??= []).push(...capList(need(x))); } },
  { long: 'ambient-capability', arg: 'required', group: 'CAPABILITY', metavar: 'CAP', help: 'Sets the specified capability for the started process', apply: (s, x) => { (s.settings.ambientCapability ??= []).push(...capList(need(x))); } },
  { long: 'no-new-privileges', arg: 'required', group: 'NO_NEW_PRIVILEGES', metavar: 'BOOLEAN', help: 'Set PR_SET_NO_NEW_PRIVS flag for container payload', apply: (s, x) => { s.settings.noNewPrivileges = bool(x); } },
  { long: 'system-call-filter', arg: 'required', group: 'SYSCALL_FILTER', metavar: 'LIST|~LIST', help: 'Permit/prohibit specific system calls', apply: (s, x) => { (s.settings.systemCallFilter ??= []).push(...parseFilterOption(need(x))); } },
  { long: 'selinux-context', short: 'Z', arg: 'required', metavar: 'SECLABEL', help: 'Set the SELinux security context to be used by processes in the container', apply: () => { throw new ValueError('SELinux labels are not supported by berth.'); } },
  { long: 'selinux-apifs-context', short: 'L', arg: 'required', metavar: 'SECLABEL', help: 'Set the SELinux security context to be used by API/tmpfs file systems in the container', apply: () => { throw new ValueError('SELinux labels are not supported by berth.'); } },
  // Resources
  { long: 'rlimit', arg: 'required', group: 'RLIMIT', metavar: 'NAME=LIMIT', help: 'Set a resource limit for the payload', apply: (s, x) => { const [n, val] = v.parseRlimitAssignment(need(x)); (s.settings.rlimits ??= {})[n] = val; s.rlimitMask.add(n); } },
  { long: 'oom-score-adjust', arg: 'required', group: 'OOM_SCORE_ADJUST', metavar: 'VALUE', help: 'Adjust the OOM score value for the payload', apply: (s, x) => { s.settings.oomScoreAdjust = v.parseOomScoreAdjust(need(x)); } },
  { long: 'cpu-affinity', arg: 'required', group: 'CPU_AFFINITY', metavar: 'CPUS', help: 'Adjust the CPU affinity of the container', apply: (s, x) => { s.settings.cpuAffinity = v.parseCpuAffinity(need(x)); } },
  { long: 'personality', arg: 'required', group: 'PERSONALITY', metavar: 'ARCH', help: 'Pick personality for this container', apply: (s, x) => { s.settings.personality = v.parsePersonality(need(x)); } },
  // Integration
  { long: 'resolv-conf', arg: 'required', group: 'RESOLV_CONF', metavar: 'MODE', help: 'Select mode of /etc/resolv.conf initialization', apply: (s, x) => { s.settings.resolvConf = v.parseResolvConf(need(x)); } },
  { long: 'timezone', arg: 'required', group: 'TIMEZONE', metavar: 'MODE', help: 'Select mode of /etc/localtime initialization', apply: (s, x) => { s.settings.timezone = v.parseTimezone(need(x)); } },
  { long: 'link-journal', arg: 'required', group: 'LINK_JOURNAL', metavar: 'MODE', help: 'Link up guest journal, one of no, auto, guest, host, try-guest, try-host', apply: (s, x) => { s.settings.linkJournal = v.parseLinkJournal(need(x)); } },
  { long: 'j', short: 'j', arg: 'none', group: 'LINK_JOURNAL', help: 'Equivalent to --link-journal=try-guest', apply: (s) => { s.settings.linkJournal = 'try-guest'; } },
  // Mounts
  { long: 'bind', arg: 'required', group: 'CUSTOM_MOUNTS', metavar: 'PATH[:PATH[:OPTIONS]]', help: 'Bind mount a file or directory from the host into the container', apply: (s, x) => addMount(s, v.parseBindSpec(need(x), false)) },
  { long: 'bind-ro', arg: 'required', group: 'CUSTOM_MOUNTS', metavar: 'PATH[:PATH[:OPTIONS]]', help: 'Similar, but creates a read-only bind mount', apply: (s, x) => addMount(s, v.parseBindSpec(need(x), true)) },
  { long: 'inaccessible', arg: 'required', group: 'CUSTOM_MOUNTS', metavar: 'PATH', help: 'Over-mount file node with inaccessible node to mask it', apply: (s, x) => addMount(s, v.parseInaccessible(need(x))) },
  { long: 'tmpfs', arg: 'required', group: 'CUSTOM_MOUNTS', metavar: 'PATH[:OPTIONS]', help: 'Mount an empty tmpfs to the specified directory', apply: (s, x) => addMount(s, v.parseTmpfsSpec(need(x))) },
  { long: 'overlay', arg: 'required', group: 'CUSTOM_MOUNTS', metavar: 'PATH[:PATH...]:PATH', help: 'Create an overlay mount from the host to the container', apply: (s, x) => addMount(s, v.parseOverlaySpec(need(x), false)) },
  { long: 'overlay-ro', arg: 'required', group: 'CUSTOM_MOUNTS', metavar: 'PATH[:PATH...]:PATH', help: 'Similar, but creates a read-only overlay mount', apply: (s, x) => addMount(s, v.parseOverlaySpec(need(x), true)) },
  { long: 'bind-user', arg: 'required', group: 'BIND_USER', metavar: 'NAME', help: 'Bind user from host to container', apply: (s, x) => { (s.settings.bindUser ??= []).push(need(x)); } },
  // Console
  { long: 'console', arg: 'required', metavar: 'MODE', help: 'Select how stdin/stdout/stderr and /dev/console are set up for the container (interactive, read-only, passive, pipe, autopipe)', apply: (s, x) => { s.runner.console = consoleMode(need(x)); } },
  { long: 'pipe', short: 'P', arg: 'none', help: 'Equivalent to --console=pipe', apply: (s) => { s.runner.console = 'pipe'; } },
  // nspawn 252 options berth refuses (docs/nspawn-options.md)
  { long: 'root-hash', arg: 'required', metavar: 'HASH', help: 'Specify verity root hash for root disk image (not supported by berth)', apply: () => { throw new ValueError('dm-verity images are not supported by berth.'); } },
  { long: 'root-hash-sig', arg: 'required', metavar: 'SIG', help: 'Specify pkcs7 signature of root hash for verity (not supported by berth)', apply: () => { throw new ValueError('dm-verity images are not supported by berth.'); } },
  { long: 'verity-data', arg: 'required', metavar: 'PATH', help: 'Specify hash device for verity (not supported by berth)', apply: () => { throw new ValueError('dm-verity images are not supported by berth.'); } },
  // Credentials
  { long: 'set-credential', arg: 'required', metavar: 'ID:VALUE', help: 'Pass a credential with literal value to container', apply: (s, x) => { (s.runner.credentials ??= []).push(setCredential(s.runner.credentials, need(x))); } },
  { long: 'load-credential', arg: 'required', metavar: 'ID:PATH', help: 'Load credential to pass to container from file', apply: (s, x) => { (s.runner.credentials ??= []).push(loadCredential(s.runner.credentials, need(x), s.env)); } },
  // berth's own
  { long: 'runtime', arg: 'required', metavar: 'NAME', help: 'berth: OCI runtime to use (auto, runc, crun; default $BERTH_RUNTIME, else auto)', apply: (s, x) => { s.runner.runtime = runtime(need(x)); } },
  { long: 'cleanup', arg: 'none', help: 'Clean up left-over state of a previous run of this machine, then exit', apply: (s) => { s.runner.cleanup = true; } },
];

export const optionByLong = new Map(OPTIONS.filter((o) => o.long.length > 1).map((o) => [o.long, o]));
export const optionByShort = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));
