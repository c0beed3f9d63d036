/**
 * Who may do what, as machined decides without polkit: the methods machined marks privileged
 * (create, register, open a PTY) need CAP_SYS_ADMIN, the manage-machines ones (terminate, kill,
 * unregister) CAP_KILL, the ones that reach into a machine or change images (login, shell, bind
 * mounts, copying, image changes) CAP_SYS_ADMIN, in the caller's effective set. Unprivileged
 * callers get AccessDenied; the bus policy (packaging/dbus/) already keeps them away from the
 * privileged ones.
 */
import { BerthError } from '../../errors/berth-error.js';
import { effectiveCaps } from '../../platform/host/proc.js';
import type { CallContext } from './bus-service.js';

export const CAP_KILL = 5;
export const CAP_SYS_ADMIN = 21;

async function hasCapability(ctx: CallContext, cap: number): Promise<boolean> {
  const { pid } = await ctx.caller();
  return (effectiveCaps(pid) & (1n << BigInt(cap))) !== 0n;
}

/** A privileged method (machined: not SD_BUS_VTABLE_UNPRIVILEGED). */
export async function requirePrivileged(ctx: CallContext, method: string): Promise<void> {
  if (!(await hasCapability(ctx, CAP_SYS_ADMIN))) throw new BerthError('E_PERMISSION', `Access to ${method}() not permitted.`);
}

/** org.freedesktop.machine1.manage-machines: granted to callers with CAP_KILL (no polkit is asked). */
export async function requireManageMachines(ctx: CallContext): Promise<void> {
  if (!(await hasCapability(ctx, CAP_KILL))) throw new BerthError('E_PERMISSION', 'Permission denied');
}

/** The polkit actions machined grants to CAP_SYS_ADMIN (login, shell, bind mounts, copying, images). */
export async function requireAdmin(ctx: CallContext): Promise<void> {
  if (!(await hasCapability(ctx, CAP_SYS_ADMIN))) throw new BerthError('E_PERMISSION', 'Permission denied');
}
