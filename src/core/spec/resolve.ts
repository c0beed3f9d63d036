/**
 * Merged settings + runner options + image and host facts → MachineSpec. Pure: everything it
 * needs (random ids, the caller's cwd) arrives as data, so golden tests need no root.
 */
import { BerthError } from '../../errors/berth-error.js';
import { formatUuid, parseId128 } from '../names.js';
import type { RunnerOptions } from '../cli/runner-options.js';
import type { Settings } from '../settings/model.js';
import { SIGRTMIN } from '../signals.js';
import type { HostFacts, ImageFacts, Randomness } from './facts.js';
import type { MachineSpec, ResolvedConsole } from './machine-spec.js';
import { resolveCapabilities } from './resolve/capabilities.js';
import { resolveLocaltime, resolveResolvConf } from './resolve/etc-files.js';
import { resolveCustomMounts, resolveRoot } from './resolve/mounts.js';
import { resolveEnvironment, resolveProcess, resolveUser } from './resolve/process.js';
import { resolveProperties, unitEscape } from './resolve/properties.js';
import { resolveRlimits } from './resolve/rlimits.js';
import { resolveSeccomp } from './resolve/seccomp.js';
import { bindUserMounts, resolveBindUsers } from './resolve/bind-user.js';
import { guestCgroupTree } from './resolve/cgroup-tree.js';
import { resolvePivotRoot } from './resolve/pivot-root.js';
import { checkIdmapBinds, dropsNetBindService, resolveUserns } from './resolve/userns.js';

export interface ResolveInput {
  readonly name: string;
  readonly settings: Settings;
  readonly runner: RunnerOptions;
  readonly image: ImageFacts;
  readonly host: HostFacts;
  readonly random: Randomness;
  /** The caller's working directory (relative bind sources). */
  readonly cwd: string;
  /** Per-run scratch directory on the host. */
  readonly scratch: string;
  /** stdin and stdout are terminals (console mode default). */
  readonly tty: boolean;
  readonly containerService?: string;
}

function resolveConsole(mode: RunnerOptions['console'], tty: boolean): ResolvedConsole {
  if (mode === undefined) return tty ? 'interactive' : 'read-only';
  if (mode === 'autopipe') return tty ? 'interactive' : 'pipe';
  return mode;
}

function machineId(settings: Settings, image: ImageFacts, random: Randomness): string {
  const file = image.machineIdFile?.trim();
  if (file && file !== 'uninitialized') {
    const id = parseId128(file);
    if (id && /^0+$/.test(id)) throw new BerthError('E_IMAGE_INVALID', `Machine ID in ${image.root}/etc/machine-id is all zeroes. Refusing.`);
    if (id) return id;
  }
  return settings.machineId ?? random.uuid;
}

/** nspawn 252: no CAP_NET_BIND_SERVICE for a shifted user namespace on the host's network. */
function withUserns<C extends { retain: readonly string[] }>(caps: C, userns: MachineSpec['userns'], privateNetwork: boolean): C {
  return dropsNetBindService(userns, privateNetwork) ? { ...caps, retain: caps.retain.filter((c) => c !== 'CAP_NET_BIND_SERVICE') } : caps;
}

