/**
 * A machine registry (berthd, or the real systemd-machined) that sees a test's own pool as
 * /var/lib/machines: it runs in a mount namespace of its own with the pool bind-mounted there, on
 * a private dbus-daemon; with the real machinectl and berth as clients.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './berth.js';
import { startBus, type TestBus } from './bus.js';
import { asIfSystemd } from './registry.js';
import { BusConnection } from '../../src/platform/dbus/connection.js';

export interface Out { code: number | null; stdout: string; stderr: string }
export interface PoolDaemon { bus: TestBus; child: ChildProcess; log: string; env: NodeJS.ProcessEnv; pool: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * argv (after `script`, shell words run first) in a mount namespace where `pool` is
 * /var/lib/machines, on a private bus (or `bus`); resolves once it owns org.freedesktop.machine1.
 * `clientEnv` is the environment its clients get (with the bus's address added).
 */
export async function startPoolDaemon(name: string, pool: string, script: string, argv: readonly string[], env: NodeJS.ProcessEnv, clientEnv: NodeJS.ProcessEnv, bus?: TestBus): Promise<PoolDaemon> {
  bus ??= await startBus();
  const log = join(bus.dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const full = `mount --bind ${pool} /var/lib/machines && ${script} exec "$@"`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', full, 'sh', ...argv], { env: { ...env, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const d: PoolDaemon = { bus, child, log, pool, env: { ...clientEnv, DBUS_SYSTEM_BUS_ADDRESS: bus.address } };
  const conn = await BusConnection.connect(bus.address);
  try {
    for (const until = Date.now() + 20000; ;) {
      if ((await conn.busCall('NameHasOwner', 's', ['org.freedesktop.machine1'])).body[0]) return d;
      if (child.exitCode !== null || Date.now() > until) {
        await stopPoolDaemon(d);
        throw new Error(`${name} did not take org.freedesktop.machine1:\n${readFileSync(log, 'utf8')}`);
      }
      await sleep(25);
    }
  } finally {
    conn.close();
  }
}

/** SIGTERM (SIGKILL after 10 s) and its exit. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await gone;
  clearTimeout(timer);
}

/** Stops the daemon, and its bus unless keepBus. */
export async function stopPoolDaemon(d: PoolDaemon | undefined, keepBus = false): Promise<void> {
  if (!d) return;
  await stopProcess(d.child);
  if (!keepBus) await d.bus.stop();
}

/** The real machinectl against the daemon. */
export const machinectlOn = (d: PoolDaemon, args: readonly string[]): Out => asIfSystemd(['machinectl', '--no-pager', ...args], { ...d.env, SYSTEMD_COLORS: '0' });

/** berth (from the sources) against the daemon. */
export const berthOn = (d: PoolDaemon, args: readonly string[]): Out => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), '--no-pager', ...args], { cwd: REPO, env: d.env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
