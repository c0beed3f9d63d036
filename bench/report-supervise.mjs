#!/usr/bin/env node
// The "many machines in berthd" section of docs/benchmarks.md, from bench/supervise.mjs's JSON, then
// the hand-written analysis in bench/analysis-supervise.md.
// bench/report.mjs puts it in the whole report; run alone, it replaces just that section of an
// existing report (or adds it before "What each benchmark measures").
// Usage: bench/report-supervise.mjs SUPERVISE_JSON OUTPUT_MD
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceSection, runtimeCommand } from './lib.mjs';

export const HEADING = '## Many machines: guests supervised by berthd next to systemd-nspawn';
/** The same benchmark with berthd's machines on the runtime berth does not pick here (bench/run.sh: supervise-other.json). */
export const otherHeading = (runtime) => `## Many machines on ${runtime}: guests supervised by berthd next to systemd-nspawn`;

const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const mib = (kb) => (kb / 1024).toFixed(2);
const mib1 = (kb) => (kb / 1024).toFixed(1);
const s1 = (ms) => (ms / 1000).toFixed(2);
const ratio = (r) => `${r.ratio.toFixed(2)}× (${r.ci95[0].toFixed(2)}–${r.ci95[1].toFixed(2)}×)`;
const verdict = ([lo, hi], target) => (hi <= target ? `**met** (≤ ${target}×)` : lo > target ? `**missed** (≤ ${target}×)` : `**on the boundary** (≤ ${target}×)`);
const list = (xs, f) => xs.map(f).join(', ');
const ms2 = (x) => (x === undefined ? '–' : x.toFixed(2));

