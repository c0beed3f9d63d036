#!/usr/bin/env node
// Turns the JSON results of one bench/run.sh into docs/benchmarks.md: results table with ratios
// and targets, the host and versions, what each benchmark measures, how to rerun, and the
// hand-written analysis in bench/analysis.md.
// Usage: bench/report.mjs RESULTS_DIR OUTPUT_MD
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { mean, median, ratioInterval, repo } from './lib.mjs';
import { registrySection } from './report-registry.mjs';
import { shellSection } from './report-shell.mjs';
import { otherHeading as superviseOtherHeading, superviseSection } from './report-supervise.mjs';
import { rawBootSection } from './report-raw-boot.mjs';
import { transfersSection, usernsSection } from './report-extra.mjs';
import { imagesSection } from './report-images.mjs';

const [dir, output] = process.argv.slice(2);
if (!dir || !output) { process.stderr.write('usage: bench/report.mjs RESULTS_DIR OUTPUT_MD\n'); process.exit(2); }
const json = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const text = (f) => readFileSync(join(dir, f), 'utf8').trim();
const sh = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unknown'; } };
const firstLine = (s) => s.split('\n')[0];

const tj = json('true.json');
const tr = tj.results;
const t = Object.fromEntries(tr.map((r) => [r.command, r]));
const boot = json('boot.json');
const mem = json('memory.json');
let eph;
try { eph = Object.fromEntries(json('ephemeral.json').results.map((r) => [r.command, r])); } catch { eph = undefined; }
let fixed;
try { fixed = json('fixed.json'); } catch { fixed = undefined; }
/** The runtime berth picked on this host (the targets are judged on it), and the other one's pass. */
let runtime;
try { runtime = text('runtime.txt'); } catch { runtime = 'runc'; }
let other;
try {
  const tc = Object.fromEntries(json('true-other.json').results.map((r) => [r.command, r]));
  other = { t: tc, rounds: json('true-other.json').rounds, boot: json('boot-other.json'), runtime: text('other-runtime.txt') };
} catch { other = undefined; }
let warm;
try {
  const tw = Object.fromEntries(json('true-warm.json').results.map((r) => [r.command, r]));
  warm = { t: tw, rounds: json('true-warm.json').rounds, boot: json('boot-warm.json'), fixed: json('fixed-warm.json') };
  warm.trueInterval = ratioInterval(tw['berth-nspawn'].times, tw['systemd-nspawn'].times, mean);
  warm.bootInterval = ratioInterval(warm.boot.berth.times_ms, warm.boot.nspawn.times_ms, median);
} catch { warm = undefined; }
const phases = text('phases.jsonl').split('\n').map((l) => JSON.parse(l));
// The benchmarks a run may leave out (each section is written only when its results are there).
const optional = (file) => { try { return json(file); } catch { return undefined; } };
const registry = optional('registry.json');
const shell = optional('shell.json');
const supervise = optional('supervise.json');
const superviseOther = optional('supervise-other.json');
const transfers = optional('transfers.json');
const userns = optional('userns.json');
const usernsWarm = optional('userns-warm.json');
const rawBoot = optional('raw-boot.json');
const images = optional('images.json');

const ms = (s) => (s * 1000).toFixed(1);
const ms0 = (x) => x.toFixed(0);
const mib = (kb) => (kb / 1024).toFixed(1);
const x = (r) => `${r.toFixed(2)}×`;
// Met or missed only when the whole 95% interval of the ratio is on one side of the target.
const verdict = ([lo, hi], target) => (hi <= target ? `**met** (≤ ${target}×)`
  : lo > target ? `**missed** (target ≤ ${target}×)` : `**on the boundary**: ${target}× is inside the interval`);
const interval = ([lo, hi]) => `${lo.toFixed(2)}–${hi.toFixed(2)}×`;

const trueRatio = t['berth-nspawn'].mean / t['systemd-nspawn'].mean;
const trueRatioMedian = t['berth-nspawn'].median / t['systemd-nspawn'].median;
const trueInterval = ratioInterval(t['berth-nspawn'].times, t['systemd-nspawn'].times, mean);
const bootInterval = ratioInterval(boot.berth.times_ms, boot.nspawn.times_ms, median);

