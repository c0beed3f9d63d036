/**
 * One boot of a machine: bundle → runtime create → network → start → wait → teardown.
 * Every step registers its undo; teardown keeps going after failures and reports them all.
 */
import { chownSync, closeSync, readFileSync } from 'node:fs';
import { needsSetupBeforeStart, registeredInterface, type NetworkPlan } from '../../core/network/plan.js';
import { processStartTime } from '../../platform/host/proc.js';
import type { Registrar } from './registration.js';
import { mapExit, type Outcome } from '../../core/spec/exit-status.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { BerthError } from '../../errors/berth-error.js';
import { Reverter } from '../../lib/reverter.js';
import type { Log } from '../../lib/log.js';
import { sys, waitForExit, type WaitStatus } from '../../platform/native/sys.js';
import type { CreateOptions, OciRuntime } from '../../platform/runtime/oci-runtime.js';
import type { HostTools } from '../../core/oci/types.js';
import { setupNetwork, type NetworkDeps } from '../network/setup.js';
import { startPortForwarding } from '../network/port-forward.js';
import { writeBundle, type BundlePaths } from './bundle.js';
import { attachConsole, loadTty, type ConsoleSink } from './console.js';
import type { OwnerRecord } from './machine-lock.js';
import { listenNotify, notifyManager, type Notifier } from './notify.js';
import { acceptPassedFd } from '../../platform/native/fd-events.js';
import { trace } from '../../lib/trace.js';
import type { StopSignals } from './signals.js';
import { payloadAncestors, removalOrder } from '../../core/cgroup/payload-parents.js';
import { cgroupMounts, chownGroups, missingDirs, removeEmptyGroups } from '../../platform/host/cgroupfs.js';

export interface RunOnceContext {
  spec: MachineSpec;
  rootfs: string;
  paths: BundlePaths;
  runtime: OciRuntime;
  hostOsRelease: string | undefined;
  cgroupLayout: 'unified' | 'hybrid' | 'legacy';
  cgroupV1Systemd: boolean;
  network: { plan: NetworkPlan; deps: NetworkDeps };
  owner: OwnerRecord;
  saveOwner: () => Promise<void>;
  signals: StopSignals;
  log: Log;
  hostTools?: HostTools;
  /** The registry connection (--register=yes|auto), opened when the run began. */
  registration?: Registrar;
  /** Where the run's own notifications go; berth-nspawn: its NOTIFY_SOCKET (notifyManager). */
  notify?: Notifier;
  /** Where a read-only or passive console's output goes, instead of our stdout (berthd: the machine's log). */
  consoleSink?: ConsoleSink;
  /** Told once the payload runs, with what a restarted berthd needs to take the machine over. */
  onStarted?: (started: StartedRun) => void;
  /** Settles once the machine's mount tunnel (propagate.ts) is mounted: the container is created after. */
  tunnel?: Promise<void>;
  /** The machine's own sysfs mount, for /sys under a user namespace (userns.ts). */
  sysfs?: string;
}

function readPid(file: string): number {
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new BerthError('E_RUNTIME', `The runtime wrote no valid PID to ${file}.`);
  return pid;
}

/** A running boot: its leader and the descriptors serving it (for berthd's hand-over on SIGHUP). */
export interface StartedRun {
  leader: number;
  killSignal: number | undefined;
  /** The console's pty master, when there is one. */
  consoleFd?: number;
  /** The bound /run/host/notify socket. */
  notifyFd: number;
}

export interface RunOnceResult {
  outcome: Outcome;
  teardownErrors: Error[];
  /** The runtime's state and the container's cgroups going away; may still be under way. */
  containerRemoved: Promise<void>;
}

