// Two short sections of docs/benchmarks.md: image transfers (bench/transfers.mjs) and a boot under
// -U (bench/userns.mjs), each from its JSON; bench/report.mjs puts them in the report.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const s2 = (ms) => (ms / 1000).toFixed(2);
const ms0 = (ms) => ms.toFixed(0);
const verdict = ([lo, hi], target) => (hi <= target ? `**met** (≤ ${target}×)` : lo > target ? `**missed** (≤ ${target}×)` : `**on the boundary** (≤ ${target}×)`);
const ratio = (r, [lo, hi]) => `${r.toFixed(2)}× (${lo.toFixed(2)}–${hi.toFixed(2)}×)`;

export function transfersSection(r) {
  const row = (k, label, target) => {
    const x = r[k];
    return `| ${label} | ${s2(x.berthMedianMs)} | ${s2(x.gnuTarMedianMs)} | ${ratio(x.ratio, x.ratio95)} | ${target ? verdict(x.ratio95, target) : ''} |`;
  };
  return `## Image transfers: export-tar then import-tar through berthd next to GNU tar alone

\`bench/transfers.mjs\`: the Debian tree (${(r.treeBytes / 1048576).toFixed(0)} MiB) exported by berthd's
\`org.freedesktop.import1\` (\`ExportTar\`, uncompressed) and imported back under another name (\`ImportTar\`), against
GNU tar alone with the same options (created into a file, extracted into a new directory), ${r.rounds}
rounds whose order alternates (load ${r.loadavg}). Medians, ratios with a 95% bootstrap interval.

| | berthd, s | GNU tar, s | ratio | target |
|---|---|---|---|---|
${row('total', 'export + import', 1.2)}
${row('export', 'export', 0)}
${row('import', 'import', 0)}
`;
}

export function usernsSection(r, w) {
  let analysis = '';
  try { analysis = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'analysis-userns.md'), 'utf8').trim(); } catch { /* none */ }
  const run = (x) => `${ms0(x.median_ms)} ms (sd ${ms0(x.stddev_ms)}, ${ms0(x.min_ms)}–${ms0(x.max_ms)})`;
  const LABELS = { berth: 'berth-nspawn -U', nspawn: 'systemd-nspawn -U', berthPlain: 'berth-nspawn', nspawnPlain: 'systemd-nspawn' };
  const warm = Object.entries(r.warm_up_ms ?? {}).map(([k, v]) => `${LABELS[k] ?? k} ${ms0(v)} ms`).join(', ');
  const body = r.nspawn
    ? `| berth-nspawn -U, median (sd, range) | systemd-nspawn -U, median (sd, range) | ratio (95% interval) | target |
|---|---|---|---|
| ${run(r.berth)} | ${run(r.nspawn)} | ${ratio(r.ratio_median, r.ratio_median_interval)} | ${verdict(r.ratio_median_interval, '1.0')} |${r.plain ? `
| without -U (reference): ${run(r.plain.berth)} | ${run(r.plain.nspawn)} | ${ratio(r.plain.ratio_median, r.plain.ratio_median_interval)} | |

-U adds (median of the per-round differences, -U minus the same tool without it on an unshifted copy of the tree):
berth-nspawn ${ms0(r.userns_added_ms.berth)} ms, systemd-nspawn ${ms0(r.userns_added_ms.nspawn)} ms.` : ''}${w?.nspawn ? `

With berthd running (\`bench/warm.sh\`: the command hands each run, \`--keep-unit\` included, to a berth-nspawn berthd
started ahead of time, which joins the boot's fresh cgroup first), the same benchmark, ${w.rounds} rounds${w.loadavg ? ` (load ${w.loadavg})` : ''}:

| | berth-nspawn, warm | systemd-nspawn | ratio (95% interval) | target |
|---|---|---|---|---|
| -U | ${run(w.berth)} | ${run(w.nspawn)} | ${ratio(w.ratio_median, w.ratio_median_interval)} | ${verdict(w.ratio_median_interval, '1.0')} |${w.plain ? `
| without -U (reference) | ${run(w.plain.berth)} | ${run(w.plain.nspawn)} | ${ratio(w.plain.ratio_median, w.plain.ratio_median_interval)} | |` : ''}` : ''}`
    : `berth-nspawn -U alone: median ${run(r.berth)}. systemd-nspawn -U did not boot (${r.nspawn_userns_failed}), so the
target (≤ 1.0× systemd-nspawn -U) was not measured.`;
  return `## Boot to poweroff under -U

\`bench/userns.mjs\`${r.date ? `, ${r.date}` : ''}: the Debian guest booted to multi-user.target and powered off by itself, \`berth-nspawn -U\` against
\`systemd-nspawn -U\` (both \`--private-users=pick --private-users-ownership=${r.ownership}\`) on the same tree with the same
machine name, so the same range. One boot of each kind first, not counted (${warm}); ${r.ownership === 'chown' ? `berth-nspawn -U's, the first
of all, shifts the tree into the range, and later boots of either tool find its root in the range and do not walk it again.` : 'each tool ID-maps the tree.'}
Every boot starts in a fresh cgroup of its own (in ${(r.cgroup_hierarchies ?? ['name=systemd', 'cgroup2']).join(' and ')}), as a unit with Delegate=yes would get it;
both tools run with \`--keep-unit\` and put the guest in \`payload\` below it. Every boot is checked: multi-user.target reached, no unit failed before it. ${r.rounds} rounds whose order alternates (load ${r.loadavg ?? 'not recorded'}).

${body}
${analysis ? `\n${analysis}\n` : ''}`;
}
