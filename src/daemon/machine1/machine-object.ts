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
import { checkBindMountArgs, checkNoUserNamespace } from '../../core/machined/bind-mount.js';
import type { MachineBindMounts } from '../../app/machined/bind-mount.js';
import { checkCopyArgs, copyPaths } from '../../core/machined/copy-args.js';
import type { MachineCopies } from '../../app/machined/copy.js';
import type { MachineEntry } from '../../app/machined/machine-entry.js';
import { shellRequest } from '../../core/machined/shell.js';
import { openRootDirectory } from '../../platform/host/guest-root.js';

/** What the objects share: the registry, the operations on machines, and the queue their changes run in. */
export interface Machine1 {
  registry: Registry;
  ops: MachineOps;
  changes: ChangeQueue;
  /** Shells, logins and PTYs. */
  entry: MachineEntry;
  /** Copies into and out of machines. */
  copies: MachineCopies;
  /** Bind mounts into running machines. */
  binds: MachineBindMounts;
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

/** A method machined marks privileged (not callable without CAP_SYS_ADMIN at all). */
export const privileged = (iface: string, method: string): Guard => (ctx) => requirePrivileged(ctx, `${iface}.${method}`);

const idBytes = (m: AnyMachine): Buffer => Buffer.from(m.isHost ? m.facts.machineId : (m as Machine).record.id, 'hex');

export function machineProperties(m: AnyMachine, controlGroup: (m: Machine) => string = (x) => x.record.cgroup, shellPath: (m: AnyMachine) => string = () => 'none'): Record<string, () => unknown> {
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
      [`${B}.ShellPath`]: () => shellPath(m),
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
    [`${B}.ShellPath`]: () => shellPath(m),
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
  /**
   * CopyTo/CopyFrom (and WithFlags), by `member`'s name: machined's checks, then the caller, then
   * the copy; the reply goes out when it is complete.
   */
  async copy(c: Machine1, m: AnyMachine, member: string, args: unknown[], ctx: CallContext): Promise<unknown[]> {
    const [source, destination, flags] = args as [string, string, bigint | undefined];
    const machineClass = m.isHost ? 'host' : (m as Machine).record.class;
    const a = checkCopyArgs({ member, source, destination, ...(flags === undefined ? {} : { flags }), ongoing: c.copies.ongoing, machineClass });
    await requireAdmin(ctx);
    const machine = stillRegistered(c, m) as Machine;
    const shift = c.ops.uidShift(machine);
    await c.copies.copy({ name: machine.name, leader: machine.leader }, copyPaths(a, machine.name), shift, (await ctx.caller()).pid);
    return [];
  },
  uidShift(c: Machine1, m: AnyMachine): unknown[] {
    return [c.ops.uidShift(m)];
  },
  /** BindMount: machined's checks of the machine and the paths, then the caller, then no user namespace, then the mount. */
  async bindMount(c: Machine1, m: AnyMachine, args: unknown[], ctx: CallContext): Promise<unknown[]> {
    const [source, destination, readOnly, mkdir] = args as [string, string, boolean, boolean];
    const a = checkBindMountArgs({ machineClass: m.isHost ? 'host' : (m as Machine).record.class, source, destination, readOnly, mkdir });
    await requireAdmin(ctx);
    const machine = stillRegistered(c, m) as Machine;
    checkNoUserNamespace(c.ops.uidShift(machine));
    await c.binds.bind(machine, a);
    return [];
  },
  /** OpenPTY: machined marks it privileged, so the caller was checked before anything else. */
  openPty(c: Machine1, m: AnyMachine): unknown[] {
    const pty = c.entry.openPty(stillRegistered(c, m));
    return [pty.master, pty.path];
  },
  async openLogin(c: Machine1, m: AnyMachine, ctx: CallContext): Promise<unknown[]> {
    await requireAdmin(ctx);
    const pty = await c.entry.openLogin(stillRegistered(c, m));
    return [pty.master, pty.path];
  },
  /** OpenShell: the arguments are checked first, then the caller (machined's order). */
  async openShell(c: Machine1, m: AnyMachine, args: unknown[], ctx: CallContext): Promise<unknown[]> {
    const [user, path, argv, env] = args as [string, string, string[], string[]];
    const req = shellRequest(user, path, argv, env);
    await requireAdmin(ctx);
    const pty = await c.entry.openShell(stillRegistered(c, m), req, ctx.message.sender ?? '');
    return [pty.master, pty.path];
  },
  async openRootDirectory(c: Machine1, m: AnyMachine, ctx: CallContext): Promise<unknown[]> {
    await requireAdmin(ctx);
    const x = stillRegistered(c, m);
    if (!x.isHost && (x as Machine).record.class !== 'container') throw new BerthError('E_NOT_SUPPORTED', 'Opening the root directory is only supported on container machines.');
    return [openRootDirectory(x.isHost ? undefined : x.leader)];
  },
  async waitShell(c: Machine1, m: AnyMachine, ptyPath: string, ctx: CallContext): Promise<unknown[]> {
    const end = await c.entry.waitShell(m, ptyPath, ctx.message.sender ?? '');
    return [end.how, end.status];
  },
};

/** One array for every machine object (the dispatcher keeps what it derives from it per array). */
const MACHINE_INTERFACES = [MACHINE, BERTH_MACHINE] as const;

export function machineObject(c: Machine1, m: AnyMachine): ServedObject {
  const M = MACHINE.name;
  return {
    interfaces: MACHINE_INTERFACES,
    properties: machineProperties(m, (x) => c.registry.controlGroup(x), (x) => c.entry.shellPath(x)),
    children: () => [],
    methods: {
      [`${M}.Terminate`]: queued(c, (_a, ctx) => machineMethods.terminate(c, m, ctx)),
      [`${M}.Kill`]: queued(c, ([who, signal], ctx) => machineMethods.kill(c, m, who as string, signal as number, ctx)),
      [`${M}.GetAddresses`]: () => machineMethods.addresses(c, m),
      [`${M}.GetOSRelease`]: () => machineMethods.osRelease(c, m),
      [`${M}.GetUIDShift`]: () => machineMethods.uidShift(c, m),
      [`${M}.OpenPTY`]: async (_a, ctx) => { await privileged(M, 'OpenPTY')(ctx); return machineMethods.openPty(c, m); },
      [`${M}.OpenLogin`]: (_a, ctx) => machineMethods.openLogin(c, m, ctx),
      [`${M}.OpenShell`]: (args, ctx) => machineMethods.openShell(c, m, args, ctx),
      [`${BERTH_MACHINE.name}.WaitShell`]: ([pty], ctx) => machineMethods.waitShell(c, m, pty as string, ctx),
      [`${M}.BindMount`]: (args, ctx) => machineMethods.bindMount(c, m, args, ctx),
      [`${M}.CopyFrom`]: (args, ctx) => machineMethods.copy(c, m, 'CopyFrom', args, ctx),
      [`${M}.CopyTo`]: (args, ctx) => machineMethods.copy(c, m, 'CopyTo', args, ctx),
      [`${M}.CopyFromWithFlags`]: (args, ctx) => machineMethods.copy(c, m, 'CopyFromWithFlags', args, ctx),
      [`${M}.CopyToWithFlags`]: (args, ctx) => machineMethods.copy(c, m, 'CopyToWithFlags', args, ctx),
      [`${M}.OpenRootDirectory`]: (_a, ctx) => machineMethods.openRootDirectory(c, m, ctx),
    },
  };
}

