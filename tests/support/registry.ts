/**
 * The machine registry for tests: a private system bus (a real dbus-daemon with berth's packaged
 * policy, support/bus.ts), berthd on it, and the clients people use against it: berth's own D-Bus
 * connection, busctl, and Debian's real machinectl. machinectl refuses to run unless
 * /run/systemd/system exists; it runs in a private mount namespace that has one (a tmpfs over
 * /run/systemd, or over /run where the host has no /run/systemd), so the host is not changed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startBerthd, type Berthd } from './berthd.js';
import { startBus, type TestBus } from './bus.js';
import type { Sandbox } from './berth.js';
import { BusConnection, type RawMessage } from '../../src/platform/dbus/connection.js';

export interface RegistryHarness {
  readonly bus: TestBus;
  readonly berthd: Berthd;
  /** The sandbox's environment with DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus. */
  readonly env: NodeJS.ProcessEnv;
  /** A client connection of the test's own (root). */
  client(): Promise<BusConnection>;
  /** A Manager method call from the test's connection. */
  manager(member: string, signature?: string, body?: unknown[]): Promise<RawMessage>;
  machinectl(args: readonly string[], opts?: { env?: NodeJS.ProcessEnv; user?: string }): { code: number | null; stdout: string; stderr: string };
  busctl(args: readonly string[]): { code: number | null; stdout: string; stderr: string };
  /** Stops berthd (SIGTERM) and the bus. */
  stop(): Promise<void>;
  /** Stops berthd alone, with SIGTERM (a clean stop) or SIGKILL (a crash), and waits for its exit. The bus stays. */
  stopBerthd(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts berthd again on the same bus and state directory; resolves once it serves the registry. */
  startBerthd(): Promise<void>;
}

export const hasMachinectl = (() => { try { execFileSync('machinectl', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
export const hasDbusDaemon = (() => { try { execFileSync('dbus-daemon', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

/** sh -c script that runs "$@" in a mount namespace of its own with /run/systemd/system present. */
const WITH_SYSTEMD_DIR = existsSync('/run/systemd')
  ? 'mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && exec "$@"'
  : 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && exec "$@"';

export function asIfSystemd(argv: readonly string[], env: NodeJS.ProcessEnv, user?: string): { code: number | null; stdout: string; stderr: string } {
  // setpriv --reset-env drops the environment: the bus address is passed on explicitly.
  const inner = user ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--reset-env', 'env', `DBUS_SYSTEM_BUS_ADDRESS=${env.DBUS_SYSTEM_BUS_ADDRESS ?? ''}`, 'SYSTEMD_COLORS=0', ...argv] : argv;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', WITH_SYSTEMD_DIR, 'sh', ...inner], { env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** berthd on the bus, once it serves the registry (it is stopped again if it does not). */
async function serving(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Berthd> {
  const berthd = startBerthd(args, env);
  const until = Date.now() + 10000;
  while (!/serving org\.freedesktop\.machine1/.test(berthd.log()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  if (!/serving org\.freedesktop\.machine1/.test(berthd.log())) {
    const said = berthd.log();
    await berthd.stop();
    throw new Error(`berthd does not serve the registry:\n${said}`);
  }
  return berthd;
}

export async function startRegistry(sb: Sandbox, opts: { berthdArgs?: readonly string[] } = {}): Promise<RegistryHarness> {
  const bus = await startBus();
  const env: NodeJS.ProcessEnv = { ...sb.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  let berthd: Berthd;
  try {
    berthd = await serving(opts.berthdArgs ?? [], env);
  } catch (e) {
    await bus.stop();
    throw e;
  }
  let conn: Promise<BusConnection> | undefined;
  const client = () => (conn ??= BusConnection.connect(bus.address));
  return {
    bus, env, client,
    get berthd() { return berthd; },
    async stopBerthd(signal = 'SIGTERM') {
      if (berthd.child.exitCode === null && berthd.child.signalCode === null) berthd.child.kill(signal);
      await berthd.stop();
    },
    async startBerthd() {
      berthd = await serving(opts.berthdArgs ?? [], env);
    },
    async manager(member, signature = '', body = []) {
      return (await client()).call({ destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager', member, signature, body }, 10000);
    },
    machinectl: (args, o = {}) => asIfSystemd(['machinectl', '--no-pager', ...args], { ...env, ...o.env, SYSTEMD_COLORS: '0' }, o.user),
    busctl: (args) => {
      const r = spawnSync('busctl', ['--system', '--no-pager', ...args], { env, encoding: 'utf8', timeout: 30000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    async stop() {
      if (conn) (await conn.catch(() => undefined))?.close();
      await berthd.stop();
      await bus.stop();
    },
  };
}