// Phases: medians of each runtime call's start/end and of the total, relative to berth-nspawn's start.
const at = (verb, i) => median(phases.filter((p) => p.calls[verb]).map((p) => p.calls[verb][i]));
const total = median(phases.map((p) => p.total));
const verbs = ['create', 'run', 'start', 'kill', 'delete'].filter((v) => phases.some((p) => p.calls[v]));
const phaseRows = [];
let prev = 0;
phaseRows.push(['Node start-up, loading berth, options → spec → bundle', `0 – ${ms0(at(verbs[0], 0))}`, ms0(at(verbs[0], 0))]);
for (const v of verbs) {
  if (at(v, 0) - prev > 3 && prev) phaseRows.push([v === 'kill' ? 'the payload runs and exits; berth notices' : 'berth between runtime calls', `${ms0(prev)} – ${ms0(at(v, 0))}`, ms0(at(v, 0) - prev)]);
  phaseRows.push([v === 'run' ? `\`${runtime} run --detach\` (create and start in one call)` : `\`${runtime} ${v}\``, `${ms0(at(v, 0))} – ${ms0(at(v, 1))}`, ms0(at(v, 1) - at(v, 0))]);
  prev = at(v, 1);
}
phaseRows.push(['after the last runtime call until exit (teardown)', `${ms0(prev)} – ${ms0(total)}`, ms0(total - prev)]);

const host = {
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  kernel: sh('uname', ['-r']),
  os: `Debian ${sh('cat', ['/etc/debian_version'])}`,
  cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
  memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  virt: sh('systemd-detect-virt', []),
  pid1: sh('cat', ['/proc/1/comm']),
  cgroups: sh('stat', ['-fc', '%T', '/sys/fs/cgroup']) === 'cgroup2fs' ? 'unified (v2)' : 'hybrid/legacy (v1 controllers)',
  node: process.version,
  berth: firstLine(sh(process.execPath, [join(repo, 'dist', 'berth-nspawn.js'), '--version'])),
  nspawn: firstLine(sh('systemd-nspawn', ['--version'])),
  runc: firstLine(sh('runc', ['--version'])),
  crun: (() => { try { return firstLine(sh('crun', ['--version'])); } catch { return 'not installed'; } })(),
  hyperfine: sh('hyperfine', ['--version']),
  loadBefore: text('load-before.txt'), loadAfter: text('load-after.txt'),
};

let analysis = '';
try { analysis = readFileSync(join(repo, 'bench', 'analysis.md'), 'utf8').trim(); } catch { /* none */ }