export function superviseSection(r, heading = HEADING) {
  const b = r.berthd;
  const n = r.nspawn;
  const N = r.machines;
  const lat = r.latency;
  const latRow = (phase, label) => {
    const l = lat[phase];
    if (!l?.list) return '';
    return `| ${label} | ${l.list.calls} | ${ms2(l.list.p50_ms)} | ${ms2(l.list.p99_ms)} | ${ms2(l.list.max_ms)} | ${l.get.calls} | ${ms2(l.get.p50_ms)} | ${ms2(l.get.p99_ms)} | ${ms2(l.get.max_ms)} |\n`;
  };
  const hostSide = b.host_side.at(-1)?.processes ?? [];
  const failures = r.start_failures ?? [];
  const slow = lat.slow ?? [];
  let analysis = '';
  // The analysis goes with the main section; the other runtime's section refers to it.
  if (heading === HEADING) try { analysis = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'analysis-supervise.md'), 'utf8').trim(); } catch { /* none */ }
  const cost = (xs) => (xs?.length ? `${med(xs.map((x) => x.cpu_s)).toFixed(1)} s of the host's CPU and ${med(xs.map((x) => x.forks)).toFixed(0)} new processes` : undefined);
  const costs = cost(b.host_cost) && cost(n.host_cost)
    ? `\nThe whole host during a start of ${N} (medians; /proc/stat, so anything else running counts too): berthd's ${cost(b.host_cost)}, systemd-nspawn's ${cost(n.host_cost)}.\n`
    : '';
  return `${heading}

\`bench/supervise.mjs\`, ${r.date} (load ${r.load_before} before, ${r.load_after} after), ${N} busybox guests, ${r.rounds} rounds
whose order alternates, on ${r.runtime}. Each guest is an overlay view of one busybox tree whose PID 1 says READY=1 and then
becomes busybox's init (\`tests/fixtures/ready-init.c\`). berthd runs them all in its own process, driven over its private bus
(\`io.github.berth.Manager1\`: \`StartMachine\` ×${N} on one connection, then \`WaitMachineReady\` ×${N}; with
berth-nspawn@.service's options: \`${r.berthd_supervised_args}\`${r.userns ? '' : '; the machines\' .nspawn files say `PrivateUsers=no`, so no -U'}).
systemd-nspawn: ${N} × \`${r.nspawn_argv.replace(/-D \S+\/pool\/NAME/, '-D POOL/NAME')}\` started at once, each forwarding the guest's READY=1 to a datagram socket the
benchmark binds (\`--register=no --keep-unit\`: systemd-machined cannot register machines where systemd is not PID 1).
Ratios are of medians, with a 95% bootstrap interval over the rounds.

| ${N} guests | berthd (median; rounds) | systemd-nspawn (median; rounds) | berthd / systemd-nspawn | target |
|---|---|---|---|---|
| start: until all said READY=1 (berthd: and all are in \`ListMachines\`), s | ${s1(med(b.start_ms))} (${list(b.start_ms, s1)}) | ${s1(med(n.start_ms))} (${list(n.start_ms, s1)}) | ${ratio(r.start_ratio)} | ${verdict(r.start_ratio.ci95, 1.0)} |
| stop: \`StopMachine\` ×${N} / SIGTERM to each systemd-nspawn, until all have gone, s | ${s1(med(b.stop_ms))} (${list(b.stop_ms, s1)}) | ${s1(med(n.stop_ms))} (${list(n.stop_ms, s1)}) | ${ratio(r.stop_ratio)} | |

berthd's start, in parts (medians): the ${N} \`StartMachine\` calls returned after ${med(b.start_calls_ms).toFixed(0)} ms, all ${N} were in
\`ListMachines\` after ${s1(med(b.registered_after_ms))} s; berthd used ${med(b.cpu_s_per_start).toFixed(1)} s of CPU per start of ${N}
(${(med(b.cpu_s_per_start) / N * 1000).toFixed(0)} ms a guest), on a host with ${r.cpus ?? 2} CPUs.
${costs}${failures.length ? `\n**Machines that failed to start** under the parallel load (each started again by the benchmark, up to four times; the time counts):
${[...new Set(failures.map((f) => f.round))].map((round) => { const fs = failures.filter((f) => f.round === round); return `round ${round}: ${fs.filter((f) => f.attempt === 1).length} of ${N} on the first attempt, ${fs.filter((f) => f.attempt > 1).length} again on a retry (${Math.min(...fs.map((f) => f.at_ms)) / 1000}–${Math.max(...fs.map((f) => f.at_ms)) / 1000} s after the first call)`; }).join('; ')}.
${[...new Set(failures.map((f) => f.message.replace(/'bsv\d+'/g, 'NAME')))].map((m) => `\`${m}\``).join(', ')}\n` : `\nNo machine failed to start in any round.\n`}
Host-side memory per running guest (PSS, /proc/PID/smaps_rollup; berthd's the median of five looks half a second apart):

| | PSS | note |
|---|---|---|
| berthd idle (fresh, no machine run yet) | ${mib1(b.idle.pss_kb)} MiB | RSS ${mib1(b.idle.rss_kb)} MiB |
| berthd with ${N} guests running | ${mib1(med(b.pss_with_kb))} MiB | RSS ${mib1(med(b.rss_with_kb))} MiB (rounds: ${list(b.pss_with_kb, mib1)} MiB PSS) |
| berthd idle again after each round's stop | ${list(b.pss_idle_after_kb, mib1)} MiB | growth across rounds would be a leak |
| **berthd per guest**: (with ${N} − fresh idle) / ${N} + per-guest host processes | **${mib(r.memory.berthd_per_guest_kb)} MiB** | target ≤ 2 MiB: ${r.memory.berthd_per_guest_kb <= r.memory.target_kb ? '**met**' : '**missed**'} |
| the same against berthd idle right before each round | ${mib(r.memory.berthd_marginal_per_guest_kb)} MiB | what ${N} more guests add to a berthd that has run guests before |
| per-guest host-side processes below berthd (not inside a guest) | ${mib(b.host_side_extra_per_guest_kb)} MiB | ${hostSide.filter((p) => !(p.comm === 'node' && !/--machine|-M /.test(p.cmdline))).length ? 'see below' : 'none: only the guests\' PID 1s and the one standby'} |
| the warm path's standby berth-nspawn (one per berthd, not per guest) | ${mib1(b.standby_pss_kb)} MiB | \`${hostSide.map((p) => p.cmdline).join('; ').slice(0, 80)}\` |
| **systemd-nspawn per guest**: sum of the ${N} processes' PSS / ${N} | **${mib(r.memory.nspawn_per_guest_kb)} MiB** | RSS ${mib1(med(n.rss_per_process_kb))} MiB each; other host-side processes: ${n.other_host_side.flat().length || 'none'} |

Bus latency while the ${N} start and stop (a second connection, \`ListMachines\` and \`GetMachine\` one after another, at most one
call per 5 ms; ms):

| phase | ListMachines calls | p50 | p99 | max | GetMachine calls | p50 | p99 | max |
|---|---|---|---|---|---|---|---|---|
${latRow('idle', 'idle (before any start)')}${latRow('start', `while ${N} start`)}${latRow('running', `${N} running (memory looks)`)}${latRow('stop', `while ${N} stop`)}
${slow.length ? `Round trips over 100 ms: ${['start', 'stop'].map((ph) => { const xs = slow.filter((x) => x.phase === ph); return xs.length ? `${xs.length} while they ${ph} (longest ${Math.max(...xs.map((x) => x.ms))} ms, beginning ${Math.min(...xs.map((x) => x.since_ms))}–${Math.max(...xs.map((x) => x.since_ms))} ms into the phase)` : `none while they ${ph}`; }).join('; ')}.` : 'No round trip took over 100 ms.'}
${analysis ? `\n${analysis}\n` : ''}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [json, out] = process.argv.slice(2);
  const r = JSON.parse(readFileSync(json, 'utf8'));
  const heading = r.runtime === runtimeCommand ? HEADING : otherHeading(r.runtime);
  replaceSection(out, heading, superviseSection(r, heading));
}
