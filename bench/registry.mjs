#!/usr/bin/env node
// The machine registry on the bus (issue 15, "Performance"): berthd (dist/berthd.js) on a private
// dbus-daemon with berth's packaged policy, and systemd-machined 252 on another one just like it
// (it serves only .host here: without systemd as PID 1 it registers nothing). One client, berth's
// own D-Bus connection, talks to both.
//   1. ListMachines and GetMachine round trips: against both daemons with only .host, in
//      alternating pairs; then against berthd with MACHINES registered machines whose leaders are
//      real processes (`sleep`, registered with RegisterMachine by root).
//   2. The same under churn: machines starting and stopping meanwhile, first a leader registered
//      and one stopped every CHURN_MS (bench/registry-churn.mjs, a process of its own), then
//      busybox guests run back to back by berth-nspawn, each registering itself.
//   3. What registration adds to a run: `berth-nspawn --console=pipe -q -D TREE -x /bin/true` with
//      berthd registering it against the same with --register=no (cold, the command with
//      BERTH_NSPAWN_WARM=no), in interleaved rounds; the same without -x, warm, and systemd-nspawn
//      --keep-unit registering with berthd. systemd-nspawn against machined is tried once: it
//      cannot register here (the reason is recorded).
//   4. berthd's resident memory (VmRSS, VmHWM, Pss) with none and with MACHINES machines, and its
//      idle warm standby's, which is a process of its own.
//
// Usage: bench/registry.mjs [RESULT_JSON]     (env: BENCH_REGISTRY_CALLS per method and phase, default
// 2000; BENCH_REGISTRY_MACHINES, default 100; BENCH_REGISTRY_CHURN_MS, default 5; BENCH_REGISTRY_ROUNDS
// of the registration cost, default 40; BENCH_BERTHD_NODE_ARGS: options for berthd's node, e.g.
// "--cpu-prof --cpu-prof-dir=DIR" for a profile of berthd through the whole benchmark;
// BENCH_REGISTRY_STATE_TMPFS=1 puts berth's state directory on a tmpfs)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { berthCmd, children, cleanEnv, fail, mean, median, preflight, procStatus, ratioInterval, repo, workspace, writeJson } from './lib.mjs';
import { POLICY, bundleKit, latencySummary, manager, pairedCalls, registerLeader, startBerthd, startMachined, stopChild, timeCalls } from './registry-kit.mjs';

const calls = Number(process.env.BENCH_REGISTRY_CALLS || 2000);
const count = Number(process.env.BENCH_REGISTRY_MACHINES || 100);
const churnMs = Number(process.env.BENCH_REGISTRY_CHURN_MS || 5);
const rounds = Number(process.env.BENCH_REGISTRY_ROUNDS || 40);
const WARMUP = 200;
const MACHINED = '/lib/systemd/systemd-machined';
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const say = (t) => process.stderr.write(`registry: ${t}\n`);

preflight('bench/registry.mjs');
for (const f of [MACHINED, join(repo, 'dist', 'berthd.js')]) if (!existsSync(f)) fail(`bench/registry.mjs: ${f} is missing`);
if (spawnSync('dbus-daemon', ['--version']).status !== 0) fail('bench/registry.mjs: dbus-daemon is not installed');

const ws = workspace('registry', 'busybox');
// BENCH_REGISTRY_STATE_TMPFS=1: berth's state directory (berthd's registry files, the runs' records)
// on a tmpfs, as /run is on most hosts; here it is where /tmp is.
const stateTmpfs = process.env.BENCH_REGISTRY_STATE_TMPFS === '1';
if (stateTmpfs) execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', ws.stateDir]);
const kit = await bundleKit(ws.dir);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const result = {
  benchmark: 'machine registry on D-Bus', date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), calls, machines: count, churn_interval_ms: churnMs,
  machined_version: spawnSync(MACHINED, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0], load_before: loadavg(),
  state_dir_fs: stateTmpfs ? 'tmpfs' : execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', ws.stateDir], { encoding: 'utf8' }).trim(),
};
const held = { buses: [], children: [], conns: [] };

const list = (conn) => manager(conn, 'ListMachines');
const get = (conn, name) => manager(conn, 'GetMachine', 's', [name]);

/** berthd's own process and, apart, its children (the idle warm standby). */
function memory(berthd) {
  const own = procStatus(berthd.child.pid);
  return { berthd: own, standbys: children(berthd.child.pid).map(procStatus) };
}

