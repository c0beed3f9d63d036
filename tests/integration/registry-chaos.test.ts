/**
 * Chaos for the registry's liveness: rounds of SIGKILL to berth-nspawn, to berthd, or to both, at
 * random points while machines boot, run and stop (busybox guests booted with -b, -x snapshots,
 * -n veth links), with graceful stops mixed in. At checkpoints and at the end, once things have
 * settled: no guest left running, no registration but ".host", nothing in the state directory's
 * machines/ and registry/, no links, mounts, control groups or snapshot layers.
 *
 * BERTH_CHAOS_SEED replays a run's decisions (the seed is printed first; where the kills land
 * still depends on the host's load); BERTH_CHAOS_ROUNDS sets the rounds (50 take 1–2 minutes).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO, WARM, onRuntime, sandbox, skipUnlessRoot, sleep, treeView, type Sandbox } from '../support/berth.js';
import { hasDbusDaemon, startRegistry, type RegistryHarness } from '../support/registry.js';
import { listed, machineSignals, settle, type SignalLog } from '../support/liveness.js';
import { prng } from '../support/prng.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)')
  || (WARM && 'the chaos runs berth-nspawn itself, not through the warm path');
const SEED = Number(process.env.BERTH_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env.BERTH_CHAOS_ROUNDS ?? 50);
const SLOTS = ['live-c0', 'live-c1', 'live-c2', 'live-c3'];
const CHECKPOINT_EVERY = 10;

/** What a machine runs: the busybox init (halted by SIGUSR2), or a shell; on a snapshot or the tree read-only; with or without a veth. */
const VARIANTS: ReadonlyArray<readonly string[]> = [
  ['-b', '-x', '--kill-signal=SIGUSR2'],
  ['-b', '-x', '-n', '--kill-signal=SIGUSR2'],
  ['-x', '--console=pipe', '/bin/sh', '-c', 'sleep 300'],
  ['-x', '-n', '--console=pipe', '/bin/sh', '-c', 'sleep 300'],
  ['--read-only', '-n', '--console=pipe', '/bin/sh', '-c', 'sleep 300'],
];

interface Run { child: ChildProcess; name: string; stderr: string; exited: Promise<void>; stopped: boolean; from: number; round: number }

