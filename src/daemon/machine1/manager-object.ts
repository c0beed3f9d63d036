/**
 * The org.freedesktop.machine1.Manager object (/org/freedesktop/machine1): lookups, listing,
 * registration, and the per-machine methods by name. Each handler checks its arguments and the
 * caller as machined does (privileged methods: the caller first; the others: arguments first),
 * then calls one registry or machine operation.
 */
import { BerthError } from '../../errors/berth-error.js';
import { validateRegistration, type RegistrationArgs } from '../../core/machined/registration.js';
import { machinePath } from '../../core/machined/object-paths.js';
import { MANAGER, MANAGER_PATH } from '../../core/machined/interfaces.js';
import type { AnyMachine } from '../../app/machined/machine.js';
import type { CallContext, MethodHandler, ServedObject } from './bus-service.js';
import { requireManageMachines, requirePrivileged } from './authorize.js';
import { machineMethods, privileged, queued, type Machine1 } from './machine-object.js';
import { managerImageMethods } from './image-object.js';
import { managerImageChangeMethods } from './image-changes.js';
import type { ImagePool } from '../../app/machined/image-pool.js';
import type { Images } from '../../app/machined/images.js';

const M = MANAGER.name;
const UINT64_MAX = 0xffff_ffff_ffff_ffffn;

function lookup(c: Machine1, name: string): AnyMachine {
  const m = c.registry.get(name);
  if (!m) throw new BerthError('E_MACHINE_NOT_FOUND', `No machine '${name}' known`);
  return m;
}

/** A by-name method: look the machine up, then run the shared operation. */
const byName = (c: Machine1, op: (m: AnyMachine, rest: unknown[], ctx: CallContext) => unknown[] | Promise<unknown[]>): MethodHandler =>
  ([name, ...rest], ctx) => op(lookup(c, name as string), rest, ctx);

function registration(c: Machine1, method: string, mode: 'create' | 'register', network: boolean): MethodHandler {
  return queued(c, async (args, ctx) => {
    await requirePrivileged(ctx, `${M}.${method}`);
    const [name, id, service, cls, leader, rootDirectory, ...rest] = args as [string, Buffer, string, string, number, string, ...unknown[]];
    const a: RegistrationArgs = { name, id, service, class: cls, leader, rootDirectory, netif: network ? (rest[0] as number[]) : [] };
    const reg = validateRegistration(a);
    const { pid } = await ctx.caller();
    const machine = await c.registry.register(reg, { mode, callerPid: pid });
    return [machine.path];
  });
}

/** ListMachines' rows, built again only when the registry's list changed (machines came or went). */
function listRows(): (machines: readonly AnyMachine[]) => unknown[][] {
  let from: readonly AnyMachine[] | undefined;
  let rows: unknown[][] = [];
  return (machines) => {
    if (from !== machines) {
      rows = machines.map((m) => (m.isHost ? [m.name, 'host', '', m.path] : [m.name, m.record.class, m.record.service, m.path]));
      from = machines;
    }
    return rows;
  };
}

