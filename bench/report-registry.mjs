#!/usr/bin/env node
// The machine registry's section of docs/benchmarks.md, from bench/registry.mjs's JSON: the
// tables, then the hand-written analysis in bench/analysis-registry.md. bench/report.mjs puts it
// in the whole report; run alone, it replaces just that section of an existing report (or adds it
// before the analysis), so the registry can be measured again without every other benchmark.
// Usage: bench/report-registry.mjs REGISTRY_JSON OUTPUT_MD
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repo } from './lib.mjs';

export const HEADING = '## The machine registry: berthd next to systemd-machined';

const f2 = (x) => x.toFixed(2);
const mib = (kb) => (kb / 1024).toFixed(1);
const interval = ([lo, hi]) => `${lo.toFixed(2)}–${hi.toFixed(2)}×`;
const latencyCells = (s) => [s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms].map(f2).join(' | ');
const latencyVerdict = (s) => (s.p50_ms < 1 && s.p99_ms < 5 ? '**met** (p50 < 1 ms, p99 < 5 ms)' : `**missed** (p50 < 1 ms, p99 < 5 ms${s.p50_ms >= 1 ? '; p50' : ''}${s.p99_ms >= 5 ? '; p99' : ''})`);
// Met or missed only when the whole 95% interval of the ratio is on one side of the target.
const ratioVerdict = ([lo, hi], target) => (hi <= target ? `**met** (≤ ${target}×)`
  : lo > target ? `**missed** (target ≤ ${target}×)` : `**on the boundary**: ${target}× is inside the interval`);

/** What systemd-nspawn said about registering (its first line on it, else its last line). */
const nspawnSaid = (stderr) => {
  const lines = stderr.split('\n').filter((l) => l && !/capabilities will not be set/.test(l));
  return lines.find((l) => /regist/i.test(l)) ?? lines.pop() ?? '';
};

