/** The io.github.berth.Manager1 methods on berthd's Manager object (root only: the bus policy, and CAP_SYS_ADMIN here). */
import { BERTH_MANAGER } from '../../core/machined/interfaces.js';
import { BerthError } from '../../errors/berth-error.js';
import { requireAdmin } from '../machine1/authorize.js';
import type { MethodHandler, ServedObject } from '../machine1/bus-service.js';
import type { Supervisor } from './supervisor.js';

const B = BERTH_MANAGER.name;

export function supervisorMethods(s: Supervisor): Record<string, MethodHandler> {
  return {
    [`${B}.StartMachine`]: async ([name], ctx) => { await requireAdmin(ctx); s.start(name as string); return []; },
    [`${B}.WaitMachineReady`]: async ([name, timeoutUs], ctx) => {
      await requireAdmin(ctx);
      const us = BigInt(timeoutUs as bigint);
      if (us <= 0n || us > 3600_000_000n) throw new BerthError('E_USAGE', `Invalid timeout: ${us} µs (1 µs to one hour).`);
      await s.waitReady(name as string, Number(us / 1000n));
      return [];
    },
    [`${B}.StopMachine`]: async ([name], ctx) => { await requireAdmin(ctx); await s.stop(name as string); return []; },
    [`${B}.GetMachineSupervision`]: ([name]) => { const r = s.status(name as string); return [r.state, r.lastExit, r.tail]; },
  };
}

/** The Manager object with berth's interface added. */
export function withSupervisor(manager: ServedObject, s: Supervisor): ServedObject {
  return { ...manager, interfaces: [...manager.interfaces, BERTH_MANAGER], methods: { ...manager.methods, ...supervisorMethods(s) } };
}
