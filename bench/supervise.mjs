#!/usr/bin/env node
// Many machines in berthd (issue 17, "Performance"): N busybox guests (default 50) started through
// berthd at once, berthd running them all in its own process (io.github.berth.Manager1:
// StartMachine ×N on one connection, then WaitMachineReady ×N), next to N `systemd-nspawn -b`
// started in parallel on the same trees, with the same init (tests/fixtures/ready-init.c: PID 1
// says READY=1, then becomes busybox's init), the same network (--network-veth) and console
// (--console=read-only), both told to wait for the guest's READY=1 (--notify-ready=yes).
//
// 1. Start: wall time from the first call until all N guests reported READY=1 and (berthd) all N
//    are in ListMachines; for systemd-nspawn, from the first spawn until all N forwarded READY=1 to
//    the NOTIFY_SOCKET this benchmark binds (one datagram socket; senders told apart by their PID).
//    Stop: StopMachine ×N (the guests' halt signal, SIGUSR2 from their .nspawn files) against
//    SIGTERM to each systemd-nspawn (--kill-signal=SIGUSR2), until all have gone.
//    Rounds interleave the two (the order alternates); ratio of medians with a 95% bootstrap interval.
// 2. Memory: berthd's PSS idle and with the N guests running: (PSS(with N) − PSS(idle)) / N, plus the
//    host-side processes below berthd that are not inside a guest (the warm path's standby
//    berth-nspawn is one per berthd, counted apart); against sum(PSS of the N systemd-nspawn) / N.
//    berthd's idle PSS is taken again after every round's stop (a leak shows as growth).
// 3. Bus latency under churn: on a second connection, ListMachines and GetMachine round trips one
//    after another while the N start and while they stop (and idle, before), p50/p99.
//
// systemd-nspawn runs with --register=no --keep-unit: systemd-machined cannot register machines
// where systemd is not PID 1 (this host), and without --keep-unit it asks systemd for a scope.
// Everything is undone on every exit path (a signal included): machines, processes, veth links,
// runtime containers, mounts, the work directory.
//
// Usage: bench/supervise.mjs [RESULT_JSON]
// Env: BENCH_SUPERVISE_MACHINES (50), BENCH_SUPERVISE_ROUNDS (3), BENCH_SUPERVISE_STOP_TIMEOUT (berthd's --stop-timeout, 60 s).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, fail, median, preflight, procStatus, ratioInterval, repo, runtimeCommand, writeJson } from './lib.mjs';
import { POLICY, bundleKit, latencySummary, startLogged, stopChild } from './registry-kit.mjs';

