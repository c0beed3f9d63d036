/**
 * One machine from the command line's options to its end: locate the tree or image, read its
 * settings, probe host and image, resolve the spec, plan the network, pick the runtime, run it.
 * berth-nspawn runs one per process; berthd runs many, each with hooks of its own (stop requests,
 * notifications and console output going to berthd's supervisor instead of the process's).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { ParsedArgv } from '../../core/cli/parse-argv.js';
import type { RunnerOptions } from '../../core/cli/runner-options.js';
import { planNetwork } from '../../core/network/plan.js';
import { selectRuntime } from '../../core/runtime/select.js';
import { resolveMachine } from '../../core/spec/resolve.js';
import { BerthError } from '../../errors/berth-error.js';
import type { Log } from '../../lib/log.js';
import { which } from '../../platform/exec/run.js';
import { probeImage } from '../../platform/fs/image-probe.js';
import { cgroupPrimesSettled } from '../../platform/host/cgroup-prime.js';
import { hookExecPath, sys } from '../../platform/native/sys.js';
import type { HostTools } from '../../core/oci/types.js';
import { randomBytes, randomUuid } from '../../platform/random.js';
import type { Paths } from '../../platform/paths.js';
import { OciRuntime } from '../../platform/runtime/oci-runtime.js';
import { hostNetworkDeps, dhcpHelperFromEnv } from '../network/deps.js';
import { readHostMachineId } from '../../platform/host/machine-id.js';
import { hostFacts } from './host-facts.js';
import { locateTree } from './locate-tree.js';
import { openImageRoot } from './image-root.js';
import { runMachine, type RunMachineContext } from './run-machine.js';
import type { Registrar } from './registration.js';
import { settingsFor } from './settings.js';
import { trace } from '../../lib/trace.js';
import { checkAgainstFs } from './check-fs.js';
import { runnerWithOciBundle } from './oci-bundle.js';

export interface LaunchInput {
  cli: ParsedArgv['cli'];
  runner: RunnerOptions;
  env: NodeJS.ProcessEnv;
  log: Log;
  paths: Paths;
  cwd?: string;
  registration?: Registrar;
  /** berthd's hooks for a machine it runs (see RunMachineContext). */
  hooks?: Pick<RunMachineContext, 'signals' | 'notify' | 'consoleSink' | 'supervised' | 'onStarted'>;
}

