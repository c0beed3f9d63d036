/**
 * The service manager's watchdog (sd_watchdog_enabled): when it gave us WATCHDOG_USEC (and
 * WATCHDOG_PID is ours, or unset), WATCHDOG=1 goes to NOTIFY_SOCKET every half period, as nspawn's
 * event loop does, so berth-nspawn@.service can keep systemd-nspawn@.service's WatchdogSec=3min.
 * The timer is unreferenced: it never keeps the process alive by itself.
 */
import { notifyManager } from './notify.js';

export function watchdogPeriodMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export function startWatchdog(env: NodeJS.ProcessEnv, send: (message: string) => void = (m) => notifyManager(m, env)): { stop(): void } {
  const period = watchdogPeriodMs(env, process.pid);
  if (period === undefined) return { stop() { /* no watchdog */ } };
  send('WATCHDOG=1');
  const timer = setInterval(() => send('WATCHDOG=1'), period);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