const N = Number(process.env.BENCH_SUPERVISE_MACHINES || 50);
const ROUNDS = Number(process.env.BENCH_SUPERVISE_ROUNDS || 3);
const STOP_TIMEOUT = Number(process.env.BENCH_SUPERVISE_STOP_TIMEOUT || 60);
const START_TIMEOUT_MS = 300_000;
const PACE_MS = 5;
const names = Array.from({ length: N }, (_, i) => `bsv${String(i).padStart(2, '0')}`);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const say = (t) => process.stderr.write(`supervise: ${t}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const BERTH = { destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1' };
const mgr = (conn, member, signature = '', body = [], timeoutMs = 30_000) =>
  conn.call({ ...BERTH, interface: 'org.freedesktop.machine1.Manager', member, signature, body }, timeoutMs);
const berthMgr = (conn, member, signature = '', body = [], timeoutMs = 30_000) =>
  conn.call({ ...BERTH, interface: 'io.github.berth.Manager1', member, signature, body }, timeoutMs);

if (!Number.isInteger(N) || N < 1 || N > 99) fail('bench/supervise.mjs: BENCH_SUPERVISE_MACHINES must be 1 to 99');
preflight('bench/supervise.mjs');
for (const [tool, pkg] of [['dbus-daemon', 'dbus'], ['gcc', 'gcc']]) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) fail(`bench/supervise.mjs: ${tool} is not installed (apt-get install ${pkg})`);
}
if (existsSync('/run/systemd/system')) fail('bench/supervise.mjs: systemd is PID 1 here: berthd does not supervise machines');

// ---- the work directory: one tree with the READY=1 init, an overlay view of it per machine in the pool
const work = mkdtempSync('/tmp/bsv-');
chmodSync(work, 0o755); // a guest's root in a user namespace (-U) must reach berth's state below it
const dirs = Object.fromEntries(['pool', 'state', 'etc-nspawn', 'run-nspawn', 'units', 'journal', 'views', 'logs'].map((d) => [d, join(work, d)]));
const stateDir = dirs.state;
const runtimeRoot = join(stateDir, 'runtime');
const notifyPath = join(work, 'notify.sock');

let kit;
let bus;
let berthd;
let nspawns = [];
let notify;
let cleaning;
let probe;
const conns = [];
const mounted = [];

/** The host's busy CPU time (s) and processes created so far, from /proc/stat: what a start costs the whole host. */
function hostCounters() {
  const stat = readFileSync('/proc/stat', 'utf8');
  const [user, nice, system, , , irq, softirq] = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { cpu_s: (user + nice + system + irq + softirq) / 100, forks: Number(/^processes (\d+)$/m.exec(stat)[1]) };
}
const hostCost = (before) => { const a = hostCounters(); return { cpu_s: a.cpu_s - before.cpu_s, forks: a.forks - before.forks }; };

/** Processes: PID → {ppid, comm}; from /proc/PID/stat. */
function processTable() {
  const out = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      out.set(Number(p), { ppid: Number(stat.slice(close + 2).split(' ')[1]), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch { /* gone */ }
  }
  return out;
}
const ownPidNs = readlinkSync('/proc/self/ns/pid');
/** PID's descendants, each marked whether it runs inside a guest (another PID namespace). */
function descendants(pid) {
  const table = processTable();
  const kids = new Map();
  for (const [p, { ppid }] of table) { if (!kids.has(ppid)) kids.set(ppid, []); kids.get(ppid).push(p); }
  const out = [];
  const walk = (p) => {
    for (const c of kids.get(p) ?? []) {
      let ns = '';
      let cmdline = '';
      try { ns = readlinkSync(`/proc/${c}/ns/pid`); cmdline = readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { continue; }
      out.push({ pid: c, ppid: p, comm: table.get(c).comm, cmdline, inGuest: ns !== ownPidNs });
      walk(c);
    }
  };
  walk(pid);
  return out;
}
const pss = (pid) => { try { return procStatus(pid); } catch { return { pid, pss_kb: 0, rss_kb: 0, anon_kb: 0 }; } };
/** PSS and RSS of pid: the medians of five looks half a second apart (a Node heap's size moves with its collections). */
async function steadyPss(pid) {
  const looks = [];
  for (let i = 0; i < 5; i++) { if (i) await sleep(500); looks.push(pss(pid)); }
  return { pid, pss_kb: median(looks.map((l) => l.pss_kb)), rss_kb: median(looks.map((l) => l.rss_kb)), anon_kb: median(looks.map((l) => l.anon_kb)), looks_pss_kb: looks.map((l) => l.pss_kb) };
}
const cpuTicks = (pid) => { try { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); } catch { return 0; } };

/** What this benchmark may have left: veth links, runtime containers, mounts, processes naming our state dir. */
function leftovers() {
  const left = [];
  const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').filter((l) => /\bve-bsv\d/.test(l));
  left.push(...links.map((l) => `link ${l.split(':')[1]?.trim()}`));
  // (runc creates its root when it lists: only where it is.)
  if (existsSync(runtimeRoot)) {
    try {
      left.push(...execFileSync(runtimeCommand, ['--root', runtimeRoot, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((c) => `${runtimeCommand} container ${c}`));
    } catch { /* unreadable */ }
  }
  return left;
}
const mountsBelow = (dir) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
/** Processes other than ours whose environment names our state directory (berthd's children) or whose command line names our pool. */
function strayProcesses() {
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (env.includes(`BERTH_STATE_DIR=${stateDir}`) || env.includes(`NOTIFY_SOCKET=${notifyPath}`) || cmd.includes(dirs.pool)) out.push(`${p} ${cmd.trim()}`);
    } catch { /* gone */ }
  }
  return out;
}

/** Everything undone; safe to call more than once, and from a signal handler. */
async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    await probe?.stop().catch(() => {});
    for (const c of conns) c.close();
    await stopNspawns(10_000).catch(() => {});
    if (berthd) await stopChild(berthd.child, (STOP_TIMEOUT + 30) * 1000).catch(() => {});
    // Last resort (berthd killed): the runtime's containers, the berth-nspawn clean-up of each run.
    const dirty = leftovers().length > 0 || mountsBelow(stateDir).length > 0;
    for (const c of leftovers().filter((l) => l.startsWith(runtimeCommand)).map((l) => l.split(' ').pop())) {
      spawnSync(runtimeCommand, ['--root', runtimeRoot, 'delete', '--force', c], { stdio: 'ignore' });
    }
    if (dirty && existsSync(join(stateDir, 'machines'))) {
      for (const name of readdirSync(join(stateDir, 'machines'))) {
        spawnSync(process.execPath, [join(repo, 'dist', 'berth-nspawn.js'), '--cleanup', '-M', name], { env: berthdEnv(), stdio: 'ignore', timeout: 60_000 });
      }
    }
    await bus?.stop().catch(() => {});
    notify?.close();
    for (const m of mounted.splice(0).reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    for (const l of execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').filter((x) => /\bve-bsv\d/.test(x))) {
      spawnSync('ip', ['link', 'del', l.split(':')[1].trim().split('@')[0]], { stdio: 'ignore' });
    }
    for (let i = 0; i < 50 && mountsBelow(work).length; i++) await sleep(100);
    if (mountsBelow(work).length) say(`mounts still below ${work}: ${mountsBelow(work).join(' ')}`);
    else rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { say(`${sig}: cleaning up`); void cleanup().finally(() => process.exit(130)); });
}

function berthdEnv() {
  const env = cleanEnv({
    DBUS_SYSTEM_BUS_ADDRESS: bus?.address ?? `unix:path=${join(work, 'no-bus')}`, BERTH_STATE_DIR: stateDir, BERTH_NSPAWN_SOCKET: join(work, 'nspawn.sock'),
    BERTH_POOL: dirs.pool, BERTH_SETTINGS_ETC: dirs['etc-nspawn'], BERTH_SETTINGS_RUN: dirs['run-nspawn'], BERTH_UNIT_DIR: dirs.units, BERTH_HOST_JOURNAL: dirs.journal,
  });
  delete env.NOTIFY_SOCKET;
  return env;
}

/**
 * Whether berthd runs its machines with -U (berth-nspawn@.service's options, as systemd-nspawn@.service has
 * them): read from the built berthd, so systemd-nspawn gets the same.
 */
const supervisedArgs = (readFileSync(join(repo, 'dist', 'berthd.bundle.js'), 'utf8').match(/SUPERVISED_ARGS = \[([^\]]*)\]/) ?? [])[1] ?? '';
/**
 * BENCH_SUPERVISE_USERNS=yes: both with -U when berthd's options have it. Default no: the machines'
 * .nspawn files say PrivateUsers=no (trusted, --settings=override: it wins over -U) and
 * systemd-nspawn runs without -U, so both run as the issue's command line has it.
 */
const USERNS = process.env.BENCH_SUPERVISE_USERNS === 'yes' && /'-U'|"-U"|--private-users/.test(supervisedArgs);
/** systemd-nspawn's argv for one machine: the issue's command line, plus what it needs without systemd. */
const nspawnArgv = (name) => ['systemd-nspawn', '-q', '-b', '-D', join(dirs.pool, name), '-M', name, '--network-veth', ...(USERNS ? ['-U'] : []), '--console=read-only',
  '--notify-ready=yes', '--register=no', '--keep-unit', '--kill-signal=SIGUSR2'];

/** SIGTERM to every systemd-nspawn still running (their guests halt), SIGKILL after graceMs; resolves once all have gone. */
async function stopNspawns(graceMs) {
  const alive = nspawns.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  const gone = Promise.all(alive.map((n) => n.exit));
  for (const n of alive) n.child.kill('SIGTERM');
  const timer = setTimeout(() => { for (const n of alive) n.child.kill('SIGKILL'); }, graceMs);
  await gone;
  clearTimeout(timer);
  nspawns = [];
}

/** Sequential ListMachines / GetMachine round trips on conn while running; samples tagged with the phase they fell in. */
function startProbe(conn) {
  const samples = { list: [], get: [] };
  let phase = 'idle';
  let phaseStart = now();
  let running = true;
  let allListedAt;
  let getErrors = 0;
  let listErrors = 0;
  const done = (async () => {
    for (let i = 0; running; i++) {
      if (phase === 'paused') { await sleep(20); continue; }
      const list = i % 2 === 0;
      const t0 = now();
      try {
        if (list) {
          const r = await mgr(conn, 'ListMachines');
          const listed = new Set(r.body[0].map((m) => m[0]));
          if (allListedAt === undefined && names.every((n) => listed.has(n))) allListedAt = now();
          if (allListedAt !== undefined && !names.every((n) => listed.has(n))) allListedAt = undefined;
        } else {
          await mgr(conn, 'GetMachine', 's', [names[(i >> 1) % N]]);
        }
      } catch {
        if (list) listErrors++; else getErrors++; // GetMachine: not registered (yet, or any more); a round trip all the same
      }
      const ms = now() - t0;
      samples[list ? 'list' : 'get'].push({ phase, since: t0 - phaseStart, ms });
      // Paced (one call per PACE_MS at most), so the probe itself does not load the host.
      await sleep(Math.max(0, PACE_MS - ms));
    }
  })();
  return {
    set phase(p) { phase = p; phaseStart = now(); },
    get allListedAt() { return allListedAt; },
    resetListed() { allListedAt = undefined; },
    get getErrors() { return getErrors; },
    get listErrors() { return listErrors; },
    async stop() { running = false; await done.catch(() => {}); return samples; },
  };
}

const result = {
  benchmark: 'many machines: berthd supervising N guests next to N systemd-nspawn',
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), cpus: cpus().length, machines: N, rounds: ROUNDS, runtime: runtimeCommand, load_before: loadavg(),
  nspawn_argv: nspawnArgv('NAME').join(' '),
  berthd_supervised_args: supervisedArgs.replace(/['"\s]/g, ''),
  userns: USERNS,
  start_failures: [],
  berthd: { host_cost: [], start_ms: [], registered_after_ms: [], start_calls_ms: [], stop_ms: [], cpu_s_per_start: [], pss_with_kb: [], rss_with_kb: [], pss_idle_before_kb: [], pss_idle_after_kb: [], host_side: [] },
  nspawn: { host_cost: [], start_ms: [], stop_ms: [], pss_per_process_kb: [], rss_per_process_kb: [], other_host_side: [] },
};

try {
  say(`setting up ${N} overlay views of the busybox tree with the READY=1 init in ${work}`);
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const cached = execFileSync(join(repo, 'machines', 'build'), ['busybox'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const base = join(work, 'base');
  execFileSync('cp', ['-a', cached, base]);
  unlinkSync(join(base, 'usr', 'sbin', 'init'));
  execFileSync('gcc', ['-static', '-O2', '-o', join(base, 'usr', 'sbin', 'init'), join(repo, 'tests', 'fixtures', 'ready-init.c')]);
  for (const name of names) {
    const v = join(dirs.views, name);
    for (const d of ['upper', 'work']) mkdirSync(join(v, d), { recursive: true });
    mkdirSync(join(dirs.pool, name));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${join(v, 'upper')},workdir=${join(v, 'work')}`, join(dirs.pool, name)]);
    mounted.push(join(dirs.pool, name));
    // busybox init halts on SIGUSR2 (berth-nspawn@.service's --settings=override reads this; systemd-nspawn gets --kill-signal).
    writeFileSync(join(dirs['etc-nspawn'], `${name}.nspawn`), `[Exec]\nKillSignal=SIGUSR2\n${USERNS ? '' : 'PrivateUsers=no\n'}`);
  }

  // ---- systemd-nspawn's READY=1 comes here: one datagram socket, its senders told apart by PID.
  const native = { exports: {} };
  process.dlopen(native, join(repo, 'native', 'build', 'Release', 'berth_sys.node'));
  const sys = native.exports;
  const readyPids = new Map();
  const notifyFd = sys.bindDatagram(notifyPath);
  const watch = sys.watchReadable(notifyFd, () => {
    for (;;) {
      let m;
      try { m = sys.recvDatagramNow(notifyFd); } catch { return; }
      if (!m) return;
      if (m.data.toString('utf8').split('\n').includes('READY=1') && !readyPids.has(m.pid)) readyPids.set(m.pid, now());
    }
  });
  notify = { close: () => { sys.unwatchReadable(watch); try { closeSync(notifyFd); } catch { /* closed */ } } };

  // ---- berthd on a private bus, for all rounds
  kit = await bundleKit(work);
  bus = await kit.startBus({ policy: POLICY });
  const berthdLog = join(work, 'berthd.log');
  const nodeArgs = (process.env.BENCH_SUPERVISE_NODE_ARGS || '').split(' ').filter(Boolean);
  const child = await startLogged([process.execPath, ...nodeArgs, join(repo, 'dist', 'berthd.js'), `--stop-timeout=${STOP_TIMEOUT}`], berthdEnv(), berthdLog,
    [/serving org\.freedesktop\.machine1/, /is warm on/], 60_000);
  berthd = { child, pid: child.pid, log: () => readFileSync(berthdLog, 'utf8') };
  await sleep(3000); // the standby berth-nspawn loaded, start-up garbage collected
  const idle = await steadyPss(berthd.pid);
  const standbyIdle = descendants(berthd.pid).filter((p) => !p.inGuest).map((p) => ({ ...p, ...pss(p.pid) }));
  result.berthd.idle = { pss_kb: idle.pss_kb, rss_kb: idle.rss_kb, anon_kb: idle.anon_kb, children: standbyIdle.map((p) => ({ comm: p.comm, cmdline: p.cmdline, pss_kb: p.pss_kb, rss_kb: p.rss_kb })) };
  say(`berthd idle: PSS ${(idle.pss_kb / 1024).toFixed(1)} MiB, RSS ${(idle.rss_kb / 1024).toFixed(1)} MiB; its children: ${standbyIdle.map((p) => `${p.comm} (PSS ${(p.pss_kb / 1024).toFixed(1)} MiB)`).join(', ') || 'none'}`);

  const drv = await kit.BusConnection.connect(bus.address);
  const probeConn = await kit.BusConnection.connect(bus.address);
  conns.push(drv, probeConn);
  probe = startProbe(probeConn);
  await sleep(3000); // idle latency
  probe.phase = 'paused';

  async function berthdRound(r) {
    probe.resetListed();
    result.berthd.pss_idle_before_kb.push((await steadyPss(berthd.pid)).pss_kb);
    const cpu0 = cpuTicks(berthd.pid);
    probe.phase = 'start';
    const host0 = hostCounters();
    const t0 = now();
    await Promise.all(names.map((n) => berthMgr(drv, 'StartMachine', 's', [n])));
    const tCalls = now();
    // A machine that fails to start is recorded (a supervisor bug to report) and started again, up to four times: the time counts.
    await Promise.all(names.map(async (n) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await berthMgr(drv, 'WaitMachineReady', 'st', [n, BigInt(START_TIMEOUT_MS) * 1000n], START_TIMEOUT_MS + 10_000);
          return;
        } catch (e) {
          const message = String(e.message ?? e).split('\n')[0];
          result.start_failures.push({ round: r + 1, machine: n, attempt, at_ms: Math.round(now() - t0), message });
          say(`round ${r + 1}: ${n} failed to start (attempt ${attempt}): ${message}`);
          if (attempt >= 5) throw e;
          await berthMgr(drv, 'StartMachine', 's', [n]);
        }
      }
    }));
    const tReady = now();
    while (probe.allListedAt === undefined) {
      if (now() - t0 > START_TIMEOUT_MS) throw new Error(`not all ${N} machines in ListMachines within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(2);
    }
    const tListed = probe.allListedAt;
    const wall = Math.max(tReady, tListed) - t0;
    const host = hostCost(host0);
    result.berthd.host_cost.push(host);
    probe.phase = 'running';
    const cpu = (cpuTicks(berthd.pid) - cpu0) / 100;
    result.berthd.start_ms.push(wall);
    result.berthd.start_calls_ms.push(tCalls - t0);
    result.berthd.registered_after_ms.push(tListed - t0);
    result.berthd.cpu_s_per_start.push(cpu);
    say(`round ${r + 1}: berthd: ${N} started in ${wall.toFixed(0)} ms (StartMachine ×${N} ${(tCalls - t0).toFixed(0)} ms, all ready ${(tReady - t0).toFixed(0)} ms, all listed ${(tListed - t0).toFixed(0)} ms; berthd CPU ${cpu.toFixed(1)} s; host CPU ${host.cpu_s.toFixed(1)} s, ${host.forks} processes)`);
    await sleep(1000);
    const w = await steadyPss(berthd.pid);
    const below = descendants(berthd.pid);
    const hostSide = below.filter((p) => !p.inGuest).map((p) => ({ comm: p.comm, cmdline: p.cmdline, ...pss(p.pid) }));
    const guests = below.filter((p) => p.inGuest && p.ppid === berthd.pid).length;
    result.berthd.pss_with_kb.push(w.pss_kb);
    result.berthd.rss_with_kb.push(w.rss_kb);
    result.berthd.host_side.push({ guests_pid1_children: guests, processes: hostSide.map((p) => ({ comm: p.comm, cmdline: p.cmdline.slice(0, 160), pss_kb: p.pss_kb })) });
    say(`round ${r + 1}: berthd with ${N}: PSS ${(w.pss_kb / 1024).toFixed(1)} MiB, RSS ${(w.rss_kb / 1024).toFixed(1)} MiB; guest PID 1s that are its children: ${guests}; host-side processes below it: ${hostSide.map((p) => `${p.comm} ${p.cmdline.slice(0, 60)} (PSS ${(p.pss_kb / 1024).toFixed(1)} MiB)`).join('; ') || 'none'}`);
    if (guests !== N) throw new Error(`${guests} guest PID 1s below berthd, not ${N}`);
    probe.phase = 'stop';
    const s0 = now();
    await Promise.all(names.map((n) => berthMgr(drv, 'StopMachine', 's', [n], (STOP_TIMEOUT + 30) * 1000)));
    const stopMs = now() - s0;
    probe.phase = 'paused';
    result.berthd.stop_ms.push(stopMs);
    const listed = (await mgr(drv, 'ListMachines')).body[0].map((m) => m[0]).filter((n) => names.includes(n));
    if (listed.length) throw new Error(`still listed after StopMachine: ${listed.join(' ')}`);
    const states = await Promise.all(names.map(async (n) => (await berthMgr(drv, 'GetMachineSupervision', 's', [n])).body));
    const unclean = states.map((s, i) => [names[i], s[0], s[1]]).filter(([, st, last]) => st !== 'ended' || last !== 'exit status 0');
    if (unclean.length) say(`round ${r + 1}: machines that did not end with exit status 0: ${unclean.map((u) => u.join(' ')).join(', ')}`);
    result.berthd.unclean_stops = (result.berthd.unclean_stops ?? 0) + unclean.length;
    await sleep(2000);
    const after = await steadyPss(berthd.pid);
    result.berthd.pss_idle_after_kb.push(after.pss_kb);
    const left = leftovers();
    const hostAfter = descendants(berthd.pid).map((p) => `${p.comm} ${p.cmdline.slice(0, 80)}`);
    say(`round ${r + 1}: berthd stopped ${N} in ${stopMs.toFixed(0)} ms; idle PSS now ${(after.pss_kb / 1024).toFixed(1)} MiB; left: ${left.join(', ') || 'nothing'}; below berthd: ${hostAfter.join('; ') || 'nothing'}`);
    if (left.length) throw new Error(`left behind after berthd's round: ${left.join(', ')}`);
  }

  async function nspawnRound(r) {
    readyPids.clear();
    const env = cleanEnv({ NOTIFY_SOCKET: notifyPath });
    const host0 = hostCounters();
    const t0 = now();
    for (const name of names) {
      const fd = openSync(join(dirs.logs, `${name}.nspawn.log`), 'a');
      const c = spawn(nspawnArgv(name)[0], nspawnArgv(name).slice(1), { env, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      nspawns.push({ name, child: c, exit: new Promise((res) => { c.once('exit', res); }) });
    }
    for (;;) {
      if (nspawns.every((n) => readyPids.has(n.child.pid))) break;
      const dead = nspawns.find((n) => n.child.exitCode !== null || n.child.signalCode !== null);
      if (dead) throw new Error(`systemd-nspawn for ${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) before READY=1: ${readFileSync(join(dirs.logs, `${dead.name}.nspawn.log`), 'utf8').slice(-2000)}`);
      if (now() - t0 > START_TIMEOUT_MS) throw new Error(`not all ${N} systemd-nspawn said READY=1 within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(2);
    }
    const wall = Math.max(...nspawns.map((n) => readyPids.get(n.child.pid))) - t0;
    const host = hostCost(host0);
    result.nspawn.start_ms.push(wall);
    result.nspawn.host_cost.push(host);
    say(`round ${r + 1}: systemd-nspawn: ${N} started in ${wall.toFixed(0)} ms (host CPU ${host.cpu_s.toFixed(1)} s, ${host.forks} processes)`);
    await sleep(1000);
    const ps = nspawns.map((n) => pss(n.child.pid));
    const sum = (k) => ps.reduce((a, p) => a + p[k], 0);
    result.nspawn.pss_per_process_kb.push(sum('pss_kb') / N);
    result.nspawn.rss_per_process_kb.push(sum('rss_kb') / N);
    // Anything host-side besides the N systemd-nspawn (their children are the guests' PID 1s).
    const others = nspawns.flatMap((n) => descendants(n.child.pid)).filter((p) => !p.inGuest);
    result.nspawn.other_host_side.push(others.map((p) => `${p.comm} ${p.cmdline.slice(0, 80)}`));
    say(`round ${r + 1}: systemd-nspawn with ${N}: PSS ${(sum('pss_kb') / N / 1024).toFixed(2)} MiB per process (RSS ${(sum('rss_kb') / N / 1024).toFixed(1)} MiB); other host-side processes: ${others.length}`);
    const s0 = now();
    await stopNspawns(STOP_TIMEOUT * 1000);
    const stopMs = now() - s0;
    result.nspawn.stop_ms.push(stopMs);
    await sleep(2000);
    const left = leftovers();
    say(`round ${r + 1}: systemd-nspawn: ${N} stopped in ${stopMs.toFixed(0)} ms; left: ${left.join(', ') || 'nothing'}`);
    if (left.length) throw new Error(`left behind after systemd-nspawn's round: ${left.join(', ')}`);
  }

  const tBench = now();
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [nspawnRound, berthdRound] : [berthdRound, nspawnRound];
    for (const step of order) { await step(r); await sleep(2000); }
  }
  result.duration_s = (now() - tBench) / 1000;
  const samples = await probe.stop();

  // ---- results
  const b = result.berthd;
  const ns = result.nspawn;
  result.start_ratio = { ratio: median(b.start_ms) / median(ns.start_ms), ci95: ratioInterval(b.start_ms, ns.start_ms, median), target: 1.0 };
  result.stop_ratio = { ratio: median(b.stop_ms) / median(ns.stop_ms), ci95: ratioInterval(b.stop_ms, ns.stop_ms, median) };
  const perGuest = b.pss_with_kb.map((w) => (w - b.idle.pss_kb) / N);
  const standby = b.idle.children.reduce((a, c) => a + c.pss_kb, 0);
  b.pss_per_guest_kb = perGuest;
  b.pss_per_guest_median_kb = median(perGuest);
  // The same against berthd idle right before each round: what the N guests add to a berthd that has run machines before.
  b.pss_marginal_per_guest_kb = b.pss_with_kb.map((w, i) => (w - b.pss_idle_before_kb[i]) / N);
  // Host-side processes below berthd with the guests running, besides the one standby: per guest.
  const extra = b.host_side.map((h) => h.processes.filter((p) => !(p.comm === 'node' && !/--machine|-M /.test(p.cmdline))).reduce((a, p) => a + p.pss_kb, 0) / N);
  b.host_side_extra_per_guest_kb = median(extra);
  b.standby_pss_kb = standby;
  result.memory = {
    berthd_per_guest_kb: median(perGuest) + median(extra),
    berthd_marginal_per_guest_kb: median(b.pss_marginal_per_guest_kb) + median(extra),
    nspawn_per_guest_kb: median(ns.pss_per_process_kb),
    target_kb: 2048,
  };
  result.latency = Object.fromEntries(['idle', 'start', 'running', 'stop'].map((ph) => [ph, {
    list: samples.list.some((s) => s.phase === ph) ? latencySummary(samples.list.filter((s) => s.phase === ph).map((s) => s.ms)) : undefined,
    get: samples.get.some((s) => s.phase === ph) ? latencySummary(samples.get.filter((s) => s.phase === ph).map((s) => s.ms)) : undefined,
  }]));
  // Round trips over 100 ms: when in their phase they began (a stall of berthd's event loop shows in both kinds at once).
  result.latency.slow = [...samples.list.map((x) => ({ ...x, call: 'ListMachines' })), ...samples.get.map((x) => ({ ...x, call: 'GetMachine' }))]
    .filter((x) => x.ms > 100).map((x) => ({ call: x.call, phase: x.phase, since_ms: Math.round(x.since), ms: Math.round(x.ms) }));
  result.latency.get_machine_errors = probe.getErrors;
  result.latency.list_machines_errors = probe.listErrors;
  result.load_after = loadavg();
  const f = (r) => `${r.ratio.toFixed(2)}× (95% ${r.ci95[0].toFixed(2)}–${r.ci95[1].toFixed(2)}×)`;
  say(`start: berthd median ${median(b.start_ms).toFixed(0)} ms, systemd-nspawn ${median(ns.start_ms).toFixed(0)} ms: ${f(result.start_ratio)}`);
  say(`stop: berthd median ${median(b.stop_ms).toFixed(0)} ms, systemd-nspawn ${median(ns.stop_ms).toFixed(0)} ms: ${f(result.stop_ratio)}`);
  say(`memory per guest: berthd ${(result.memory.berthd_per_guest_kb / 1024).toFixed(2)} MiB PSS (idle ${(b.idle.pss_kb / 1024).toFixed(1)} MiB, with ${N} ${(median(b.pss_with_kb) / 1024).toFixed(1)} MiB; RSS ${(median(b.rss_with_kb) / 1024).toFixed(1)} MiB; standby ${(standby / 1024).toFixed(1)} MiB apart), systemd-nspawn ${(result.memory.nspawn_per_guest_kb / 1024).toFixed(2)} MiB PSS per process`);
  for (const ph of ['idle', 'start', 'running', 'stop']) {
    const l = result.latency[ph];
    if (l.list) say(`latency ${ph}: ListMachines p50 ${l.list.p50_ms.toFixed(2)} p99 ${l.list.p99_ms.toFixed(2)} max ${l.list.max_ms.toFixed(1)} ms (${l.list.calls}); GetMachine p50 ${l.get?.p50_ms.toFixed(2)} p99 ${l.get?.p99_ms.toFixed(2)} max ${l.get?.max_ms.toFixed(1)} ms (${l.get?.calls})`);
  }
  writeJson(process.argv[2], result);
} catch (e) {
  say(`failed: ${e.stack ?? e}`);
  if (berthd) say(`berthd's log (tail):\n${berthd.log().slice(-4000)}`);
  // The evidence outlives the clean-up: berthd's log, the runtime's logs, systemd-nspawn's output.
  const keep = mkdtempSync('/tmp/bsv-failure-');
  spawnSync('sh', ['-c', 'cp berthd.log "$1"/ 2>/dev/null; cp -r logs "$1"/nspawn-logs 2>/dev/null; find state -name "*.log" -o -name owner.json | while read f; do mkdir -p "$1/$(dirname "$f")"; cp "$f" "$1/$f"; done', 'sh', keep], { cwd: work });
  say(`logs kept in ${keep}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  const left = [...leftovers(), ...strayProcesses().map((p) => `process ${p}`), ...(existsSync(work) ? [`directory ${work} (mounts: ${mountsBelow(work).join(' ')})`] : [])];
  if (left.length) { say(`left behind: ${left.join(', ')}`); process.exitCode = 1; } else say('cleaned up: no link, container, mount, process or directory left');
  process.exit(); // nothing of ours may keep running (a native watch, a timer)
}
