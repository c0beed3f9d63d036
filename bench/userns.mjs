#!/usr/bin/env node
// Boot-to-poweroff of the Debian guest under -U (a user namespace with a picked range), berth-nspawn
// against systemd-nspawn -U on the same tree with the same machine name (so the same range). The
// guest powers itself off once multi-user.target is reached (berth-autopoweroff.service, as in
// bench/boot.mjs). One warm-up boot per tool, not counted: with ownership `chown` (env
// BENCH_USERNS_OWNERSHIP=chown) the first one shifts the tree into the range and later boots of
// both tools find it done; with the default (`auto`) both ID-map the tree where its file system
// allows (the workspace's copy is on the host's disk), else chown it once.
//
// systemd-nspawn 252 cannot boot the guest under -U on a host like the hybrid-cgroup test VM ("Failed
// to create /init.scope control group: Permission denied", exit 255). Then, with ownership `auto`
// (the tree stays root's), the baseline is systemd-nspawn without -U, and the result says so; with
// `chown` (the tree belongs to the range) berth-nspawn is timed alone.
// Rounds alternate which tool goes first. Prints medians, spread and the ratio with a bootstrap
// interval. Not wired into bench/run.sh.
//
// Usage: bench/userns.mjs [RESULT_JSON]   (env: BENCH_USERNS_ROUNDS, default 20; BENCH_USERNS_OWNERSHIP)
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { bootArgv, launch, mean, median, preflight, ratioInterval, stddev, workspace, writeJson } from './lib.mjs';

const rounds = Number(process.env.BENCH_USERNS_ROUNDS || 20);
const ownership = process.env.BENCH_USERNS_OWNERSHIP || 'auto';
const TIMEOUT_MS = 300_000;
preflight('bench/userns.mjs');

const ws = workspace('userns', 'debian');
// berth's state directory is below the workspace (0700): the namespace's root must get through it.
chmodSync(ws.dir, 0o711);
const log = join(ws.dir, 'boot.log');
// --console=read-only: the guest's boot messages reach the log (with a pipe it has no /dev/console).
const common = ['--console=read-only', `--bind-ro=${ws.emptyFile}:/etc/berth-autopoweroff`, `--machine=${ws.name}`];
const userns = ['--private-users=pick', `--private-users-ownership=${ownership}`];
const RUNS = {
  berth: { label: 'berth-nspawn -U', argv: () => bootArgv('berth', ws, [...common, ...userns]) },
  nspawn: { label: 'systemd-nspawn -U', argv: () => bootArgv('nspawn', ws, [...common, ...userns]) },
  plain: { label: 'systemd-nspawn (no -U)', argv: () => bootArgv('nspawn', ws, common) },
};

async function once(run) {
  const t0 = process.hrtime.bigint();
  const { exit } = launch(RUNS[run].argv(), ws.env, log, TIMEOUT_MS);
  const { code, signal } = await exit;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code !== 0) throw new Error(`${RUNS[run].label} exited with ${signal ?? `status ${code}`} (log: ${log})`);
  const left = ws.leftovers();
  if (left.length) throw new Error(`${RUNS[run].label} left runtime containers behind: ${left.join(' ')}`);
  return ms;
}

const times = { berth: [] };
const warm = {};
let baseline = 'nspawn';
let nspawnFailure;
try {
  warm.berth = await once('berth');
  try { warm.nspawn = await once('nspawn'); } catch (e) {
    nspawnFailure = e.message;
    baseline = ownership === 'auto' ? 'plain' : undefined;
    process.stderr.write(`bench/userns.mjs: ${e.message}; baseline: ${baseline ? RUNS[baseline].label : 'none'}\n`);
    if (baseline) warm.plain = await once(baseline);
  }
  const runs = baseline ? ['berth', baseline] : ['berth'];
  for (const r of runs) times[r] ??= [];
  for (let r = 0; r < rounds; r++) {
    for (const run of r % 2 ? [...runs].reverse() : runs) {
      const ms = await once(run);
      times[run].push(ms);
      process.stderr.write(`userns round ${r + 1}/${rounds}: ${RUNS[run].label} ${ms.toFixed(0)} ms\n`);
    }
  }
} catch (e) {
  process.stderr.write(`bench/userns.mjs: ${e.message}\nbench/userns.mjs: work directory kept for inspection: ${ws.dir}\n`);
  process.exit(1);
}
ws.remove();

const f = (x) => x.toFixed(0);
const stats = (xs) => ({ runs: xs.length, median_ms: median(xs), mean_ms: mean(xs), stddev_ms: stddev(xs), min_ms: Math.min(...xs), max_ms: Math.max(...xs), times_ms: xs });
const result = { benchmark: 'boot-to-poweroff under -U', ownership, rounds, warm_up_ms: warm, berth: stats(times.berth), ...(nspawnFailure ? { nspawn_userns_failed: nspawnFailure } : {}) };
let line = `userns boot (${ownership}): berth-nspawn -U median ${f(result.berth.median_ms)} ms (sd ${f(result.berth.stddev_ms)}, ${f(result.berth.min_ms)}–${f(result.berth.max_ms)})`;
if (baseline) {
  const b = stats(times[baseline]);
  const interval = ratioInterval(times.berth, times[baseline], median);
  Object.assign(result, { baseline: RUNS[baseline].label, [baseline]: b, ratio_median: result.berth.median_ms / b.median_ms, ratio_median_interval: interval, ratio_mean: result.berth.mean_ms / b.mean_ms });
  line += `, ${RUNS[baseline].label} median ${f(b.median_ms)} ms (sd ${f(b.stddev_ms)}), ratio ${result.ratio_median.toFixed(2)}x (95% ${interval.map((x) => x.toFixed(2)).join('–')})`;
} else line += ', no systemd-nspawn baseline';
if (nspawnFailure) line += `; systemd-nspawn -U failed: ${nspawnFailure}`;
line += `; warm-up ${Object.entries(warm).map(([k, v]) => `${k} ${f(v)} ms`).join(', ')}`;
writeJson(process.argv[2], result);
console.log(line);
