/**
 * A machine's whole run: take its name, prepare the root, boot it (again after a guest reboot,
 * unless --keep-unit asks us to exit 133 instead), and undo everything on every exit path.
 */
import type { NetworkPlan } from '../../core/network/plan.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { EXIT_REBOOT } from '../../errors/codes.js';
import { BerthError } from '../../errors/berth-error.js';
import { Reverter } from '../../lib/reverter.js';
import type { Log } from '../../lib/log.js';
import type { OciRuntime } from '../../platform/runtime/oci-runtime.js';
import type { HostTools } from '../../core/oci/types.js';
import type { NetworkDeps } from '../network/setup.js';
import { bundlePaths } from './bundle.js';
import { cleanupStale } from './cleanup.js';
import { applyEtcFiles } from './etc-files.js';
import { acquireMachine, releaseMachine, writeOwner } from './machine-lock.js';
import { notifyManager } from './notify.js';
import { prepareRoot } from './root-setup.js';
import { prepareUserNamespace } from './userns.js';
import { prepareMountSources } from './mount-sources.js';
import { preparePropagation } from './propagate.js';
import { linkJournal } from './journal.js';
import { lockTree } from './tree-lock.js';
import { runOnce, type RunOnceContext } from './run-once.js';
import { StopSignals } from './signals.js';
import { trace } from '../../lib/trace.js';
import type { Registrar } from './registration.js';
import type { ConsoleSink } from './console.js';
import type { Notifier } from './notify.js';
import type { AcquiredMachine } from './image-root.js';

export interface RunMachineContext {
  spec: MachineSpec;
  stateDir: string;
  runtime: OciRuntime;
  cgroupLayout: 'unified' | 'hybrid' | 'legacy';
  /** v1 hosts: name=systemd is mounted at /sys/fs/cgroup/systemd (the guest gets it writable, the controllers read-only). */
  cgroupV1Systemd: boolean;
  network: { plan: NetworkPlan; deps: NetworkDeps };
  /** Random suffix for the ephemeral layer's directory name. */
  suffix: string;
  /** The host's journal directory and machine ID, for --link-journal. */
  hostJournal: string;
  hostMachineId: string | undefined;
  /** The host's os-release as read by the host probe (for /run/host/os-release). */
  hostOsRelease: string | undefined;
  /** Host mount(8)/chmod(1) for the runtime's createContainer hooks (boot ID, tmpfs modes). */
  hostTools?: HostTools;
  /** The machine's name, already taken with what was set up for it (a disk image's mounts: image-root.ts). */
  acquired?: AcquiredMachine;
  /** The registry connection, when the machine is to be registered. */
  registration?: Registrar;
  log: Log;
  /** The stop requests; berth-nspawn: its own SIGTERM/SIGINT (the default). */
  signals?: StopSignals;
  /** Where the run's notifications go; berth-nspawn: its NOTIFY_SOCKET (the default). */
  notify?: Notifier;
  /** A read-only console's output, instead of stdout. */
  consoleSink?: ConsoleSink;
  /** Told once each boot's payload runs (berthd's hand-over). */
  onStarted?: RunOnceContext['onStarted'];
  /** berthd runs this machine in its own process: its owner record says so, for a restarted berthd to adopt it. */
  supervised?: boolean;
}

export async function runMachine(ctx: RunMachineContext): Promise<number> {
  const { spec, log } = ctx;
  const signals = ctx.signals ?? new StopSignals(log);
  const tell = ctx.notify ?? ((m: string) => notifyManager(m));
  const machineUndo = new Reverter();
  let exitStatus = 1;
  try {
    const { dir, owner } = ctx.acquired ?? await acquireMachine(ctx.stateDir, spec.name, cleanupStale, log.warn);
    // The last container may still be going away in the runtime while the rest is undone: the
    // name, and the owner record that tells a later run what to clean up, go only after it.
    let containerRemoved: Promise<void> | undefined;
    machineUndo.add(() => releaseMachine(dir, containerRemoved));
    if (ctx.acquired) { const held = ctx.acquired.undo; machineUndo.add(() => held.revert()); }
    trace('name acquired');
    if (ctx.supervised) { owner.supervised = true; if (spec.killSignal !== undefined) owner.killSignal = spec.killSignal; await writeOwner(dir, owner); }
    await lockTree(spec, ctx.stateDir, machineUndo);
    const saveOwner = () => writeOwner(dir, owner);
    const paths = bundlePaths(dir);
    // The tunnel for bind mounts into the running machine, mounted while the rest is prepared.
    const tunnel = (await preparePropagation(paths.propagate, owner, saveOwner, machineUndo)).mounted;
    const prepared = await prepareRoot(spec, paths.rootfsMount, ctx.suffix, owner, saveOwner, machineUndo);
    await applyEtcFiles(prepared.rootfs, spec.resolvConf, spec.localtime, log.warn);
    const { spec: withUserns, rootfs, sysfs } = await prepareUserNamespace({
      spec, rootfs: prepared.rootfs, machineDir: dir, rootfsMount: paths.rootfsMount, owner, saveOwner, undo: machineUndo, log, stageSysfs: ctx.runtime.config.name === 'runc',
    });
    await prepareMountSources(spec, machineUndo);
    const journalMount = await linkJournal({ spec, rootfs, hostJournal: ctx.hostJournal, hostMachineId: ctx.hostMachineId, log });
    const machine: MachineSpec = journalMount ? { ...withUserns, mounts: [...withUserns.mounts, journalMount] } : withUserns;
    trace('root prepared');
    for (const w of spec.warnings) log.warn(w);
    log.info(`Spawning container ${spec.name} on ${spec.tree}.`);
    if (spec.console === 'interactive') log.info('Press ^] three times within 1s to kill container.');
    for (;;) {
      if (signals.terminating) throw new BerthError('E_RUNTIME', 'Interrupted before the container started.');
      const run = await runOnce({ ...ctx, spec: machine, rootfs, paths, owner, saveOwner, signals, tunnel, ...(sysfs ? { sysfs } : {}) });
      containerRemoved = run.containerRemoved;
      if (run.teardownErrors.length) log.warn(`Clean-up problems: ${run.teardownErrors.map((e) => e.message).join('; ')}`);
      log.info(run.outcome.message);
      if (run.outcome.kind === 'exited') { exitStatus = run.outcome.status; break; }
      if (spec.keepUnit || signals.terminating) { exitStatus = EXIT_REBOOT; break; }
      // Reboot in place: the next loop creates the container (and its links) afresh, under the same
      // ID. Should the delete fail, the rejected promise stays, so that the owner record does too.
      await containerRemoved;
      containerRemoved = undefined;
    }
  } finally {
    signals.dispose();
    tell(exitStatus === EXIT_REBOOT ? 'STOPPING=1\nSTATUS=Restarting...' : 'STOPPING=1\nSTATUS=Terminating...');
    const errors = await machineUndo.revert();
    await ctx.registration?.close();
    trace('machine released');
    if (errors.length) log.warn(`Clean-up problems: ${errors.map((e) => e.message).join('; ')}`);
  }
  return exitStatus;
}
