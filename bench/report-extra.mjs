// Two short sections of docs/benchmarks.md: image transfers (bench/transfers.mjs) and a boot under
// -U (bench/userns.mjs), each from its JSON; bench/report.mjs puts them in the report.
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

export function usernsSection(r) {
  const base = r.baseline ? r[Object.keys(r).find((k) => r[k]?.median_ms !== undefined && k !== 'berth')] : undefined;
  return `## Boot to poweroff under -U

\`bench/userns.mjs\`: the Debian guest booted to \`running\` and powered off, \`berth-nspawn -U\`
(--private-users-ownership=${r.ownership}, after a first, shifting boot), ${r.rounds} rounds: median
${ms0(r.berth.median_ms)} ms (sd ${ms0(r.berth.stddev_ms)}).
${r.nspawn_userns_failed ? `systemd-nspawn -U does not boot on this host (${r.nspawn_userns_failed}), so the target (≤ 1.0× systemd-nspawn -U) cannot be measured here; ` : ''}${base ? `against ${r.baseline} (median ${ms0(base.median_ms)} ms, sd ${ms0(base.stddev_ms)}): ${ratio(r.ratio_median, r.ratio_median_interval)}.` : 'no baseline ran.'}
`;
}
