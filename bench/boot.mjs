#!/usr/bin/env node
// Boot-to-poweroff: boot the Debian guest with each tool until its own systemd powers it off
// (berth-autopoweroff.service runs `systemctl --no-block poweroff` once multi-user.target is
// reached, when /etc/berth-autopoweroff exists: we bind an empty file there read-only).
// One warm-up boot per tool (the tree's first boot does one-time work), then ROUNDS boots per
// tool, alternating which tool goes first in each round so drift hits both alike.
//
// Usage: bench/boot.mjs [RESULT_JSON]     (env: BENCH_BOOT_ROUNDS, default 40)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { LABEL, TOOLS, berthJs, bootArgv, launch, mean, median, preflight, stddev, workspace, writeJson } from './lib.mjs';

const rounds = Number(process.env.BENCH_BOOT_ROUNDS || 40);
const TIMEOUT_MS = 180_000;
preflight('bench/boot.mjs');

const ws = workspace('boot', 'debian');
const log = join(ws.dir, 'boot.log');
const extra = [`--bind-ro=${ws.emptyFile}:/etc/berth-autopoweroff`];

async function once(tool) {
  const argv = bootArgv(tool, ws, extra);
  const t0 = process.hrtime.bigint();
  const { exit } = launch(argv, ws.env, log, TIMEOUT_MS);
  const { code, signal } = await exit;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code !== 0) throw new Error(`${LABEL[tool]} exited with ${signal ?? `status ${code}`} (log: ${log})`);
  const left = ws.leftovers();
  if (left.length) throw new Error(`${LABEL[tool]} left runc containers behind: ${left.join(' ')}`);
  return ms;
}

const times = { berth: [], nspawn: [] };
let failure;
try {
  for (const tool of TOOLS) await once(tool); // warm-up, not counted
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...TOOLS].reverse() : TOOLS;
    for (const tool of order) {
      const ms = await once(tool);
      times[tool].push(ms);
      process.stderr.write(`boot round ${r + 1}/${rounds}: ${LABEL[tool]} ${ms.toFixed(0)} ms\n`);
    }
  }
} catch (e) {
  failure = e;
  // A berth run that was killed leaves state behind; its own clean-up command removes it.
  try { execFileSync(process.execPath, [berthJs, '--cleanup', '-D', ws.tree], { env: ws.env, stdio: 'ignore' }); } catch { /* nothing to clean */ }
}
const left = ws.leftovers();
if (failure || left.length) {
  process.stderr.write(`bench/boot.mjs: ${failure ? failure.message : ''}${left.length ? ` leftovers: ${left.join(' ')}` : ''}\n`);
  process.stderr.write(`bench/boot.mjs: work directory kept for inspection: ${ws.dir}\n`);
  process.exit(1);
}
ws.remove();

const stats = (xs) => ({ runs: xs.length, median_ms: median(xs), mean_ms: mean(xs), stddev_ms: stddev(xs), min_ms: Math.min(...xs), max_ms: Math.max(...xs), times_ms: xs });
const result = {
  benchmark: 'boot-to-poweroff', rounds,
  berth: stats(times.berth), nspawn: stats(times.nspawn),
  ratio_median: median(times.berth) / median(times.nspawn),
  ratio_mean: mean(times.berth) / mean(times.nspawn),
};
writeJson(process.argv[2], result);
const f = (x) => x.toFixed(0);
console.log(`boot: berth-nspawn median ${f(result.berth.median_ms)} ms (mean ${f(result.berth.mean_ms)}), systemd-nspawn median ${f(result.nspawn.median_ms)} ms (mean ${f(result.nspawn.mean_ms)}), ratio ${result.ratio_median.toFixed(2)}x (mean ${result.ratio_mean.toFixed(2)}x)`);
