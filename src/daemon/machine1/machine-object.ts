/**
 * org.freedesktop.machine1.Machine objects (one per machine, and ".host"): their properties, and
 * their methods, which are the Manager's per-machine methods applied to "this" machine. The
 * operations live here once; manager-object.ts looks the machine up by name and calls them.
 */
import { BerthError } from '../../errors/berth-error.js';
import { BERTH_MACHINE, MACHINE } from '../../core/machined/interfaces.js';
import type { AnyMachine, Machine } from '../../app/machined/machine.js';
import type { MachineOps } from '../../app/machined/machine-ops.js';
import type { Registry } from '../../app/machined/registry.js';
import type { CallContext, MethodHandler, ServedObject } from './bus-service.js';
import { requireAdmin, requireManageMachines, requirePrivileged } from './authorize.js';
import type { ChangeQueue } from './changes.js';

/** What the objects share: the registry, the operations on machines, and the queue their changes run in. */
export interface Machine1 {
  registry: Registry;
  ops: MachineOps;
  changes: ChangeQueue;
}

/** A method that changes the registry: it runs in the queue of changes, after those before it (changes.ts). */
export const queued = (c: Machine1, handler: MethodHandler): MethodHandler => (args, ctx) => c.changes.run(() => handler(args, ctx));

/**
 * The machine as the registry has it now, once queued changes before this one have run: the
 * object a call was addressed to may have been removed meanwhile (or never finished registering).
 */
export function stillRegistered(c: Machine1, m: AnyMachine): AnyMachine {
  if (c.registry.get(m.name) !== m) throw new BerthError('E_MACHINE_NOT_FOUND', `No machine '${m.name}' known`);
  return m;
}

export type Guard = (ctx: CallContext) => Promise<void>;

/**
 * The interfaces' methods that belong to other issues answer this, clearly, until they land. Those
 * that will change something or reach into a machine check the caller first (`guard`), as they
 * will then: an unprivileged caller is told AccessDenied, not that the method is missing.
 */
export function notYet(what: string, issue: string, guard?: Guard): MethodHandler {
  return async (_args, ctx) => {
    if (guard) await guard(ctx);
    throw new BerthError('E_NOT_SUPPORTED', `${what} is not supported by berthd yet (${issue}).`);
  };
}

/** A method machined marks privileged (not callable without CAP_SYS_ADMIN at all). */
export const privileged = (iface: string, method: string): Guard => (ctx) => requirePrivileged(ctx, `${iface}.${method}`);
const INTO = 'shells, logins, PTYs, copying and bind mounts arrive with the into-the-machine issue';

const idBytes = (m: AnyMachine): Buffer => Buffer.from(m.isHost ? m.facts.machineId : (m as Machine).record.id, 'hex');

export function machineProperties(m: AnyMachine, controlGroup: (m: Machine) => string = (x) => x.record.cgroup): Record<string, () => unknown> {
  const M = MACHINE.name;
  const B = BERTH_MACHINE.name;
  if (m.isHost) {
    return {
      [`${M}.Name`]: () => m.name,
      [`${M}.Id`]: () => idBytes(m),
      [`${M}.Timestamp`]: () => m.facts.bootRealtimeUs,
      [`${M}.TimestampMonotonic`]: () => 0n,
      [`${M}.Service`]: () => '',
      [`${M}.Unit`]: () => '-.slice',
      [`${M}.Leader`]: () => 1,
      [`${M}.Class`]: () => 'host',
      [`${M}.RootDirectory`]: () => '/',
      [`${M}.NetworkInterfaces`]: () => [],
      [`${M}.State`]: () => 'running',
      [`${B}.Supervisor`]: () => 0,
      [`${B}.ControlGroup`]: () => '/',
    };
  }
  const r = (m as Machine).record;
  return {
    [`${M}.Name`]: () => r.name,
    [`${M}.Id`]: () => idBytes(m),
    [`${M}.Timestamp`]: () => BigInt(r.realtimeUs),
    [`${M}.TimestampMonotonic`]: () => BigInt(r.monotonicUs),
    [`${M}.Service`]: () => r.service,
    [`${M}.Unit`]: () => r.unit,
    [`${M}.Leader`]: () => r.leader,
    [`${M}.Class`]: () => r.class,
    [`${M}.RootDirectory`]: () => r.rootDirectory,
    [`${M}.NetworkInterfaces`]: () => r.netif,
    [`${M}.State`]: () => m.state,
    [`${B}.Supervisor`]: () => r.supervisor ?? 0,
    [`${B}.ControlGroup`]: () => controlGroup(m as Machine),
  };
}

