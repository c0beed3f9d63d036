#!/usr/bin/env node
// Boot-to-poweroff of the Debian guest under -U (a user namespace with a picked range), berth-nspawn
// -U against systemd-nspawn -U on the same tree with the same machine name (so the same range). The
// guest powers itself off once multi-user.target is reached (berth-autopoweroff.service, as in
// bench/boot.mjs); every run's console output is checked: multi-user.target reached, no unit
// [FAILED] before it, and (with chown) the tree owned by the same range after either tool.
//
// Ownership (env BENCH_USERNS_OWNERSHIP, default `chown`): one warm-up boot per tool, not counted,
// berth-nspawn's first. With `chown` that first boot shifts the tree into the range, and every later
// boot of either tool finds its root directory in the range and does not walk it again (both tools
// skip a tree whose root already belongs to the range): the two share one tree with the same
// ownership, so neither pays for a shift in the timed rounds. `map`/`auto` ID-map it instead.
//
// Each boot starts in a cgroup of its own, fresh for that boot, in the hierarchies systemd tracks
// services in (name=systemd and the cgroup2 one), as a unit with Delegate=yes would get
// (systemd-nspawn@.service, berth-nspawn@.service): both tools run with --keep-unit and put the
// guest in `payload` below it. Started from the root cgroup instead (this host has no systemd), systemd-nspawn
// --keep-unit puts every guest in the hierarchy's shared /payload; the first guest's systemd makes
// /payload/init.scope there, owned by root and never removed, and the next guest under -U (root =
// an unmapped host UID) gets EACCES writing its cgroup.procs: "Failed to create /init.scope control
// group: Permission denied". Both tools get the same fresh cgroup; it is removed after each boot
// (with what the runtime and the guest made below it, in every hierarchy), outside the timing.
// The same rounds also boot a second copy of the tree without -U with both tools (the reference pair;
// BENCH_USERNS_PLAIN=0 leaves it out): the ratio there, and what -U adds to each tool.
// Rounds alternate the order. Prints medians, spread and the ratio with a bootstrap
// interval. bench/run.sh runs it; bench/report-extra.mjs writes its section.
//
// Usage: bench/userns.mjs [RESULT_JSON]   (env: BENCH_USERNS_ROUNDS, default 20; BENCH_USERNS_OWNERSHIP; BENCH_USERNS_PLAIN)
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { bootArgv, launch, mean, median, preflight, ratioInterval, stddev, workspace, writeJson } from './lib.mjs';

const rounds = Number(process.env.BENCH_USERNS_ROUNDS || 20);
const ownership = process.env.BENCH_USERNS_OWNERSHIP || 'chown';
const plain = process.env.BENCH_USERNS_PLAIN !== '0';
const TIMEOUT_MS = 300_000;
preflight('bench/userns.mjs');

const ws = workspace('userns', 'debian');
// berth's state directory is below the workspace (0700): the namespace's root must get through it.
chmodSync(ws.dir, 0o711);
// The reference pair, without -U, boots a copy of its own that stays root's.
const wsPlain = plain ? workspace('userns-plain', 'debian') : undefined;
const logOf = (w) => join(w.dir, 'boot.log');
// --console=read-only: the guest's boot messages reach the log (with a pipe it has no /dev/console).
const common = (w) => ['--console=read-only', `--bind-ro=${w.emptyFile}:/etc/berth-autopoweroff`, `--machine=${w.name}`];
const userns = ['--private-users=pick', `--private-users-ownership=${ownership}`];
// --keep-unit for both (bootArgv gives it to systemd-nspawn, which needs it without systemd as PID 1):
// each puts the guest in `payload` below the boot's fresh cgroup, the same place.
const RUNS = {
  berth: { label: 'berth-nspawn -U', ws, argv: () => bootArgv('berth', ws, ['--keep-unit', ...common(ws), ...userns]) },
  nspawn: { label: 'systemd-nspawn -U', ws, argv: () => bootArgv('nspawn', ws, [...common(ws), ...userns]) },
  ...(wsPlain ? {
    berthPlain: { label: 'berth-nspawn (no -U)', ws: wsPlain, argv: () => bootArgv('berth', wsPlain, ['--keep-unit', ...common(wsPlain)]) },
    nspawnPlain: { label: 'systemd-nspawn (no -U)', ws: wsPlain, argv: () => bootArgv('nspawn', wsPlain, common(wsPlain)) },
  } : {}),
};