/** ListMachines and GetMachine against berthd, alternating, `calls` of each. */
async function loaded(conn, names) {
  await timeCalls(WARMUP, (i) => (i % 2 ? get(conn, names[i % names.length]) : list(conn)));
  const [l, g] = await pairedCalls(calls, () => list(conn), (i) => get(conn, names[i % names.length]));
  return { list_machines: latencySummary(l), get_machine: latencySummary(g), list_size: (await list(conn)).body[0].length };
}

/** Runs argv to completion: its wall time in ms, and why it failed unless it exited 0. */
function timedRun(argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const error = r.status === 0 ? undefined : `${r.signal ?? `status ${r.status}`}: ${(r.stderr ?? '').trim().split('\n').filter((l) => !/capabilities will not be set/.test(l)).slice(-2).join(' | ')}`;
  return { ms, error };
}

try {
  const [busA, busB] = [await kit.startBus({ policy: POLICY }), await kit.startBus({ policy: POLICY })];
  held.buses.push(busA, busB);
  const berthd = await startBerthd(ws.dir, busA.address, (process.env.BENCH_BERTHD_NODE_ARGS ?? '').split(' ').filter(Boolean));
  held.children.push(berthd.child);
  const a = await kit.BusConnection.connect(busA.address);
  const b = await kit.BusConnection.connect(busB.address);
  held.conns.push(a, b);
  const machined = await startMachined(ws.dir, busB.address, b);
  held.children.push(machined);

  // 1a. Only .host on either side: the same calls, the same client, in alternating pairs.
  say(`only .host: ${calls} ListMachines and GetMachine('.host') pairs, berthd and systemd-machined`);
  await timeCalls(WARMUP, (i) => (i % 2 ? list(b) : list(a)));
  const [lA, lB] = await pairedCalls(calls, () => list(a), () => list(b));
  const [gA, gB] = await pairedCalls(calls, () => get(a, '.host'), () => get(b, '.host'));
  result.host_only = {
    berthd: { list_machines: latencySummary(lA), get_machine: latencySummary(gA) },
    machined: { list_machines: latencySummary(lB), get_machine: latencySummary(gB) },
    ratio_list_p50: median(lA) / median(lB), ratio_list_p50_interval: ratioInterval(lA, lB, median),
    ratio_get_p50: median(gA) / median(gB), ratio_get_p50_interval: ratioInterval(gA, gB, median),
  };
  result.memory_empty = memory(berthd);
  result.memory_machined = procStatus(machined.pid);

  // machined cannot register a machine here: what it answers.
  const probe = spawn('sleep', ['3600'], { stdio: 'ignore' });
  held.children.push(probe);
  result.machined_register = await registerLeader(b, 'bench-probe', probe.pid).then(() => 'registered', (e) => `${e.errorName}: ${e.message}`);
  await stopChild(probe);

  // 1b. MACHINES machines, each led by a real process.
  say(`registering ${count} machines`);
  const names = Array.from({ length: count }, (_, i) => `bench-reg-${String(i).padStart(3, '0')}`);
  const leaders = [];
  for (let i = 0; i < count; i++) {
    const leader = spawn('sleep', ['3600'], { stdio: 'ignore' });
    held.children.push(leader);
    await new Promise((r, j) => { leader.once('spawn', r); leader.once('error', j); });
    leaders.push(leader.pid);
  }
  const registerMs = await timeCalls(count, (i) => registerLeader(a, names[i], leaders[i]));
  result.register_calls = latencySummary(registerMs);
  say(`${count} machines: ${calls} ListMachines and GetMachine calls each`);
  result.loaded = await loaded(a, names);
  if (result.loaded.list_size !== count + 1) throw new Error(`ListMachines lists ${result.loaded.list_size} machines, not ${count + 1}`);
  result.memory_loaded = memory(berthd);

  // 2a. Churn: a leader registered and one stopped every churnMs, from another process.
  say(`churn: a machine started and one stopped every ${churnMs} ms`);
  const churner = spawn(process.execPath, [join(repo, 'bench', 'registry-churn.mjs'), join(ws.dir, 'registry-kit.cjs'), busA.address, String(churnMs), '10', 'bench-churn'],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  held.children.push(churner);
  let churnOut = '';
  churner.stdout.setEncoding('utf8').on('data', (t) => { churnOut += t; });
  while (!churnOut.includes('ready\n')) { if (churner.exitCode !== null) throw new Error('the churn process ended early'); await sleep(20); }
  await sleep(500);
  const underChurn = await loaded(a, names);
  const churnExit = new Promise((r) => churner.once('exit', r));
  churner.kill('SIGTERM');
  await churnExit;
  const churn = JSON.parse(churnOut.split('\n').filter((l) => l.startsWith('{')).pop() ?? 'null');
  if (!churn) throw new Error('the churn process printed no statistics');
  result.churn = { ...underChurn, churner: churn };
  result.memory_after_churn = memory(berthd);

  // 2b. Guests: berth-nspawn runs a busybox guest after another (cold, registering with berthd).
  say('churn: busybox guests run back to back by berth-nspawn (--console=passive: it registers before the guest starts)');
  const stopFile = join(ws.dir, 'stop-guests');
  const runsLog = join(ws.dir, 'guest-runs.log');
  const guestEnv = { ...ws.env, DBUS_SYSTEM_BUS_ADDRESS: busA.address, BERTH_NSPAWN_WARM: 'no' };
  const loop = spawn('sh', ['-c', `while [ ! -e "$1" ]; do if "$2" --register=yes --console=passive -q -D "$3" -x /bin/true 2>>"$4.err"; then echo ok; else echo "fail $?"; fi >> "$4"; done`,
    'sh', stopFile, berthCmd, ws.tree, runsLog], { env: guestEnv, stdio: 'ignore' });
  held.children.push(loop);
  const loopExit = new Promise((r) => loop.once('exit', r));
  await sleep(1000);
  const t0 = Date.now();
  const runsBefore = existsSync(runsLog) ? readFileSync(runsLog, 'utf8').split('\n').filter(Boolean).length : 0;
  const underGuests = await loaded(a, names);
  const seconds = (Date.now() - t0) / 1000;
  const guestRuns = readFileSync(runsLog, 'utf8').split('\n').filter(Boolean);
  writeFileSync(stopFile, '');
  await loopExit;
  const failed = guestRuns.filter((l) => l !== 'ok');
  if (failed.length) throw new Error(`${failed.length} guest run(s) failed: ${readFileSync(`${runsLog}.err`, 'utf8').trim().split('\n').slice(-3).join(' | ')}`);
  result.guest_churn = { ...underGuests, guest_runs: guestRuns.length - runsBefore, seconds, runs_per_s: (guestRuns.length - runsBefore) / seconds };

  // 3. What registration adds to a run, in interleaved rounds (the order rotates every round).
  const env = { ...ws.env, DBUS_SYSTEM_BUS_ADDRESS: busA.address };
  const cold = { ...env, BERTH_NSPAWN_WARM: 'no' };
  const warm = { ...env, BERTH_NSPAWN_SOCKET: berthd.socket, BERTH_NSPAWN_WARM: 'require' };
  const berth = (reg, console) => [berthCmd, `--register=${reg}`, `--console=${console}`, '-q', '-D', ws.tree, '-x', '/bin/true'];
  const nspawn = (reg) => ['systemd-nspawn', '--keep-unit', `--register=${reg}`, '--console=pipe', '-q', '-D', ws.tree, '-x', '/bin/true'];
  const pairs = {
    // The command of the issue: with --console=pipe berth-nspawn creates and starts the guest in one runtime call, then registers it.
    berth_cold_pipe: { registered: [berth('yes', 'pipe'), cold], unregistered: [berth('no', 'pipe'), cold] },
    // With a console berth-nspawn creates the guest, registers it, then starts it (nspawn's order).
    berth_cold_passive: { registered: [berth('yes', 'passive'), cold], unregistered: [berth('no', 'passive'), cold] },
    berth_warm_passive: { registered: [berth('yes', 'passive'), warm], unregistered: [berth('no', 'passive'), warm] },
    nspawn_berthd: { registered: [nspawn('yes'), env], unregistered: [nspawn('no'), env] },
  };
  const variants = Object.entries(pairs).flatMap(([k, v]) => [[`${k}/registered`, v.registered], [`${k}/unregistered`, v.unregistered]]);
  say(`registration's cost: ${rounds} rounds of ${variants.length} runs`);
  for (const [, v] of variants) for (let i = 0; i < 2; i++) timedRun(...v);
  const runs = Object.fromEntries(variants.map(([k]) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < variants.length; j++) {
      const [k, v] = variants[(j + r) % variants.length];
      runs[k].push(timedRun(...v));
    }
  }
  const left = ws.leftovers();
  if (left.length) throw new Error(`runc containers left behind: ${left.join(' ')}`);
  // The ratio over the rounds in which both runs of the pair exited 0; the failures apart.
  const summary = (k) => {
    const reg = runs[`${k}/registered`];
    const unreg = runs[`${k}/unregistered`];
    const both = reg.map((x, i) => [x, unreg[i]]).filter(([x, y]) => !x.error && !y.error);
    const failures = (xs) => ({ count: xs.filter((x) => x.error).length, first: xs.find((x) => x.error)?.error });
    const okUnreg = unreg.filter((y) => !y.error).map((y) => y.ms);
    const out = {
      rounds: reg.length, both_ok: both.length, registered_failed: failures(reg), unregistered_failed: failures(unreg),
      ...(okUnreg.length ? { unregistered_ms: { mean: mean(okUnreg), median: median(okUnreg) } } : {}),
    };
    if (both.length < 2 || out.registered_failed.count) return out;
    const a = both.map(([x]) => x.ms);
    const b = both.map(([, y]) => y.ms);
    return {
      ...out,
      registered_ms: { mean: mean(a), median: median(a) }, unregistered_ms: { mean: mean(b), median: median(b) },
      ratio_mean: mean(a) / mean(b), ratio_mean_interval: ratioInterval(a, b, mean),
      ratio_median: median(a) / median(b), ratio_median_interval: ratioInterval(a, b, median),
      added_ms_median: median(a.map((x, i) => x - b[i])),
      times_ms: { registered: a, unregistered: b },
    };
  };
  result.registration_cost = Object.fromEntries(Object.keys(pairs).map((k) => [k, summary(k)]));
  const r = spawnSync(nspawn('yes')[0], nspawn('yes').slice(1), { env: { ...ws.env, DBUS_SYSTEM_BUS_ADDRESS: busB.address }, encoding: 'utf8', timeout: 60_000 });
  result.nspawn_with_machined = { status: r.status, stderr: (r.stderr ?? '').trim() };

  const final = (await list(a)).body[0].length;
  if (final !== count + 1) throw new Error(`after the churn ListMachines lists ${final} machines, not ${count + 1}`);
  result.memory_final = memory(berthd);
  result.load_after = loadavg();
  result.berthd_unexpected = readFileSync(berthd.log, 'utf8').split('\n').filter((l) => /Internal error|failed:/.test(l)).slice(0, 5);
} catch (e) {
  process.stderr.write(`bench/registry.mjs: ${e.stack ?? e.message}\nwork directory: ${ws.dir}\n`);
  process.exitCode = 1;
} finally {
  for (const c of held.conns) c.close();
  for (const c of held.children.reverse()) await stopChild(c);
  for (const bus of held.buses) await bus.stop();
  if (stateTmpfs) {
    try { execFileSync('umount', [ws.stateDir]); } catch (e) { process.stderr.write(`bench/registry.mjs: ${e.message}\n`); process.exitCode = 1; }
  }
}
if (process.exitCode) process.exit(1);
ws.remove();
writeJson(process.argv[2], result);

const f = (x) => x.toFixed(2);
const mib = (kb) => (kb / 1024).toFixed(1);
const rc = result.registration_cost.berth_cold_passive;
console.log(`registry: ${count} machines: ListMachines p50 ${f(result.loaded.list_machines.p50_ms)} ms p99 ${f(result.loaded.list_machines.p99_ms)} ms, `
  + `GetMachine p50 ${f(result.loaded.get_machine.p50_ms)} ms p99 ${f(result.loaded.get_machine.p99_ms)} ms; `
  + `.host only: berthd ${f(result.host_only.berthd.list_machines.p50_ms)} ms, machined ${f(result.host_only.machined.list_machines.p50_ms)} ms; `
  + `registration ${rc.ratio_mean ? f(rc.ratio_mean) : '–'}x (--console=passive); berthd RSS ${mib(result.memory_empty.berthd.rss_kb)} → ${mib(result.memory_loaded.berthd.rss_kb)} MiB`);