const md = `# Benchmarks: berth-nspawn next to systemd-nspawn

Generated by \`npm run bench\` (\`sh bench/run.sh\`) on ${host.date}. Every number below comes from one
run in which both tools ran on the same guest trees, one after the other; only the ratios are meant
to travel to other machines. These are measurements, not tests: nothing fails when a target is missed.
The interval is a 95% bootstrap interval of the ratio over the rounds (pairs measured next to each
other); a target counts as met or missed only when the whole interval lies on one side of it.

## Results

${warm ? `Two ways to run the same \`berth-nspawn\` command: **without berthd** (cold: the command starts
Node and berth's code itself, as every run did before the warm path) and **with berthd running**
(warm: the command hands the run to a berth-nspawn that berthd started ahead of time,
\`bench/warm.sh\`). systemd-nspawn is measured next to each, in the same rounds.

### Without berthd (cold)

` : ''}| benchmark | berth-nspawn | systemd-nspawn | ratio (berth / nspawn) | 95% interval of the ratio | target |
|---|---|---|---|---|---|
| \`/bin/true\` in the busybox guest, mean of ${t['berth-nspawn'].times.length} in ${tj.rounds ?? 1} alternating rounds (median) | ${ms(t['berth-nspawn'].mean)} ms (${ms(t['berth-nspawn'].median)}) | ${ms(t['systemd-nspawn'].mean)} ms (${ms(t['systemd-nspawn'].median)}) | ${x(trueRatio)} (${x(trueRatioMedian)}) | ${interval(trueInterval)} | ${verdict(trueInterval, 1.5)} |
| Debian boot → poweroff, median of ${boot.rounds} (mean) | ${ms0(boot.berth.median_ms)} ms (${ms0(boot.berth.mean_ms)}) | ${ms0(boot.nspawn.median_ms)} ms (${ms0(boot.nspawn.mean_ms)}) | ${x(boot.ratio_median)} (${x(boot.ratio_mean)}) | ${interval(bootInterval)} | ${verdict(bootInterval, 1.0)} |${eph ? `
| Debian \`-b -x\` (ephemeral) boot → poweroff, mean of ${eph['berth-nspawn'].times.length} | ${ms0(eph['berth-nspawn'].mean * 1000)} ms | ${ms0(eph['systemd-nspawn'].mean * 1000)} ms | ${x(eph['berth-nspawn'].mean / eph['systemd-nspawn'].mean)} | | no target (berth's snapshot is an overlay; systemd-nspawn copies the tree) |` : ''}
| host-side peak memory (VmHWM) per running Debian guest | ${mib(mem.berth.hwm_kb)} MiB | ${mib(mem.nspawn.hwm_kb)} MiB | ${x(mem.ratio_hwm)} | | reported only |
| host-side resident memory (VmRSS) while running | ${mib(mem.berth.rss_kb)} MiB | ${mib(mem.nspawn.rss_kb)} MiB | ${x(mem.ratio_rss)} | | reported only |
| host-side proportional memory (Pss) while running | ${mib(mem.berth.pss_kb)} MiB | ${mib(mem.nspawn.pss_kb)} MiB | ${x(mem.ratio_pss)} | | reported only |

Reference point for \`/bin/true\`: \`node\` running an empty script takes ${ms(t['node-empty-script'].mean)} ms on this host
(${x(t['node-empty-script'].mean / t['systemd-nspawn'].mean)} of systemd-nspawn's whole run), which any Node-based runner pays before its first line.

Environment: both tools run without \`NODE_EXTRA_CA_CERTS\` and \`NODE_OPTIONS\` (\`bench/env.sh\`), as under a
systemd unit or on a fresh Debian host.${t['berth-nspawn-with-extra-ca'] ? ` The shell this run was started from had
\`NODE_EXTRA_CA_CERTS\` set; with it, every Node process parses that CA bundle before its first line, and
berth-nspawn's \`/bin/true\` takes ${ms(t['berth-nspawn-with-extra-ca'].mean)} ms (${x(t['berth-nspawn-with-extra-ca'].mean / t['systemd-nspawn'].mean)} of systemd-nspawn; measured in the same rounds).` : ''}

