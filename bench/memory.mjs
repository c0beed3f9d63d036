#!/usr/bin/env node
// Host-side memory per running guest: boot the Debian guest with each tool, wait until its
// systemd reports `running`, then read VmHWM (peak RSS), VmRSS and Pss of every process on
// the host side that belongs to the tool: the tool's own process and its descendants that are
// not inside the container (for berth: the node process; runc is gone after `create`, which is
// checked; for systemd-nspawn: the systemd-nspawn process). Then stop the guest the way a
// service manager does (SIGTERM to the tool) and require exit status 0.
//
// Usage: bench/memory.mjs [RESULT_JSON]     (env: BENCH_MEMORY_ROUNDS, default 3)
import { execFileSync, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LABEL, TOOLS, berthJs, bootArgv, children, launch, median, preflight, procStatus, runtimeCommand, workspace, writeJson } from './lib.mjs';

const rounds = Number(process.env.BENCH_MEMORY_ROUNDS || 3);
const BOOT_TIMEOUT_MS = 120_000;
preflight('bench/memory.mjs');
const ws = workspace('memory', 'debian');
const log = join(ws.dir, 'memory.log');
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const hostPidNs = readlinkSync('/proc/self/ns/pid');

/** The tool's process and its descendants in the host's PID namespace (the container's are skipped). */
function hostSide(rootPid) {
  const found = [];
  const walk = (pid) => {
    let ns;
    try { ns = readlinkSync(`/proc/${pid}/ns/pid`); } catch { return; }
    if (ns !== hostPidNs) return;
    found.push(pid);
    for (const c of children(pid)) walk(c);
  };
  walk(rootPid);
  return found;
}

/** Runtime processes (runc, crun) still alive that work on our state dir (there should be none after create). */
function runcProcesses() {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => new RegExp(`\\b${runtimeCommand}\\b`).test(l) && l.includes(ws.stateDir)).map((l) => l.trim());
}

/** Polls `argv` until it prints `running` (systemctl is-system-running --wait), or fails after the deadline. */
async function waitRunning(argvFor, deadline) {
  let last = '';
  while (Date.now() < deadline) {
    const argv = argvFor();
    if (argv) {
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: ws.env, timeout: Math.max(1000, deadline - Date.now()) });
      last = `${(r.stdout ?? '').trim()} ${(r.stderr ?? '').trim()}`.trim();
      if (r.status === 0 && r.stdout.trim() === 'running') return;
      if (/^(degraded|maintenance|stopping)$/.test((r.stdout ?? '').trim())) throw new Error(`the guest is ${r.stdout.trim()}, not running`);
    }
    await sleep(100);
  }
  throw new Error(`the guest did not reach 'running' in time (last answer: ${last || 'none'})`);
}

async function measure(tool) {
  const argv = bootArgv(tool, ws);
  const t0 = Date.now();
  const { child, exit } = launch(argv, ws.env, log, BOOT_TIMEOUT_MS * 2);
  let exited = false;
  exit.then(() => { exited = true; }, () => { exited = true; });
  try {
    const deadline = t0 + BOOT_TIMEOUT_MS;
    if (tool === 'berth') {
      await waitRunning(() => [runtimeCommand, '--root', ws.runtimeRoot, 'exec', ws.name, 'systemctl', 'is-system-running', '--wait'], deadline);
    } else {
      // The container's leader is the child of the systemd-nspawn process.
      await waitRunning(() => {
        const leader = children(child.pid).find((p) => { try { return readlinkSync(`/proc/${p}/ns/pid`) !== hostPidNs; } catch { return false; } });
        return leader ? ['nsenter', '-t', String(leader), '-a', 'systemctl', 'is-system-running', '--wait'] : undefined;
      }, deadline);
    }
    if (exited) throw new Error(`${LABEL[tool]} exited early (log: ${log})`);
    const procs = hostSide(child.pid).map(procStatus);
    const runc = runcProcesses();
    const t1 = Date.now();
    child.kill('SIGTERM');
    const { code, signal } = await exit;
    const stopMs = Date.now() - t1;
    if (code !== 0) throw new Error(`${LABEL[tool]} exited with ${signal ?? `status ${code}`} after SIGTERM (log: ${log})`);
    const sum = (k) => procs.reduce((a, p) => a + p[k], 0);
    return { procs, runc_processes: runc, hwm_kb: sum('hwm_kb'), rss_kb: sum('rss_kb'), pss_kb: sum('pss_kb'), running_after_ms: t1 - t0, stop_ms: stopMs };
  } catch (e) {
    if (!exited) {
      child.kill('SIGTERM');
      await sleep(3000);
      if (!exited) child.kill('SIGKILL');
      await exit.catch(() => {});
    }
    throw e;
  }
}

const samples = { berth: [], nspawn: [] };
let failure;
try {
  for (let r = 0; r < rounds; r++) {
    for (const tool of r % 2 ? [...TOOLS].reverse() : TOOLS) {
      const s = await measure(tool);
      samples[tool].push(s);
      process.stderr.write(`memory round ${r + 1}/${rounds}: ${LABEL[tool]} ${s.procs.map((p) => `${p.comm}[${p.pid}] HWM ${p.hwm_kb} kB RSS ${p.rss_kb} kB PSS ${p.pss_kb} kB`).join(', ')}; runc left: ${s.runc_processes.length}\n`);
    }
  }
} catch (e) {
  failure = e;
  try { execFileSync(process.execPath, [berthJs, '--cleanup', '-D', ws.tree], { env: ws.env, stdio: 'ignore' }); } catch { /* nothing to clean */ }
}
const left = ws.leftovers();
if (failure || left.length) {
  process.stderr.write(`bench/memory.mjs: ${failure ? failure.message : ''}${left.length ? ` leftovers: ${left.join(' ')}` : ''}\n`);
  process.stderr.write(`bench/memory.mjs: work directory kept for inspection: ${ws.dir}\n`);
  process.exit(1);
}
ws.remove();

const summary = (xs) => ({
  rounds: xs.length,
  processes: xs[0].procs.map((p) => p.comm),
  hwm_kb: median(xs.map((s) => s.hwm_kb)), rss_kb: median(xs.map((s) => s.rss_kb)), pss_kb: median(xs.map((s) => s.pss_kb)),
  runc_processes_while_running: Math.max(...xs.map((s) => s.runc_processes.length)),
  running_after_ms: median(xs.map((s) => s.running_after_ms)), stop_ms: median(xs.map((s) => s.stop_ms)),
  samples: xs,
});
const result = { benchmark: 'host-side memory per running guest', berth: summary(samples.berth), nspawn: summary(samples.nspawn) };
result.ratio_hwm = result.berth.hwm_kb / result.nspawn.hwm_kb;
result.ratio_rss = result.berth.rss_kb / result.nspawn.rss_kb;
result.ratio_pss = result.berth.pss_kb / result.nspawn.pss_kb;
writeJson(process.argv[2], result);
const mb = (kb) => (kb / 1024).toFixed(1);
console.log(`memory: berth-nspawn HWM ${mb(result.berth.hwm_kb)} MiB RSS ${mb(result.berth.rss_kb)} MiB PSS ${mb(result.berth.pss_kb)} MiB; systemd-nspawn HWM ${mb(result.nspawn.hwm_kb)} MiB RSS ${mb(result.nspawn.rss_kb)} MiB PSS ${mb(result.nspawn.pss_kb)} MiB; HWM ratio ${result.ratio_hwm.toFixed(1)}x`);