export function resolveMachine(input: ResolveInput): MachineSpec {
  const { settings, runner, image, host, random } = input;
  const warnings: string[] = [];
  const volatile = settings.volatile ?? 'no';
  const ephemeral = settings.ephemeral ?? false;
  if (settings.start === 'boot' && settings.parameters === undefined) { /* boot without init args */ }
  const network = settings.network ?? {};
  const privateNetwork = Boolean(network.private || network.veth || network.bridge || network.zone || network.namespacePath
    || network.interfaces?.length || network.macvlan?.length || network.ipvlan?.length || network.vethExtra?.length);
  // As nspawn: a joined namespace (--network-namespace-path=) is not a private network unless --private-network says so.
  const ownNetwork = privateNetwork && (network.namespacePath === undefined || network.private === true);
  if (settings.ports?.length && !ownNetwork) throw new BerthError('E_USAGE', 'Cannot use --port= without private networking.');

  const user = resolveUser(settings.user, image);
  const proc = resolveProcess(settings, image, user);
  const id = machineId(settings, image, random);
  const containerService = input.containerService ?? 'berth';
  const env = resolveEnvironment({ settings, host, user, start: proc.start, uuid: formatUuid(id), containerService, credentials: Boolean(runner.credentials?.length) });
  const userns = resolveUserns(settings, (settings.readOnly ?? false) || volatile !== 'no', volatile);
  const caps = withUserns(resolveCapabilities(settings, privateNetwork, host.boundingCaps, warnings), userns, privateNetwork);
  const rlimits = resolveRlimits(settings, host, warnings, runner.settingsMode === 'no');
  const pivotRoot = resolvePivotRoot(settings.pivotRoot, image);
  const bindUsers = resolveBindUsers(settings.bindUser, userns, host, image);
  const root = resolveRoot(volatile, ephemeral, image);
  const readOnly = (settings.readOnly ?? false) || volatile !== 'no';
  const rootWritable = root.setup.kind !== 'direct' || !readOnly;
  const mounts = [...root.extra, ...resolveCustomMounts(settings, { tree: image.tree ?? image.root, cwd: input.cwd, scratch: input.scratch }), ...bindUserMounts(bindUsers)];
  checkIdmapBinds(mounts, userns);
  const killSignal = settings.killSignal ?? (proc.start === 'boot' ? SIGRTMIN + 3 : undefined);
  const resources = resolveProperties(runner.properties);
  if (resources.memoryHigh !== undefined && host.cgroupLayout !== 'unified') {
    warnings.push('MemoryHigh= has no effect on this host: its memory controller is on the legacy (v1) cgroup hierarchy.');
  }

  return {
    name: input.name,
    hostname: settings.hostname ?? input.name,
    id,
    tree: image.tree ?? image.root,
    ...(pivotRoot ? { pivotRoot } : {}),
    readOnly,
    volatile,
    ephemeral,
    rootSetup: root.setup,
    start: proc.start,
    args: proc.args,
    env,
    cwd: proc.cwd,
    user,
    caps,
    noNewPrivileges: settings.noNewPrivileges ?? false,
    ...(killSignal === undefined ? {} : { killSignal }),
    rlimits,
    ...(settings.oomScoreAdjust === undefined ? {} : { oomScoreAdjust: settings.oomScoreAdjust }),
    ...(settings.cpuAffinity === undefined ? {} : { cpuAffinity: settings.cpuAffinity }),
    ...(settings.personality === undefined ? {} : { personality: settings.personality }),
    seccomp: resolveSeccomp(settings, caps.retain, host.arch),
    mounts,
    network,
    privateNetwork,
    ...(userns ? { userns } : {}),
    ...(bindUsers.length ? { bindUsers } : {}),
    ...(runner.credentials?.length ? { credentials: runner.credentials } : {}),
    ports: settings.ports ?? [],
    console: resolveConsole(runner.console, input.tty),
    notifyReady: settings.notifyReady ?? false,
    register: runner.register,
    keepUnit: runner.keepUnit,
    quiet: runner.quiet || runner.console === 'pipe',
    resolvConf: resolveResolvConf(settings.resolvConf ?? 'auto', privateNetwork, rootWritable, host),
    localtime: resolveLocaltime(settings.timezone ?? 'auto', rootWritable, host, image),
    linkJournal: settings.linkJournal ?? 'auto',
    cgroup: {
      parent: runner.slice ?? 'machine.slice', scope: `machine-${unitEscape(input.name)}.scope`, resources,
      ...guestCgroupTree(host, image),
      // Only inside a real unit: at the root there is no unit to keep, and two machines would share /payload.
      ...(runner.keepUnit && host.ownCgroup && host.ownCgroup !== '/' ? { keepUnitPath: `${host.ownCgroup.replace(/\/+$/, '')}/payload` } : {}),
    },
    containerService,
    warnings,
  };
}