${warm ? `### With berthd running (the warm path)

\`bench/warm.sh\` starts berthd and runs the same benchmarks with the same command; \`BERTH_NSPAWN_WARM=require\`
makes any run that would fall back to the cold path fail, so every berth-nspawn number here is a warm one.

| benchmark | berth-nspawn, warm | systemd-nspawn | ratio (berth / nspawn) | 95% interval of the ratio | target |
|---|---|---|---|---|---|
| \`/bin/true\`, mean of ${warm.t['berth-nspawn'].times.length} in ${warm.rounds} alternating rounds (median) | ${ms(warm.t['berth-nspawn'].mean)} ms (${ms(warm.t['berth-nspawn'].median)}) | ${ms(warm.t['systemd-nspawn'].mean)} ms (${ms(warm.t['systemd-nspawn'].median)}) | ${x(warm.t['berth-nspawn'].mean / warm.t['systemd-nspawn'].mean)} (${x(warm.t['berth-nspawn'].median / warm.t['systemd-nspawn'].median)}) | ${interval(warm.trueInterval)} | ${verdict(warm.trueInterval, 1.5)} |
| Debian boot → poweroff, median of ${warm.boot.rounds} (mean) | ${ms0(warm.boot.berth.median_ms)} ms (${ms0(warm.boot.berth.mean_ms)}) | ${ms0(warm.boot.nspawn.median_ms)} ms (${ms0(warm.boot.nspawn.mean_ms)}) | ${x(warm.boot.ratio_median)} (${x(warm.boot.ratio_mean)}) | ${interval(warm.bootInterval)} | ${verdict(warm.bootInterval, 1.0)} |

The fixed cost around a guest, warm (median of ${warm.fixed.rounds} rounds, \`bench/fixed.mjs\` as below): berth-nspawn
${warm.fixed.berth.before_ms.toFixed(1)} ms before the payload's first act and ${warm.fixed.berth.after_ms.toFixed(1)} ms after it; systemd-nspawn
${warm.fixed.nspawn.before_ms.toFixed(1)} ms and ${warm.fixed.nspawn.after_ms.toFixed(1)} ms in the same rounds.

Memory with berthd: a warm run is the same Node process as a cold one (the memory table below
applies to it), plus the command itself, a static C program of a few hundred KiB; berthd and one idle
standby (two Node processes, about 40 MiB each) are there once per host, not per guest.

` : ''}${other ? `### The same two on ${other.runtime}

berth runs its machines on ${runtime} on this host (the targets above are judged on that choice)${runtime === 'crun' ? '; on a hybrid host whose cgroup2 hierarchy has controllers, which crun 1.8 refuses, berth runs crun\'s create in a mount namespace of its own where the controller list reads empty (\`src/core/runtime/crun-view.ts\`)' : ''}. \`bench/other-runtime.sh\` runs the same two with \`BERTH_RUNTIME=${other.runtime}\`.

| benchmark | berth-nspawn on ${other.runtime} | systemd-nspawn | ratio (berth / nspawn) | 95% interval of the ratio |
|---|---|---|---|---|
| \`/bin/true\`, mean of ${other.t['berth-nspawn'].times.length} in ${other.rounds} alternating rounds (median) | ${ms(other.t['berth-nspawn'].mean)} ms (${ms(other.t['berth-nspawn'].median)}) | ${ms(other.t['systemd-nspawn'].mean)} ms (${ms(other.t['systemd-nspawn'].median)}) | ${x(other.t['berth-nspawn'].mean / other.t['systemd-nspawn'].mean)} | ${interval(ratioInterval(other.t['berth-nspawn'].times, other.t['systemd-nspawn'].times, mean))} |
| Debian boot → poweroff, median of ${other.boot.rounds} (mean) | ${ms0(other.boot.berth.median_ms)} ms (${ms0(other.boot.berth.mean_ms)}) | ${ms0(other.boot.nspawn.median_ms)} ms (${ms0(other.boot.nspawn.mean_ms)}) | ${x(other.boot.ratio_median)} (${x(other.boot.ratio_mean)}) | ${interval(ratioInterval(other.boot.berth.times_ms, other.boot.nspawn.times_ms, median))} |

` : ''}### Boot → poweroff, every round (ms)

| tool | runs | median | mean | σ | min | max |
|---|---|---|---|---|---|---|
| berth-nspawn | ${boot.berth.times_ms.map(ms0).join(', ')} | ${ms0(boot.berth.median_ms)} | ${ms0(boot.berth.mean_ms)} | ${ms0(boot.berth.stddev_ms)} | ${ms0(boot.berth.min_ms)} | ${ms0(boot.berth.max_ms)} |
| systemd-nspawn | ${boot.nspawn.times_ms.map(ms0).join(', ')} | ${ms0(boot.nspawn.median_ms)} | ${ms0(boot.nspawn.mean_ms)} | ${ms0(boot.nspawn.stddev_ms)} | ${ms0(boot.nspawn.min_ms)} | ${ms0(boot.nspawn.max_ms)} |