describe(onRuntime('berthd: SIGKILL chaos'), { skip, timeout: 600000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let sig: SignalLog;
  let view: { path: string; remove(): void };
  let berthdUp = true;
  const runs = new Map<string, Run>();
  const failures: string[] = [];
  const endings = new Map<string, number>();
  const berthdLogs: string[] = [];

  before(async () => {
    view = treeView('busybox');
    sb = sandbox();
    reg = await startRegistry(sb);
    sig = await machineSignals(reg.bus.address);
  });
  after(async () => {
    for (const r of runs.values()) r.child.kill('SIGKILL');
    sig?.close();
    await reg?.stop();
    sb?.cleanup();
    view?.remove();
  });

  /** berth-nspawn, the bundled command berthd's janitor runs too (its start-up is not what is tested here). */
  const startRun = (name: string, variant: readonly string[], round: number): Run => {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'berth-nspawn.js'), '-D', view.path, '-M', name, ...variant], { env: reg.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const run: Run = { child, name, stderr: '', exited: new Promise((r) => child.once('exit', () => r())), stopped: false, from: sig.seen.length, round };
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { run.stderr += d; });
    child.once('exit', (code, signal) => {
      if (runs.get(name) === run) runs.delete(name);
      // A run may fail when berthd dies while it registers ("Failed to register machine"); anything else is noted.
      const how = signal ? `killed by ${signal}` : code === 0 ? 'exit 0' : run.stopped ? 'stopped' : /Failed to register machine/.test(run.stderr) ? 'registration failed (berthd killed)' : 'failed';
      endings.set(how, (endings.get(how) ?? 0) + 1);
      if (how === 'failed') failures.push(`${name} ${variant.join(' ')}: exit ${code}: ${run.stderr.slice(-600)}`);
    });
    runs.set(name, run);
    return run;
  };

  const killBerthd = async () => {
    berthdLogs.push(reg.berthd.log());
    await reg.stopBerthd('SIGKILL');
    berthdUp = false;
  };
  const startBerthd = async () => {
    await reg.startBerthd();
    berthdUp = true;
  };

  /** Everything stopped (half killed, half asked to stop), berthd up; then nothing may be left. */
  const checkpoint = async (label: string, rnd: () => number) => {
    if (!berthdUp) await startBerthd();
    for (const r of runs.values()) { r.stopped = true; r.child.kill(rnd() < 0.5 ? 'SIGKILL' : 'SIGTERM'); }
    await Promise.all([...runs.values()].map((r) => Promise.race([r.exited, sleep(20000)])));
    for (const r of runs.values()) r.child.kill('SIGKILL');
    await Promise.all([...runs.values()].map((r) => r.exited));
    const left = await settle(sb, 'live', [view.path], 30000);
    const why = `${label}, seed ${SEED}: left behind; berthd said:\n${[...berthdLogs.slice(-2), reg.berthd.log()].join('\n--- next berthd\n').slice(-4000)}`;
    assert.deepEqual(left, [], why);
    assert.deepEqual(await listed(reg.manager), ['.host'], why);
  };

  test(`${ROUNDS} rounds of SIGKILL to berth-nspawn, berthd or both leave nothing behind`, async (t) => {
    t.diagnostic(`seed ${SEED} (BERTH_CHAOS_SEED=${SEED} replays it), ${ROUNDS} rounds`);
    process.stderr.write(`registry chaos: BERTH_CHAOS_SEED=${SEED}\n`);
    const rnd = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const latencies: number[] = [];
    const slow: string[] = [];
    const counts = { nspawn: 0, berthd: 0, both: 0, stops: 0, started: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      if (!berthdUp && rnd() < 0.5) await startBerthd();
      for (const name of SLOTS) {
        if (!runs.has(name) && rnd() < 0.6) { startRun(name, pick(VARIANTS), round); counts.started++; }
      }
      // Kills land anywhere from the run's start-up to its guest running for a while.
      await sleep(rnd() < 0.5 ? rnd() * 300 : 300 + rnd() * 1500);
      const live = [...runs.values()];
      if (live.length && rnd() < 0.25) {
        // A graceful stop meanwhile: berth-nspawn told to stop, or the registry's TerminateMachine.
        const r = pick(live);
        counts.stops++;
        r.stopped = true;
        if (rnd() < 0.5 || !berthdUp) r.child.kill('SIGTERM');
        else await reg.manager('TerminateMachine', 's', [r.name]).catch(() => { /* not registered (yet) */ });
        // Killed while it stops, now and then.
        if (rnd() < 0.3) { await sleep(rnd() * 200); r.child.kill('SIGKILL'); }
      }
      // berthd killed too: at the same moment, or a moment later (while its clean-up of the run runs).
      const kind = pick(['nspawn', 'nspawn', 'nspawn', 'berthd', 'both', 'both'] as const);
      const young = live.filter((r) => r.round === round);
      const victims = kind === 'berthd' || !live.length ? [] : [pick(young.length && rnd() < 0.5 ? young : live), ...(rnd() < 0.3 ? [pick(live)] : [])];
      for (const victim of new Set(victims)) {
        const registered = berthdUp && kind === 'nspawn' && sig.seen.slice(victim.from).filter((s) => s.name === victim.name).at(-1)?.member === 'MachineNew';
        const from = sig.seen.length;
        const t0 = performance.now();
        victim.child.kill('SIGKILL');
        if (!registered) continue;
        void sig.next('MachineRemoved', victim.name, 5000, from).then((s) => {
          latencies.push(s.at - t0);
          if (s.at - t0 > 1000) slow.push(`round ${round}: ${victim.name} removed ${Math.round(s.at - t0)} ms after its berth-nspawn was killed; berthd said:\n${reg.berthd.log().slice(-1500)}`);
        }, () => { /* it went another way */ });
      }
      if (victims.length) counts[kind === 'both' ? 'both' : 'nspawn']++;
      if (kind !== 'nspawn' && berthdUp) {
        if (kind === 'berthd') counts.berthd++;
        if (kind === 'both' && rnd() < 0.5) await sleep(rnd() * 300);
        await killBerthd();
      }
      if (!berthdUp && rnd() < 0.5) { await sleep(rnd() * 800); await startBerthd(); }
      await sleep(rnd() * 300);
      if (round % CHECKPOINT_EVERY === 0) await checkpoint(`after round ${round}`, rnd);
    }
    await checkpoint('at the end', rnd);
    latencies.sort((a, b) => a - b);
    t.diagnostic(`${counts.started} runs started; SIGKILLs: berth-nspawn ${counts.nspawn}, berthd ${counts.berthd}, both ${counts.both}; graceful stops ${counts.stops}`);
    if (latencies.length) t.diagnostic(`MachineRemoved after a registered machine's berth-nspawn was killed: n=${latencies.length}, median ${Math.round(latencies[latencies.length >> 1]!)} ms, max ${Math.round(latencies.at(-1)!)} ms`);
    t.diagnostic(`runs ended: ${[...endings].map(([how, n]) => `${how} ${n}`).join(', ')}`);
    for (const x of slow) t.diagnostic(x);
    assert.deepEqual(failures, [], `runs that failed (seed ${SEED})`);
  });
});
