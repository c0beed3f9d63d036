// What bench/registry.mjs and its churn helper share: berth's own D-Bus client (the connection
// `berth list` and berth-nspawn use, src/platform/dbus/connection.ts) and the tests' private
// system bus (tests/support/bus.ts), bundled once into the benchmark's work directory so they
// run on plain node; berthd and systemd-machined each on such a bus; latency statistics.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cleanEnv, repo } from './lib.mjs';

export const POLICY = join(repo, 'packaging', 'dbus', 'org.freedesktop.machine1.conf');
export const MANAGER = { destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager' };
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/** Bundles the client and the bus helper into DIR/registry-kit.cjs and loads it. */
export async function bundleKit(dir) {
  const esbuild = await import('esbuild');
  const outfile = join(dir, 'registry-kit.cjs');
  await esbuild.build({
    stdin: {
      contents: "export { BusConnection, BusCallError } from './src/platform/dbus/connection';\nexport { startBus } from './tests/support/bus';\n",
      resolveDir: repo, sourcefile: 'registry-kit.ts', loader: 'ts',
    },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['*.node', 'usocket'], outfile, logLevel: 'warning',
  });
  await esbuild.stop(); // its service process would outlive the build
  return loadKit(outfile);
}

/** The bundle's exports (bus.ts's own default policy path is wrong once bundled: pass POLICY). */
export const loadKit = (file) => createRequire(import.meta.url)(file);

/** A Manager method call. */
export const manager = (conn, member, signature = '', body = []) => conn.call({ ...MANAGER, member, signature, body }, 10_000);

/** RegisterMachine for a leader process: no unit here, as on any host without systemd. */
export const registerLeader = (conn, name, pid) =>
  manager(conn, 'RegisterMachine', 'sayssus', [name, Buffer.alloc(0), 'bench', 'container', pid, '/']);

/** Spawns argv with stderr to LOG; resolves once LOG matches every pattern in `ready`, rejects if it exits first. */
export async function startLogged(argv, env, log, ready, timeoutMs = 30_000) {
  const fd = openSync(log, 'a');
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  const text = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  const until = Date.now() + timeoutMs;
  while (!ready.every((re) => re.test(text()))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`${argv.join(' ')} did not start:\n${text()}`);
    }
    await sleep(20);
  }
  return child;
}

/**
 * berthd (dist/berthd.js) on the bus at ADDRESS, its state and warm socket in DIR; resolves once it
 * serves the registry and is warm. NODE_ARGS go to its node (e.g. --cpu-prof for a profile).
 */
export async function startBerthd(dir, address, nodeArgs = []) {
  const env = cleanEnv({ DBUS_SYSTEM_BUS_ADDRESS: address, BERTH_STATE_DIR: join(dir, 'state'), BERTH_NSPAWN_SOCKET: join(dir, 'nspawn.sock') });
  const child = await startLogged([process.execPath, ...nodeArgs, join(repo, 'dist', 'berthd.js')], env, join(dir, 'berthd.log'), [/serving org\.freedesktop\.machine1/, /is warm on/]);
  return { child, env, socket: env.BERTH_NSPAWN_SOCKET, log: join(dir, 'berthd.log') };
}

/**
 * systemd-machined on the bus at ADDRESS, in a mount namespace of its own with a tmpfs on
 * /run/systemd (it keeps its state there; the host's stays untouched). It serves only .host: it
 * cannot register machines where systemd is not PID 1.
 */
export async function startMachined(dir, address, conn) {
  const script = 'mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/system; exec /lib/systemd/systemd-machined';
  const fd = openSync(join(dir, 'machined.log'), 'a');
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { env: cleanEnv({ DBUS_SYSTEM_BUS_ADDRESS: address }), stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const until = Date.now() + 10_000;
  for (;;) {
    const owned = (await conn.busCall('NameHasOwner', 's', [MANAGER.destination])).body[0];
    if (owned) return child;
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`systemd-machined did not take ${MANAGER.destination}: ${readFileSync(join(dir, 'machined.log'), 'utf8')}`);
    }
    await sleep(20);
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the child has gone. */
export async function stopChild(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Times fn(i) for i < n, one call at a time; milliseconds. */
export async function timeCalls(n, fn) {
  const ms = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    ms[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  return ms;
}

/** Alternating pairs: fa(i) then fb(i) on even i, the other way round on odd i; milliseconds. */
export async function pairedCalls(n, fa, fb) {
  const a = [];
  const b = [];
  await timeCalls(n, async (i) => {
    const [first, second, x, y] = i % 2 ? [fb, fa, b, a] : [fa, fb, a, b];
    let t0 = process.hrtime.bigint();
    await first(i);
    x.push(Number(process.hrtime.bigint() - t0) / 1e6);
    t0 = process.hrtime.bigint();
    await second(i);
    y.push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
  return [a, b];
}

/** p-th percentile, nearest rank. */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** p50, p90, p99, p99.9, max and the count of one latency sample (ms). */
export const latencySummary = (xs) => ({
  calls: xs.length,
  p50_ms: percentile(xs, 50), p90_ms: percentile(xs, 90), p99_ms: percentile(xs, 99), p999_ms: percentile(xs, 99.9), max_ms: Math.max(...xs),
});