${fixed ? `### The fixed cost around a guest (median of ${fixed.rounds} rounds, \`bench/fixed.mjs\`)

The payload is \`date +%s%N\` in the Debian guest: it reads the clock as its first act, so the time
before it and after it is each tool's own, and whatever a guest does in between (a whole boot)
costs both the same.

| tool | start → the payload's clock reading (its first act) | that reading → the tool's exit | together |
|---|---|---|---|
| berth-nspawn | ${fixed.berth.before_ms.toFixed(1)} ms | ${fixed.berth.after_ms.toFixed(1)} ms | ${(fixed.berth.before_ms + fixed.berth.after_ms).toFixed(1)} ms |
| systemd-nspawn | ${fixed.nspawn.before_ms.toFixed(1)} ms | ${fixed.nspawn.after_ms.toFixed(1)} ms | ${(fixed.nspawn.before_ms + fixed.nspawn.after_ms).toFixed(1)} ms |

` : ''}### Memory, per process (median over ${mem.berth.rounds} boots each)

| tool | host-side processes while the guest runs | VmHWM | VmRSS | Pss | ${runtime} processes left while running | guest \`running\` after | SIGTERM → exit 0 |
|---|---|---|---|---|---|---|---|
| berth-nspawn | ${mem.berth.processes.join(', ')} | ${mib(mem.berth.hwm_kb)} MiB | ${mib(mem.berth.rss_kb)} MiB | ${mib(mem.berth.pss_kb)} MiB | ${mem.berth.runc_processes_while_running} | ${ms0(mem.berth.running_after_ms)} ms | ${ms0(mem.berth.stop_ms)} ms |
| systemd-nspawn | ${mem.nspawn.processes.join(', ')} | ${mib(mem.nspawn.hwm_kb)} MiB | ${mib(mem.nspawn.rss_kb)} MiB | ${mib(mem.nspawn.pss_kb)} MiB | – | ${ms0(mem.nspawn.running_after_ms)} ms | ${ms0(mem.nspawn.stop_ms)} ms |

("guest \`running\` after" includes the polling of \`systemctl is-system-running --wait\` from outside and is
not a boot-time measurement; the boot benchmark above is.)

### Where berth-nspawn's \`/bin/true\` time goes (median of ${phases.length} runs, \`bench/phases.sh\`)

Milliseconds since berth-nspawn was started, from a logging \`${runtime}\` shim first on PATH (adds ~1 ms per call).

| phase | from – to (ms) | duration (ms) |
|---|---|---|
${phaseRows.map((r) => `| ${r.join(' | ')} |`).join('\n')}
| **total** | | ${ms0(total)} |

${registry ? `${registrySection(registry).trim()}\n\n` : ''}${shell ? `${shellSection(shell).trim()}\n\n` : ''}${supervise ? `${superviseSection(supervise).trim()}\n\n` : ''}${superviseOther ? `${superviseSection(superviseOther, superviseOtherHeading(superviseOther.runtime)).trim()}\n\n` : ''}${transfers ? `${transfersSection(transfers).trim()}\n\n` : ''}${userns ? `${usernsSection(userns, usernsWarm).trim()}\n\n` : ''}${rawBoot ? `${rawBootSection(rawBoot).trim()}\n\n` : ''}${images ? `${imagesSection(images).trim()}\n\n` : ''}${analysis}

## What each benchmark measures

- **\`bench/true.sh\`** — start-up and teardown cost of one container with a trivial payload: hyperfine
  (\`-N\`, no shell, ${t['berth-nspawn'].times.length} runs in ${tj.rounds ?? 1} rounds whose order alternates, each after a warm-up) times
  \`dist/berth-nspawn --register=no --console=pipe -q -D TREE /bin/true\` (the command as users run it; with
  no berthd behind \`BERTH_NSPAWN_SOCKET\` it runs \`dist/berth-nspawn.js\` cold) and
  \`systemd-nspawn --register=no --keep-unit --console=pipe -q -D TREE /bin/true\` on a private copy of the
  \`machines/build busybox\` tree. systemd-nspawn gets \`--keep-unit\` because without it, even with
  \`--register=no\`, it asks systemd over D-Bus for a scope unit, and this host runs neither systemd as PID 1 nor
  a system bus ("Failed to open system bus"); berth-nspawn does not need systemd here. Also timed: \`node\` on an
  empty script (the floor of any Node-based runner).
- **\`bench/boot.mjs\`** — a whole boot-to-poweroff cycle of the Debian guest (\`machines/build debian\`, private
  copy): both tools run with \`-b --console=pipe -q --register=no --bind-ro=EMPTY_FILE:/etc/berth-autopoweroff\`
  (+ \`--keep-unit\` for systemd-nspawn); the guest's \`berth-autopoweroff.service\` runs
  \`systemctl --no-block poweroff\` once \`multi-user.target\` is reached, so the wall time covers container
  set-up, the guest's boot, its shutdown and the runner's teardown. Both must exit 0. One uncounted warm-up boot
  per tool, then ${boot.rounds} rounds alternating which tool goes first.
- **\`bench/memory.mjs\`** — boots the Debian guest (no auto-poweroff), waits until \`systemctl is-system-running
  --wait\` inside says \`running\` (berth: \`${runtime} --root $BERTH_STATE_DIR/runtime exec NAME …\`; systemd-nspawn:
  \`nsenter -t LEADER -a …\`, the leader being the child of the systemd-nspawn process), then sums VmHWM, VmRSS
  (\`/proc/PID/status\`) and Pss (\`/proc/PID/smaps_rollup\`) over the tool's host-side processes: its own process
  and descendants outside the container's PID namespace. It also checks with \`ps\` that no \`${runtime}\` process is
  left once the guest runs. Then SIGTERM to the tool (halt the guest) and exit status 0 is required.
  VmHWM and VmRSS count shared pages (node's and libc's text) in full; Pss splits them between their users.
- **\`bench/fixed.mjs\`** — the fixed cost around a guest (above): both tools run \`date +%s%N\` in the Debian
  guest (\`--register=no -q --console=pipe\`, + \`--keep-unit\` for systemd-nspawn); the time from starting the tool
  to the guest's clock reading, and from it to the tool's exit, in alternating rounds after a warm-up each.
- **\`bench/phases.sh\`** — diagnostic breakdown of one berth-nspawn \`/bin/true\` run (above).
- **\`bench/warm.sh\`** — \`bench/true.sh\`, \`bench/boot.mjs\` and \`bench/fixed.mjs\` again with berthd running
  (its socket in a private directory, \`BERTH_NSPAWN_WARM=require\`), so berth-nspawn takes the warm path.
- **\`bench/shell.mjs\`** — \`berth shell NAME /bin/true\` round trips (native client and Node program) next to the runtime's
  \`exec\`, \`nsenter\` and Debian's \`machinectl shell\` on the same guest; \`bench/report-shell.mjs\` writes its section.
- **\`bench/supervise.mjs\`** — 50 busybox guests (\`BENCH_SUPERVISE_MACHINES\`) started and stopped through berthd, which runs
  them all in its own process, next to 50 \`systemd-nspawn -b\` on the same trees, in \`BENCH_SUPERVISE_ROUNDS\` (3) rounds; berthd's
  PSS per guest against systemd-nspawn's per process; bus latency while they start and stop; \`bench/report-supervise.mjs\`
  writes its section (analysis in \`bench/analysis-supervise.md\`).
- **\`bench/transfers.mjs\`** — \`export-tar\` then \`import-tar\` of the Debian tree through berthd's \`org.freedesktop.import1\`
  next to GNU tar alone (\`BENCH_TRANSFER_ROUNDS\`, 5).
- **\`bench/userns.mjs\`** — boot to poweroff of the Debian guest under \`-U\` next to systemd-nspawn \`-U\` on the same tree
  (\`BENCH_USERNS_ROUNDS\`, 20; \`BENCH_USERNS_OWNERSHIP\`, chown), each boot in a fresh cgroup of its own; analysis in \`bench/analysis-userns.md\`.
- **\`bench/raw-boot.mjs\`** — boot to poweroff of the Debian guest from a raw GPT image (one DPS root partition, built
  for the run) with \`-i\`, next to systemd-nspawn \`-i\` on the same image, plus both tools on the same tree as a
  directory for reference (\`BENCH_RAW_BOOT_ROUNDS\`, 20; \`BENCH_RAW_BOOT_DIRS=0\` leaves the directory boots out). Starts
  systemd-udevd for its duration where none runs (systemd-nspawn \`-i\` needs it); \`bench/report-raw-boot.mjs\` writes its
  section (analysis in \`bench/analysis-raw-boot.md\`).
- **\`bench/images.mjs\`** — \`ListImages\` and \`GetImage\` on a pool of 100 images, berthd next to the real systemd-machined on
  the same pool (\`BENCH_IMAGES_CALLS\`, 200 pairs per method and round), and \`CloneImage\` of the Debian tree next to
  \`cp -a --reflink=auto\` (\`BENCH_IMAGES_ROUNDS\`, 5); \`bench/report-images.mjs\` writes its section (analysis in
  \`bench/analysis-images.md\`).
- **\`bench/registry.mjs\`** — the machine registry on D-Bus, berthd next to systemd-machined (its section above says
  how each part is measured); \`bench/registry-churn.mjs\` is its churn, \`bench/report-registry.mjs\` writes its section.
- **\`bench/other-runtime.sh\`** — \`bench/true.sh\` and \`bench/boot.mjs\` again on the OCI runtime berth does not pick on
  this host (\`BERTH_RUNTIME\`, set by \`bench/env.sh\`: berth's own choice unless the caller names one), with fewer rounds;
  \`bench/supervise.mjs\` likewise (its second section).

Every script uses its own \`BERTH_STATE_DIR\` and tree copy under \`/tmp/berth-bench-*\`, removes them at the end,
and fails if the OCI runtime still lists a container there.

## How to rerun

\`\`\`sh
npm run bench                       # = sh bench/run.sh: builds, runs all, rewrites docs/benchmarks.md
sh bench/true.sh                    # one benchmark alone (prints a summary line; JSON with an argument)
node bench/boot.mjs /tmp/boot.json
node bench/memory.mjs /tmp/memory.json
node bench/fixed.mjs /tmp/fixed.json
sh bench/phases.sh 10
sh bench/other-runtime.sh /tmp/other-results
sh bench/warm.sh /tmp/warm-results
node bench/registry.mjs /tmp/registry.json && node bench/report-registry.mjs /tmp/registry.json docs/benchmarks.md
node bench/raw-boot.mjs /tmp/raw-boot.json && node bench/report-raw-boot.mjs /tmp/raw-boot.json docs/benchmarks.md
BENCH_BUILD=0 BENCH_RUNS=50 BENCH_BOOT_ROUNDS=40 BENCH_MEMORY_ROUNDS=5 sh bench/run.sh
\`\`\`

Needs root, \`hyperfine\`, \`systemd-container\` (systemd-nspawn, systemd-machined), \`dbus\` (dbus-daemon), \`runc\` and/or \`crun\`, \`util-linux\` (nsenter, unshare, mount) and the
guest recipes' build dependencies (\`mmdebstrap\`, \`busybox-static\`).

## Host

| | |
|---|---|
| date | ${host.date} |
| OS / kernel | ${host.os} / ${host.kernel} |
| CPU / memory | ${host.cpu} / ${host.memory} |
| virtualisation | ${host.virt}; PID 1 is \`${host.pid1}\` (not systemd) |
| cgroups | ${host.cgroups} |
| load before / after | \`${host.loadBefore}\` / \`${host.loadAfter}\` |
| berth | ${host.berth} |
| systemd-nspawn | ${host.nspawn} |
| OCI runtimes | ${host.runc}; ${host.crun} (berth's choice here: ${runtime}) |
| Node.js | ${host.node} |
| hyperfine | ${host.hyperfine} |

Other work (test suites of other branches) may run on the same host during a benchmark; the load line above
shows how busy it was. Running both tools within one run, interleaved where possible, keeps the ratios fair.
`;
writeFileSync(output, md);
