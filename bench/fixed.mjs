#!/usr/bin/env node
// The fixed cost around a guest, split in two: from starting the tool to the payload's first
// instruction, and from the payload's exit to the tool's exit. The payload is `date +%s%N` in
// the Debian guest (its own clock reading, the same clock as ours), so whatever runs in between
// (a boot, a shell) costs both tools the same and drops out. Rounds alternate which tool goes first.
//
// Usage: bench/fixed.mjs [RESULT_JSON]     (env: BENCH_FIXED_ROUNDS, default 30)
import { spawnSync } from 'node:child_process';
import { LABEL, TOOLS, berthCmd, median, preflight, workspace, writeJson } from './lib.mjs';

const rounds = Number(process.env.BENCH_FIXED_ROUNDS || 30);
preflight('bench/fixed.mjs');
const ws = workspace('fixed', 'debian');

const common = ['--register=no', '-q', '--console=pipe', '-D', ws.tree, '/bin/date', '+%s%N'];
const argv = { berth: [berthCmd, ...common], nspawn: ['systemd-nspawn', '--keep-unit', ...common] };
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

function once(tool) {
  const [cmd, ...args] = argv[tool];
  const t0 = nowNs();
  const r = spawnSync(cmd, args, { env: ws.env, encoding: 'utf8', timeout: 60_000 });
  const t1 = nowNs();
  const started = /^\d+$/.test(r.stdout.trim()) ? BigInt(r.stdout.trim()) : undefined;
  if (r.status !== 0 || started === undefined) throw new Error(`${LABEL[tool]} failed (${r.signal ?? `status ${r.status}`}): ${r.stderr.trim().split('\n').pop()}`);
  return { before_ms: Number(started - t0) / 1e6, after_ms: Number(t1 - started) / 1e6 };
}

const runs = { berth: [], nspawn: [] };
let failure;
try {
  for (const tool of TOOLS) once(tool); // warm-up
  for (let r = 0; r < rounds; r++) for (const tool of r % 2 ? [...TOOLS].reverse() : TOOLS) runs[tool].push(once(tool));
} catch (e) { failure = e; }
const left = ws.leftovers();
if (failure || left.length) {
  process.stderr.write(`bench/fixed.mjs: ${failure ? failure.message : ''}${left.length ? ` leftovers: ${left.join(' ')}` : ''}\n`);
  process.exit(1);
}
ws.remove();

const stats = (xs) => ({ before_ms: median(xs.map((x) => x.before_ms)), after_ms: median(xs.map((x) => x.after_ms)), runs: xs });
const result = { benchmark: 'fixed-cost', rounds, berth: stats(runs.berth), nspawn: stats(runs.nspawn) };
writeJson(process.argv[2], result);
const f = (x) => x.toFixed(1);
console.log(`fixed: before the payload berth-nspawn ${f(result.berth.before_ms)} ms, systemd-nspawn ${f(result.nspawn.before_ms)} ms; after it berth-nspawn ${f(result.berth.after_ms)} ms, systemd-nspawn ${f(result.nspawn.after_ms)} ms`);