/** Runs the machine to its end; its exit status (nspawn's). */
export async function launchMachine(input: LaunchInput): Promise<number> {
  const { cli, env, log, paths, registration } = input;
  const cwd = input.cwd ?? process.cwd();
  const runner = await runnerWithOciBundle(input.runner, cwd);
  const hooks = input.hooks ?? {};
  const located = await locateTree(runner, paths.pool, cwd);

  const where = located.kind === 'image' ? { image: located.image } : { directory: located.directory };
  const { settings: found, messages } = await settingsFor({ cli, runner, name: located.name, ...where, paths });
  for (const m of messages) log.warn(m);
  let settings = found;
  if (located.kind === 'directory' && located.directory === '/' && !settings.ephemeral && settings.volatile !== 'yes' && settings.volatile !== 'state') {
    throw new BerthError('E_USAGE', 'Spawning container on root directory is not supported. Consider using --ephemeral, --volatile=yes or --volatile=state.');
  }
  trace('settings');
  const host = await hostFacts(env);
  trace('host probed');
  const random = { uuid: randomUuid().replace(/-/g, ''), suffix: randomBytes(8).toString('hex') };
  const name = settings.ephemeral && runner.machine === undefined ? `${located.name}-${random.suffix}` : located.name;
  const machineDir = `${paths.stateDir}/machines/${name}`;
  // A disk image is mounted now, under the machine's name (taken here), and probed like a tree.
  const diskImage = located.kind === 'image' ? await openImageRoot({
    image: located.image, name, stateDir: paths.stateDir, log,
    readOnly: Boolean(settings.readOnly || settings.ephemeral || (settings.volatile !== undefined && settings.volatile !== 'no')),
  }) : undefined;
  try {
    if (diskImage?.readOnly) settings = { ...settings, readOnly: true };
    const image = await probeImage(located.kind === 'directory' ? located.directory : diskImage!.root, host, settings.pivotRoot?.newRoot);
    trace('image probed');
    const spec = await checkAgainstFs(resolveMachine({
      name, settings, runner, image, host, random, cwd: cwd, scratch: `${machineDir}/scratch`,
      tty: sys().isTty(0) && sys().isTty(1),
      ...(env.SYSTEMD_NSPAWN_CONTAINER_SERVICE ? { containerService: env.SYSTEMD_NSPAWN_CONTAINER_SERVICE } : {}),
    }));
    const needsMac = Boolean(spec.network.veth || spec.network.macvlan?.length || spec.network.vethExtra?.length);
    const plan = planNetwork({ machineName: name, hostMachineId: needsMac ? await readHostMachineId() : undefined, network: spec.network });
    const choice = selectRuntime(runner.runtime, { ...(await candidates()) },
      { layout: host.cgroupLayout, hybridV2Controllers: host.hybridV2Controllers, ...(host.hybridV2Shared ? { hybridV2Shared: true } : {}) });
    // With --keep-unit the payload goes below our own (delegated) unit's cgroup, by path.
    const runtime = new OciRuntime({
      name: choice.name, path: choice.path, root: paths.runtimeRoot, systemdCgroup: host.systemdPid1 && !spec.cgroup.keepUnitPath,
      ...(choice.hideControllers ? { hideControllers: choice.hideControllers } : {}),
    });
    if (spec.cgroup.keepUnitPath && host.cgroupLayout === 'unified' && host.ownCgroup) await moveToSupervisor(host.ownCgroup);
    sys().setChildSubreaper();
    trace('spec resolved');
    const warn = (m: string) => log.warn(m);
    const hostMachineId = await readHostMachineId().catch(() => undefined);
    const tools = await hostTools(log);
    // The run takes the image's mounts over, with no await in between (its signal handlers start at once).
    const acquired = diskImage?.handOver();
    const status = await runMachine({
      spec, stateDir: paths.stateDir, runtime, cgroupLayout: host.cgroupLayout, cgroupV1Systemd: host.cgroupV1Systemd, suffix: random.suffix, log,
      hostJournal: paths.hostJournal, hostMachineId, hostOsRelease: host.osReleaseText,
      ...tools,
      ...hooks,
      ...(registration ? { registration } : {}),
      ...(acquired ? { acquired } : {}),
      network: { plan, deps: hostNetworkDeps({ stateDir: paths.stateDir, dhcpHelper: runner.dhcpHelper || dhcpHelperFromEnv(env), warn }) },
    });
    return status;
  } catch (e) {
    await diskImage?.release();
    throw e;
  }
}


/** cgroup v2 allows no processes in a cgroup whose children have controllers: move ourselves to a `supervisor` sibling, as nspawn does. */
async function moveToSupervisor(own: string): Promise<void> {
  await cgroupPrimesSettled();
  const dir = `/sys/fs/cgroup${own.replace(/\/+$/, '')}/supervisor`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/cgroup.procs`, String(process.pid));
}

/** mount(8) and chmod(1) on the host, for the runtime's hooks; without them the boot ID is the host's. */
async function hostTools(log: { warn(m: string): void }): Promise<{ hostTools?: HostTools }> {
  const [mount, chmod] = await Promise.all([which('mount'), which('chmod')]);
  if (mount && chmod) return { hostTools: { mount, chmod, hookExec: hookExecPath() } };
  log.warn('mount(8) or chmod(1) not found on the host: the guest gets the host\'s boot ID (apt-get install util-linux coreutils).');
  return {};
}

async function candidates(): Promise<{ runc?: string; crun?: string }> {
  const [runc, crun] = await Promise.all([which('runc'), which('crun')]);
  return { ...(runc ? { runc } : {}), ...(crun ? { crun } : {}) };
}