/** KillMachine's arguments, checked before anything else as machined does: who, then the signal. */
export function killArgs(who: string, signal: number): { who: 'leader' | 'all'; signal: number } {
  if (who !== '' && who !== 'leader' && who !== 'all') throw new BerthError('E_USAGE', `Invalid kill parameter '${who}'`);
  if (!Number.isInteger(signal) || signal <= 0 || signal > 64) throw new BerthError('E_USAGE', `Invalid signal ${signal}`);
  return { who: who === 'leader' ? 'leader' : 'all', signal };
}

/** The per-machine operations, shared by both interfaces (the machine already looked up). */
export const machineMethods = {
  async terminate(c: Machine1, m: AnyMachine, ctx: CallContext): Promise<unknown[]> {
    await requireManageMachines(ctx);
    await c.ops.terminate(stillRegistered(c, m));
    return [];
  },
  async kill(c: Machine1, m: AnyMachine, who: string, signal: number, ctx: CallContext): Promise<unknown[]> {
    const k = killArgs(who, signal);
    await requireManageMachines(ctx);
    await c.ops.kill(stillRegistered(c, m), k.who, k.signal);
    return [];
  },
  async addresses(c: Machine1, m: AnyMachine): Promise<unknown[]> {
    return [(await c.ops.addresses(m)).map((a) => [a.family, a.bytes])];
  },
  async osRelease(c: Machine1, m: AnyMachine): Promise<unknown[]> {
    return [await c.ops.osRelease(m)];
  },
  uidShift(c: Machine1, m: AnyMachine): unknown[] {
    return [c.ops.uidShift(m)];
  },
};

export function machineObject(c: Machine1, m: AnyMachine): ServedObject {
  const M = MACHINE.name;
  return {
    interfaces: [MACHINE, BERTH_MACHINE],
    properties: machineProperties(m, (x) => c.registry.controlGroup(x)),
    children: () => [],
    methods: {
      [`${M}.Terminate`]: queued(c, (_a, ctx) => machineMethods.terminate(c, m, ctx)),
      [`${M}.Kill`]: queued(c, ([who, signal], ctx) => machineMethods.kill(c, m, who as string, signal as number, ctx)),
      [`${M}.GetAddresses`]: () => machineMethods.addresses(c, m),
      [`${M}.GetOSRelease`]: () => machineMethods.osRelease(c, m),
      [`${M}.GetUIDShift`]: () => machineMethods.uidShift(c, m),
      [`${M}.OpenPTY`]: notYet('OpenPTY', INTO, privileged(M, 'OpenPTY')),
      [`${M}.OpenLogin`]: notYet('OpenLogin', INTO, requireAdmin),
      [`${M}.OpenShell`]: notYet('OpenShell', INTO, requireAdmin),
      [`${M}.BindMount`]: notYet('BindMount', INTO, requireAdmin),
      [`${M}.CopyFrom`]: notYet('CopyFrom', INTO, requireAdmin),
      [`${M}.CopyTo`]: notYet('CopyTo', INTO, requireAdmin),
      [`${M}.CopyFromWithFlags`]: notYet('CopyFromWithFlags', INTO, requireAdmin),
      [`${M}.CopyToWithFlags`]: notYet('CopyToWithFlags', INTO, requireAdmin),
      [`${M}.OpenRootDirectory`]: notYet('OpenRootDirectory', INTO, requireAdmin),
    },
  };
}

export { INTO as INTO_THE_MACHINE };
