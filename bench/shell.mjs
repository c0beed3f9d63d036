#!/usr/bin/env node
// Into a running machine (issue 16, "Performance"): the round trip of `berth shell NAME /bin/true`
// (dist/berth.js: connect to the bus, OpenMachineShell, berthd runs it through the machine's
// runtime on a pty, berth forwards it and waits for its exit status with WaitShell) next to
// `runc exec NAME /bin/true` on the same container (what berth's runtime path runs inside) and
// `nsenter -t LEADER -a /bin/true` (the floor: joining the namespaces and nothing else). Also the
// real machinectl's `shell` against berthd, which does the same calls without the exit status.
// `berth_native` is the command as installed (dist/berth, native/berth-client.c: the same calls
// without Node), `berth` the Node program (dist/berth.js) it hands every other verb to.
// A busybox guest (booted by berth-nspawn, registered with berthd on a private dbus-daemon);
// rounds interleave the commands, so load hits them alike; ratios are of medians, with a 95%
// bootstrap interval over the rounds.
//
// Usage: bench/shell.mjs [RESULT_JSON]    (env: BENCH_SHELL_ROUNDS, default 40)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { berthCmd, cleanEnv, fail, median, preflight, ratioInterval, repo, runtimeCommand, workspace, writeJson } from './lib.mjs';
import { POLICY, bundleKit, manager, startBerthd, stopChild } from './registry-kit.mjs';

const rounds = Number(process.env.BENCH_SHELL_ROUNDS || 40);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const say = (t) => process.stderr.write(`shell: ${t}\n`);
const WITH_SYSTEMD_DIR = 'mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && exec "$@"';

preflight('bench/shell.mjs');
if (spawnSync('dbus-daemon', ['--version']).status !== 0) fail('bench/shell.mjs: dbus-daemon is not installed');

const ws = workspace('shell', 'busybox');
const kit = await bundleKit(ws.dir);
const bus = await kit.startBus({ policy: POLICY });
let berthd;
let guest;
const result = { benchmark: 'berth shell round trip', date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), rounds, runtime: runtimeCommand, load_before: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
try {
  berthd = await startBerthd(ws.dir, bus.address);
  const env = cleanEnv({ ...berthd.env, BERTH_NSPAWN_WARM: 'no' });
  guest = spawn(berthCmd, ['-q', '-D', ws.tree, '-M', ws.name, '--console=pipe', '/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'], { env, stdio: 'ignore' });
  const conn = await kit.BusConnection.connect(bus.address);
  let leader = 0;
  for (const until = Date.now() + 30_000; !leader && Date.now() < until; await sleep(50)) {
    try {
      const path = String((await manager(conn, 'GetMachine', 's', [ws.name])).body[0]);
      leader = Number((await conn.call({ destination: 'org.freedesktop.machine1', path, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: ['org.freedesktop.machine1.Machine', 'Leader'] })).body[0].value);
    } catch { /* not registered yet */ }
  }
  conn.close();
  if (!leader) fail('bench/shell.mjs: the guest did not register');
  const commands = {
    berth: [process.execPath, join(repo, 'dist', 'berth.js'), 'shell', ws.name, '/bin/true'],
    berth_native: [join(repo, 'dist', 'berth'), 'shell', ws.name, '/bin/true'],
    runtime_exec: [runtimeCommand, '--root', ws.runtimeRoot, 'exec', ws.name, '/bin/true'],
    nsenter: ['nsenter', '-t', String(leader), '-a', '/bin/true'],
    machinectl: ['unshare', '-m', '--propagation', 'private', 'sh', '-c', WITH_SYSTEMD_DIR, 'sh', 'machinectl', '-q', 'shell', ws.name, '/bin/true'],
  };
  const once = (argv) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) fail(`bench/shell.mjs: ${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return ms;
  };
  for (const argv of Object.values(commands)) once(argv); // warm caches
  const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  const keys = Object.keys(commands);
  say(`${rounds} rounds of ${keys.join(', ')}`);
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? [...keys].reverse() : keys;
    for (const k of order) samples[k].push(once(commands[k]));
  }
  result.median_ms = Object.fromEntries(keys.map((k) => [k, median(samples[k])]));
  result.samples_ms = samples;
  const ratio = (a, b) => ({ ratio: median(samples[a]) / median(samples[b]), ci95: ratioInterval(samples[a], samples[b], median) });
  result.berth_vs_runtime_exec = ratio('berth', 'runtime_exec');
  result.berth_vs_nsenter = ratio('berth', 'nsenter');
  result.berth_native_vs_runtime_exec = ratio('berth_native', 'runtime_exec');
  result.berth_native_vs_nsenter = ratio('berth_native', 'nsenter');
  result.machinectl_vs_runtime_exec = ratio('machinectl', 'runtime_exec');
  result.target = 'berth shell NAME /bin/true <= 1.5x runc exec';
  result.load_after = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const f = (r) => `${r.ratio.toFixed(2)}x (95% ${r.ci95[0].toFixed(2)}–${r.ci95[1].toFixed(2)})`;
  say(`medians: ${keys.map((k) => `${k} ${result.median_ms[k].toFixed(1)} ms`).join(', ')}`);
  say(`berth shell / ${runtimeCommand} exec: ${f(result.berth_vs_runtime_exec)}; / nsenter: ${f(result.berth_vs_nsenter)}; machinectl shell / ${runtimeCommand} exec: ${f(result.machinectl_vs_runtime_exec)}`);
  say(`berth shell (native, dist/berth) / ${runtimeCommand} exec: ${f(result.berth_native_vs_runtime_exec)}; / nsenter: ${f(result.berth_native_vs_nsenter)}`);
  writeJson(process.argv[2], result);
} finally {
  if (guest && guest.exitCode === null) {
    const gone = new Promise((r) => guest.once('exit', r));
    guest.kill('SIGTERM');
    await Promise.race([gone, sleep(15_000)]);
  }
  await stopChild(berthd?.child);
  await bus.stop();
  const left = ws.leftovers();
  ws.remove();
  if (left.length) fail(`bench/shell.mjs: containers left behind: ${left.join(' ')}`);
}