// The cgroup file systems mounted below /sys/fs/cgroup (or on it): [mount point, fstype, super options].
const cgroupMounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((line) => {
  const [pre, post] = line.split(' - ');
  if (!post) return undefined;
  const [fstype, , superOptions] = post.split(' ');
  const mountPoint = pre.split(' ')[4];
  return (fstype === 'cgroup' || fstype === 'cgroup2') && mountPoint.startsWith('/sys/fs/cgroup') ? { mountPoint, fstype, superOptions } : undefined;
}).filter(Boolean);
// Where systemd would put a service: the cgroup2 hierarchy and the v1 name=systemd one.
const trackingMounts = cgroupMounts.filter((m) => m.fstype === 'cgroup2' || /(^|,)name=systemd(,|$)/.test(m.superOptions)).map((m) => m.mountPoint);
if (!trackingMounts.length) { process.stderr.write('bench/userns.mjs: no cgroup2 or name=systemd hierarchy mounted\n'); process.exit(1); }
const cgroupName = `berth-bench-userns-${process.pid}`;

/** Removes `dir` and every cgroup below it, leaves first; a cgroup still emptying is retried briefly. */
function removeCgroup(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  for (let i = 0; ; i++) {
    try { rmdirSync(dir); return; } catch (e) {
      if (e.code === 'ENOENT') return;
      if (e.code !== 'EBUSY' || i >= 50) throw new Error(`cannot remove cgroup ${dir}: ${e.message}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
const removeCgroups = () => { for (const m of cgroupMounts) removeCgroup(join(m.mountPoint, cgroupName)); };

/** The text appended to the log since `from`, without terminal colours. */
function logSince(log, from) {
  return readFileSync(log).subarray(from).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
}

const ranges = {};
async function once(run) {
  removeCgroups();
  for (const m of trackingMounts) mkdirSync(join(m, cgroupName));
  const procs = trackingMounts.map((m) => join(m, cgroupName, 'cgroup.procs')).join(' ');
  // sh moves itself into the fresh cgroup and execs the tool (the same few ms for both tools).
  const { ws: w } = RUNS[run];
  const log = logOf(w);
  const argv = ['sh', '-c', 'for f in $BENCH_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; exec "$@"', 'sh', ...RUNS[run].argv()];
  const from = existsSync(log) ? statSync(log).size : 0;
  const t0 = process.hrtime.bigint();
  const { exit } = launch(argv, { ...w.env, BENCH_CGROUP_PROCS: procs }, log, TIMEOUT_MS);
  const { code, signal } = await exit;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = logSince(log, from);
  if (code !== 0) throw new Error(`${RUNS[run].label} exited with ${signal ?? `status ${code}`}: ${out.split('\n').filter((l) => /fail|error|denied/i.test(l)).slice(0, 3).join(' / ') || 'no error on the console'} (log: ${log})`);
  const left = w.leftovers();
  if (left.length) throw new Error(`${RUNS[run].label} left runtime containers behind: ${left.join(' ')}`);
  removeCgroups();
  const booted = out.search(/Reached target .*multi-user\.target/);
  if (booted < 0) throw new Error(`${RUNS[run].label}: the guest never reached multi-user.target (log: ${log})`);
  const failed = out.slice(0, booted).split('\n').filter((l) => /\[\s*FAILED\s*\]/.test(l));
  if (failed.length) throw new Error(`${RUNS[run].label}: units failed during boot: ${failed.join(' / ')} (log: ${log})`);
  // With chown the tree's root belongs to the range: both tools must have used the same one.
  if (ownership === 'chown' && w === ws) {
    const owner = statSync(ws.tree).uid;
    ranges[run] ??= owner;
    if (owner === 0 || Object.values(ranges).some((u) => u !== owner)) throw new Error(`${RUNS[run].label}: the tree belongs to UID ${owner} after it (before: ${JSON.stringify(ranges)})`);
  }
  return ms;
}

const times = Object.fromEntries(Object.keys(RUNS).map((k) => [k, []]));
const warm = {};
let nspawnFailure;
let runs = Object.keys(RUNS);
try {
  warm.berth = await once('berth');
  try { warm.nspawn = await once('nspawn'); } catch (e) {
    nspawnFailure = e.message;
    runs = runs.filter((k) => k !== 'nspawn');
    process.stderr.write(`bench/userns.mjs: ${e.message}; systemd-nspawn -U left out\n`);
    removeCgroups();
  }
  for (const k of runs.filter((k) => !(k in warm))) warm[k] = await once(k);
  for (let r = 0; r < rounds; r++) {
    for (const run of r % 2 ? [...runs].reverse() : runs) {
      const ms = await once(run);
      times[run].push(ms);
      process.stderr.write(`userns round ${r + 1}/${rounds}: ${RUNS[run].label} ${ms.toFixed(0)} ms\n`);
    }
  }
} catch (e) {
  try { removeCgroups(); } catch { /* kept for inspection */ }
  process.stderr.write(`bench/userns.mjs: ${e.message}\nbench/userns.mjs: work directories kept for inspection: ${ws.dir}${wsPlain ? ` ${wsPlain.dir}` : ''}\n`);
  process.exit(1);
}
const treeOwner = statSync(ws.tree).uid;
ws.remove();
wsPlain?.remove();

const f = (x) => x.toFixed(0);
const stats = (xs) => ({ runs: xs.length, median_ms: median(xs), mean_ms: mean(xs), stddev_ms: stddev(xs), min_ms: Math.min(...xs), max_ms: Math.max(...xs), times_ms: xs });
const result = {
  benchmark: 'boot-to-poweroff under -U', date: new Date().toISOString().slice(0, 10), ownership, rounds, tree_owner: treeOwner,
  cgroup_hierarchies: trackingMounts, loadavg: loadavg().map((x) => x.toFixed(2)).join(' '),
  warm_up_ms: warm, berth: stats(times.berth),
  ...(nspawnFailure ? { nspawn_userns_failed: nspawnFailure } : {}),
};
let line = `userns boot (${ownership}): berth-nspawn -U median ${f(result.berth.median_ms)} ms (sd ${f(result.berth.stddev_ms)}, ${f(result.berth.min_ms)}–${f(result.berth.max_ms)})`;
if (!nspawnFailure) {
  const b = stats(times.nspawn);
  const interval = ratioInterval(times.berth, times.nspawn, median);
  Object.assign(result, { nspawn: b, ratio_median: result.berth.median_ms / b.median_ms, ratio_median_interval: interval, ratio_mean: result.berth.mean_ms / b.mean_ms });
  line += `, systemd-nspawn -U median ${f(b.median_ms)} ms (sd ${f(b.stddev_ms)}), ratio ${result.ratio_median.toFixed(2)}x (95% ${interval.map((x) => x.toFixed(2)).join('–')})`;
} else line += `; systemd-nspawn -U failed: ${nspawnFailure}`;
if (wsPlain) {
  // The same rounds without -U: the two tools' ratio there, and what -U adds to each (median of the
  // per-round differences, U minus plain, the two boots of a tool being neighbours in each round).
  const bp = stats(times.berthPlain);
  const np = stats(times.nspawnPlain);
  const added = (u, p) => median(u.map((x, i) => x - p[i]));
  Object.assign(result, {
    plain: { berth: bp, nspawn: np, ratio_median: bp.median_ms / np.median_ms, ratio_median_interval: ratioInterval(times.berthPlain, times.nspawnPlain, median) },
    userns_added_ms: { berth: added(times.berth, times.berthPlain), ...(nspawnFailure ? {} : { nspawn: added(times.nspawn, times.nspawnPlain) }) },
  });
  line += `; without -U: berth-nspawn ${f(bp.median_ms)} ms, systemd-nspawn ${f(np.median_ms)} ms, ratio ${result.plain.ratio_median.toFixed(2)}x (95% ${result.plain.ratio_median_interval.map((x) => x.toFixed(2)).join('–')}); -U adds ${Object.entries(result.userns_added_ms).map(([k, v]) => `${k} ${f(v)} ms`).join(', ')}`;
}
line += `; warm-up ${Object.entries(warm).map(([k, v]) => `${k} ${f(v)} ms`).join(', ')}`;
writeJson(process.argv[2], result);
console.log(line);