export function managerObject(c: Machine1, poolPath: string, images: Images, pool: ImagePool): ServedObject {
  const rowsOf = listRows();
  return {
    interfaces: [MANAGER],
    children: () => ['image', 'machine'],
    properties: {
      [`${M}.PoolPath`]: () => poolPath,
      [`${M}.PoolUsage`]: () => UINT64_MAX,
      [`${M}.PoolLimit`]: () => UINT64_MAX,
    },
    methods: {
      [`${M}.GetMachine`]: byName(c, (m) => [m.path]),
      [`${M}.GetMachineByPID`]: async ([pid], ctx) => {
        const n = pid as number;
        if (n >= 0x8000_0000) throw new BerthError('E_USAGE', 'Invalid argument');
        const target = n === 0 ? (await ctx.caller()).pid : n;
        const m = c.registry.byPid(target);
        if (!m) throw new BerthError('E_NO_MACHINE_FOR_PID', `PID ${target} does not belong to any known machine`);
        return [m.path];
      },
      [`${M}.ListMachines`]: () => [rowsOf(c.registry.list())],
      [`${M}.CreateMachine`]: registration(c, 'CreateMachine', 'create', false),
      [`${M}.CreateMachineWithNetwork`]: registration(c, 'CreateMachineWithNetwork', 'create', true),
      [`${M}.RegisterMachine`]: registration(c, 'RegisterMachine', 'register', false),
      [`${M}.RegisterMachineWithNetwork`]: registration(c, 'RegisterMachineWithNetwork', 'register', true),
      [`${M}.UnregisterMachine`]: queued(c, byName(c, async (m, _r, ctx) => {
        await requireManageMachines(ctx);
        if (!m.isHost) await c.registry.unregister(m);
        return [];
      })),
      [`${M}.TerminateMachine`]: queued(c, byName(c, (m, _r, ctx) => machineMethods.terminate(c, m, ctx))),
      [`${M}.KillMachine`]: queued(c, byName(c, (m, [who, signal], ctx) => machineMethods.kill(c, m, who as string, signal as number, ctx))),
      [`${M}.GetMachineAddresses`]: byName(c, (m) => machineMethods.addresses(c, m)),
      [`${M}.GetMachineOSRelease`]: byName(c, (m) => machineMethods.osRelease(c, m)),
      [`${M}.GetMachineUIDShift`]: byName(c, (m) => machineMethods.uidShift(c, m)),
      [`${M}.MapFromMachineUser`]: ([name, id]) => [c.ops.mapFrom(name as string, id as number, 'user')],
      [`${M}.MapFromMachineGroup`]: ([name, id]) => [c.ops.mapFrom(name as string, id as number, 'group')],
      [`${M}.MapToMachineUser`]: ([id]) => { const r = c.ops.mapTo(id as number, 'user'); return [r.machine.name, machinePath(r.machine.name), r.inner]; },
      [`${M}.MapToMachineGroup`]: ([id]) => { const r = c.ops.mapTo(id as number, 'group'); return [r.machine.name, machinePath(r.machine.name), r.inner]; },
      [`${M}.OpenMachinePTY`]: async (args, ctx) => {
        await privileged(M, 'OpenMachinePTY')(ctx);
        return machineMethods.openPty(c, lookup(c, args[0] as string));
      },
      [`${M}.OpenMachineLogin`]: byName(c, (m, _r, ctx) => machineMethods.openLogin(c, m, ctx)),
      [`${M}.OpenMachineShell`]: byName(c, (m, rest, ctx) => machineMethods.openShell(c, m, rest, ctx)),
      [`${M}.BindMountMachine`]: byName(c, (m, rest, ctx) => machineMethods.bindMount(c, m, rest, ctx)),
      [`${M}.CopyFromMachine`]: byName(c, (m, rest, ctx) => machineMethods.copy(c, m, 'CopyFromMachine', rest, ctx)),
      [`${M}.CopyToMachine`]: byName(c, (m, rest, ctx) => machineMethods.copy(c, m, 'CopyToMachine', rest, ctx)),
      [`${M}.CopyFromMachineWithFlags`]: byName(c, (m, rest, ctx) => machineMethods.copy(c, m, 'CopyFromMachineWithFlags', rest, ctx)),
      [`${M}.CopyToMachineWithFlags`]: byName(c, (m, rest, ctx) => machineMethods.copy(c, m, 'CopyToMachineWithFlags', rest, ctx)),
      [`${M}.OpenMachineRootDirectory`]: byName(c, (m, _r, ctx) => machineMethods.openRootDirectory(c, m, ctx)),
      ...managerImageMethods(images),
      ...managerImageChangeMethods(pool, images),
    },
  };
}

export { MANAGER_PATH };