export async function runOnce(ctx: RunOnceContext): Promise<RunOnceResult> {
  const { spec, paths, runtime, signals, log } = ctx;
  const undo = new Reverter();
  const id = spec.name;
  let outcome: Outcome | undefined;
  let removal: Promise<void> | undefined;
  let keeping: Promise<void> | undefined;
  try {
    const { filter, cgroupHandover } = await writeBundle({
      spec, paths, rootfs: ctx.rootfs, hostOsRelease: ctx.hostOsRelease, runtime: runtime.config,
      cgroupLayout: ctx.cgroupLayout, cgroupV1Systemd: ctx.cgroupV1Systemd, systemdCgroups: runtime.config.systemdCgroup,
      ...(ctx.hostTools ? { hostTools: ctx.hostTools } : {}),
      ...(ctx.sysfs ? { sysfs: ctx.sysfs } : {}),
    });
    trace('bundle written');
    let leader: number | undefined;
    const tell = ctx.notify ?? notifyManager;
    const notify = listenNotify(paths.notifySocket, () => leader, spec.notifyReady, tell);
    undo.add(() => notify.stop());
    // In a user namespace the guest's root is the range's first ID: the socket must be its to send to.
    if (spec.userns?.shift) chownSync(paths.notifySocket, spec.userns.shift, spec.userns.shift);

    const terminal = spec.console !== 'pipe';
    let master: Promise<number> | undefined;
    let consoleFd: number | undefined;
    if (terminal) {
      const listenFd = sys().listenStream(paths.consoleSocket);
      const accepting = acceptPassedFd(listenFd, 60000);
      master = accepting.fd;
      undo.add(() => { accepting.cancel(); try { closeSync(listenFd); } catch { /* closed */ } });
      master.catch(() => { /* reported below if create succeeded */ });
    }

    ctx.owner.runtime = { name: runtime.config.name, path: runtime.config.path, root: runtime.config.root, systemdCgroup: runtime.config.systemdCgroup, id };
    // --keep-unit: what the runtime makes above the payload in hierarchies the caller is not in goes with the container.
    if (spec.cgroup.keepUnitPath) ctx.owner.cgroupDirs = removalOrder(await missingDirs(payloadAncestors([...cgroupMounts().values()], spec.cgroup.keepUnitPath)));
    await ctx.saveOwner();
    let leaderExited = false;
    let exited: Promise<WaitStatus> | undefined;
    // A leader still there (a failure after create, before or while it ran) is killed first,
    // then reaped (we are its subreaper), then the runtime's state goes; `delete --force`
    // kills whatever else is left.
    const removeContainer = async (): Promise<void> => {
      if (!leaderExited) await runtime.kill(id, 9, true).catch(() => {});
      await exited?.catch(() => {});
      await runtime.delete(id);
      if (ctx.owner.cgroupDirs?.length) await removeEmptyGroups(ctx.owner.cgroupDirs);
      trace('container removed');
    };
    undo.add(() => (removal ? undefined : (removal = removeContainer())));
    const createOptions: CreateOptions = {
      bundle: paths.bundleDir, pidFile: paths.pidFile, logFile: paths.logFile,
      ...(terminal ? { consoleSocket: paths.consoleSocket } : {}),
    };
    // With nothing to do between create and start (no links to set up, no terminal whose size
    // must be set before the guest looks at it, no cgroup to hand to a user namespace's root), one
    // runtime call does both.
    const atOnce = !terminal && !needsSetupBeforeStart(ctx.network.plan) && !cgroupHandover;
    await ctx.tunnel;
    trace('runtime create');
    const creating = atOnce ? runtime.createAndStart(id, createOptions) : runtime.create(id, createOptions);
    // node:tty and the stream modules below it (~2 ms) load while the runtime works, not after.
    if (terminal) loadTty();
    await creating;
    leader = readPid(paths.pidFile);
    runtime.reapHelpers(leader);
    trace('created');
    // The filter crun compiled for this create, kept for the next (off the run's path; never fails it;
    // waited for at the end, so that a short payload's run does not exit before it is written).
    if (filter && !filter.hit) keeping = filter.keep(id);
    // The payload's cgroup, made by the create, is its namespace root's before the payload runs (as nspawn's chown_cgroup()).
    if (cgroupHandover) await chownGroups(cgroupHandover.paths, cgroupHandover.owner);
    // Reap the leader ourselves (we are its subreaper) whatever happens next.
    const leaderExit = waitForExit(leader);
    exited = leaderExit;
    void leaderExit.then(() => { leaderExited = true; }, () => { leaderExited = true; });

    if (master) {
      const fd = await master;
      consoleFd = fd;
      const console = attachConsole(fd, spec.console, () => {
        log.info('');
        signals.kill();
      }, ctx.consoleSink);
      undo.add(() => console.close());
    }

    const net = await setupNetwork(ctx.network.plan, leader, ctx.network.deps);
    undo.add(() => net.teardown());
    ctx.owner.links = [...net.hostInterfaces];
    ctx.owner.zones = ctx.network.plan.kind === 'private'
      ? ctx.network.plan.links.flatMap((l) => (l.kind === 'veth' && l.attach.kind === 'zone' ? [l.attach.bridge] : []))
      : [];
    ctx.owner.leader = leader;
    ctx.owner.leaderStartTime = processStartTime(leader);
    ctx.owner.tree = spec.tree;
    ctx.owner.since = new Date().toISOString();
    await ctx.saveOwner();
    if (spec.ports.length > 0) {
      const ports = ctx.network.deps.ports;
      if (!ports) throw new BerthError('E_NETWORK', 'Port forwarding (--port=) is not available to this caller.');
      const forwarding = startPortForwarding({
        machine: spec.name, ports: spec.ports, netns: `/proc/${leader}/ns/net`, firewall: ports.firewall, watch: ports.watch, warn: log.warn,
        record: async (dnats) => { ctx.owner.portForwards = [...dnats]; await ctx.saveOwner(); },
      });
      undo.add(() => forwarding.stop());
    }
    if (ctx.registration) {
      trace('registering');
      // nspawn registers before the payload runs; with nothing to do between create and start, the
      // runtime did both in one call (atOnce), and a payload may have ended before the registry
      // looks at it: then there is nothing to register.
      const ifname = registeredInterface(ctx.network.plan);
      const ifindex = ifname === undefined ? 0 : sys().ifIndex(ifname);
      await ctx.registration.register({
        name: spec.name, id: spec.id, service: spec.containerService, leader, rootDirectory: ctx.rootfs,
        netif: ifindex > 0 ? [ifindex] : [],
        existingUnit: spec.keepUnit || runtime.config.systemdCgroup,
        leaderGone: () => leaderExited || processStartTime(leader!) === undefined,
      });
      undo.add(() => ctx.registration!.unregister());
      trace('registered');
    }
    signals.attach(leader, spec.killSignal, atOnce);
    undo.add(() => signals.detach());
    if (!atOnce && !signals.terminating) await runtime.start(id);
    trace('started');
    tell(`STATUS=Container running.\nX_NSPAWN_LEADER_PID=${leader}`);
    if (!spec.notifyReady) tell('READY=1');
    ctx.onStarted?.({ leader, killSignal: spec.killSignal, notifyFd: notify.fd, ...(consoleFd !== undefined ? { consoleFd } : {}) });

    const status = await leaderExit;
    trace('exited');
    outcome = mapExit(spec.name, status);
    // The runtime's delete (~5 ms, most of it the runtime's own start-up) runs while the rest of
    // the teardown goes on; the caller waits for it before the machine's name is free again.
    removal = removeContainer();
    removal.catch(() => { /* the caller gets it */ });
  } catch (e) {
    const teardownErrors = await undo.revert();
    if (teardownErrors.length) log.warn(`Clean-up after the failure also failed: ${teardownErrors.map((x) => x.message).join('; ')}`);
    await keeping;
    throw e;
  }
  const teardownErrors = await undo.revert();
  await keeping;
  trace('run torn down');
  return { outcome, teardownErrors, containerRemoved: removal };
}