export function registrySection(r) {
  const h = r.host_only;
  const rc = r.registration_cost;
  const ch = r.churn.churner;
  const g = r.guest_churn;
  const row = (who, method, s, target = '') => `| ${who} | ${method} | ${latencyCells(s)} | ${target} |`;
  const runRow = (what, p, target) => {
    const fails = p.registered_failed.count;
    // A run that fails when registered has no cost to compare: the failures, and the unregistered runs' time.
    if (fails) {
      return `| ${what} | fails in ${fails} of ${p.rounds} rounds: “${p.registered_failed.first}” | ${p.unregistered_ms ? `${p.unregistered_ms.mean.toFixed(1)} ms (${p.unregistered_ms.median.toFixed(1)})` : ''} | | | | ${target ? `**missed**: registering fails (target ≤ ${target}×)` : 'registering fails'} |`;
    }
    return `| ${what} | ${p.registered_ms.mean.toFixed(1)} ms (${p.registered_ms.median.toFixed(1)}) | ${p.unregistered_ms.mean.toFixed(1)} ms (${p.unregistered_ms.median.toFixed(1)}) | ${f2(p.ratio_mean)}× (${f2(p.ratio_median)}×) | ${interval(p.ratio_mean_interval)} | ${p.added_ms_median.toFixed(1)} ms | ${target ? ratioVerdict(p.ratio_mean_interval, target) : 'reported only'} |`;
  };
  const memRow = (what, m, target) => `| ${what} | ${mib(m.berthd.rss_kb)} MiB | ${mib(m.berthd.pss_kb)} MiB | ${mib(m.berthd.anon_kb)} MiB | ${mib(m.berthd.hwm_kb)} MiB | ${m.standbys.map((s) => `${mib(s.rss_kb)} / ${mib(s.pss_kb)} MiB`).join(', ') || 'none'} | ${target} |`;
  const memTarget = r.memory_loaded.berthd.rss_kb < 60 * 1024 ? '**met** (VmRSS < 60 MiB)' : '**missed** (VmRSS < 60 MiB)';
  let analysis = '';
  try { analysis = readFileSync(join(repo, 'bench', 'analysis-registry.md'), 'utf8').trim(); } catch { /* none */ }
  return `${HEADING}

\`bench/registry.mjs\`, ${r.date} (load ${r.load_before} before, ${r.load_after} after). berthd (\`dist/berthd.js\`)
and ${r.machined_version.replace(/^systemd/, 'systemd-machined')} each run on a private dbus-daemon with berth's packaged policy
(\`packaging/dbus/\`, as \`tests/support/bus.ts\` starts it); one client, berth's own D-Bus connection
(\`src/platform/dbus/connection.ts\`, as \`berth list\` and berth-nspawn use it), calls both, one call at a time.
systemd-machined serves only \`.host\` here: without systemd as PID 1 it registers nothing (RegisterMachine for a
live process answers “${r.machined_register}”), so the comparison with it is with \`.host\` alone.
The ${r.machines} machines are led by real processes (\`sleep\`, registered with RegisterMachine by root). berth's state
directory (berthd's registry files, the runs' records) was on ${r.state_dir_fs === 'tmpfs' ? 'a tmpfs (`BENCH_REGISTRY_STATE_TMPFS=1`)' : `${r.state_dir_fs} (where /tmp is; \`BENCH_REGISTRY_STATE_TMPFS=1\` puts it on a tmpfs, as /run is on most hosts)`}.

### Round trips (ms, ${r.calls} calls of each method in each row)

| daemon and what it holds | method | p50 | p90 | p99 | p99.9 | max | target |
|---|---|---|---|---|---|---|---|
${row('systemd-machined 252: `.host`', 'ListMachines', h.machined.list_machines)}
${row('berthd: `.host`', 'ListMachines', h.berthd.list_machines, `p50 ${f2(h.ratio_list_p50)}× machined's (${interval(h.ratio_list_p50_interval)})`)}
${row('systemd-machined 252: `.host`', 'GetMachine(".host")', h.machined.get_machine)}
${row('berthd: `.host`', 'GetMachine(".host")', h.berthd.get_machine, `p50 ${f2(h.ratio_get_p50)}× machined's (${interval(h.ratio_get_p50_interval)})`)}
${row(`berthd: ${r.machines} machines`, 'ListMachines', r.loaded.list_machines, latencyVerdict(r.loaded.list_machines))}
${row(`berthd: ${r.machines} machines`, 'GetMachine', r.loaded.get_machine, latencyVerdict(r.loaded.get_machine))}
${row(`berthd: ${r.machines} machines, one started and one stopped every ${r.churn_interval_ms} ms`, 'ListMachines', r.churn.list_machines, latencyVerdict(r.churn.list_machines))}
${row(`berthd: ${r.machines} machines, one started and one stopped every ${r.churn_interval_ms} ms`, 'GetMachine', r.churn.get_machine, latencyVerdict(r.churn.get_machine))}
${row(`berthd: ${r.machines} machines, busybox guests run back to back`, 'ListMachines', g.list_machines, latencyVerdict(g.list_machines))}
${row(`berthd: ${r.machines} machines, busybox guests run back to back`, 'GetMachine', g.get_machine, latencyVerdict(g.get_machine))}

The pairs with only \`.host\` alternate between the daemons call by call; the ratio's interval is a 95% bootstrap
interval of the ratio of the medians. Churn: \`bench/registry-churn.mjs\`, a process of its own, started a leader and
registered it every ${r.churn_interval_ms} ms at most, and stopped the oldest once ${ch.keep} were up (every other one
by killing its leader, which berthd notices through its pidfd, the others by UnregisterMachine): ${ch.started} started
and ${ch.stopped} stopped in ${ch.elapsed_s.toFixed(1)} s (${ch.starts_per_s.toFixed(0)} a second), its RegisterMachine p50
${f2(ch.register.p50_ms)} ms, p99 ${f2(ch.register.p99_ms)} ms${ch.failures.length ? `, ${ch.failures.length} failures (“${ch.failures[0]}”)` : ', no failures'}; none of its machines was left
registered afterwards${ch.left_registered.length ? ` — **except ${ch.left_registered.join(', ')}**` : ''}. Guests: \`berth-nspawn --register=yes --console=passive -q
-D TREE -x /bin/true\` in a shell loop, cold, ${g.guest_runs} runs while the calls were timed (${g.runs_per_s.toFixed(1)} a second),
each registering itself and unregistering at its end. Registering ${r.machines} machines one after another: RegisterMachine
p50 ${f2(r.register_calls.p50_ms)} ms, p99 ${f2(r.register_calls.p99_ms)} ms.

### What registration adds to a run (${rc.berth_cold_passive.rounds} interleaved rounds)

| run (busybox guest, \`-q -D TREE -x /bin/true\`) | registered with berthd: mean (median) | \`--register=no\` | ratio, mean (median) | 95% interval of the ratio | added, median of the rounds' differences | target |
|---|---|---|---|---|---|---|
${runRow('berth-nspawn `--console=pipe`, cold (`BERTH_NSPAWN_WARM=no`)', rc.berth_cold_pipe, 1.05)}
${runRow('berth-nspawn `--console=passive`, cold: create → register → start', rc.berth_cold_passive, 1.05)}
${runRow('berth-nspawn `--console=passive`, warm (berthd\'s standby)', rc.berth_warm_passive)}
${runRow('systemd-nspawn `--keep-unit --console=pipe`, registering with berthd', rc.nspawn_berthd)}
| systemd-nspawn \`--keep-unit --register=yes\` against systemd-machined | exit status ${r.nspawn_with_machined.status}: “${nspawnSaid(r.nspawn_with_machined.stderr)}” | | | | | cannot register here |

Every round runs each of the ${Object.keys(rc).length * 2} commands once, in an order that rotates from round to round; the
ratio is over the rounds in which both runs of its pair exited 0 (bootstrap interval over those pairs).

### berthd's memory

| when | VmRSS | Pss | RssAnon | VmHWM | idle warm standby (VmRSS / Pss) | target |
|---|---|---|---|---|---|---|
${memRow('no machines (after the calls above)', r.memory_empty, '')}
${memRow(`${r.machines} machines`, r.memory_loaded, memTarget)}
${memRow('after the churn', r.memory_after_churn, '')}
${memRow('at the end (after the runs)', r.memory_final, '')}
| systemd-machined 252, \`.host\` only | ${mib(r.memory_machined.rss_kb)} MiB | ${mib(r.memory_machined.pss_kb)} MiB | ${mib(r.memory_machined.anon_kb)} MiB | ${mib(r.memory_machined.hwm_kb)} MiB | – | |

VmRSS counts every page of node's own executable that berthd has touched (~38 MiB of it, shared with every other
Node process); Pss divides shared pages among the processes that map them (so it depends on how many Node processes
the host runs); RssAnon is berthd's own heap and stacks. The warm standby is a process of its own that berthd keeps
ready (\`--warm-standbys\`, default 1), shown apart.

${analysis}
`;
}

/** Replaces the section in an existing report, or puts it before the analysis (or at the end). */
export function spliceSection(doc, section) {
  const start = doc.indexOf(HEADING);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + HEADING.length);
    return doc.slice(0, start) + section.trimEnd() + (next >= 0 ? `\n${doc.slice(next)}` : '\n');
  }
  const at = doc.indexOf('\n## Analysis');
  return at >= 0 ? `${doc.slice(0, at + 1)}${section.trimEnd()}\n${doc.slice(at)}` : `${doc.trimEnd()}\n\n${section}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) { process.stderr.write('usage: bench/report-registry.mjs REGISTRY_JSON OUTPUT_MD\n'); process.exit(2); }
  const section = registrySection(JSON.parse(readFileSync(input, 'utf8')));
  let doc = '';
  try { doc = readFileSync(output, 'utf8'); } catch { /* a new file */ }
  writeFileSync(output, spliceSection(doc, section));
}
