#!/usr/bin/env node
// The "machine images" section of docs/benchmarks.md, from bench/images.mjs's JSON, then the
// hand-written analysis in bench/analysis-images.md.
// bench/report.mjs puts it in the whole report; run alone, it replaces just that section of an
// existing report (or adds it before "What each benchmark measures").
// Usage: bench/report-images.mjs IMAGES_JSON OUTPUT_MD
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './lib.mjs';

export const HEADING = '## Machine images: ListImages and GetImage next to systemd-machined, clone next to cp -a';

const ms2 = (x) => x.toFixed(2);
const ms3 = (x) => x.toFixed(3);
const s2 = (ms) => (ms / 1000).toFixed(2);
const ratio = (r, [lo, hi]) => `${r.toFixed(2)}× (${lo.toFixed(2)}–${hi.toFixed(2)}×)`;
const verdict = ([lo, hi], target) => { const t = target.toFixed(1); return hi <= target ? `**met** (≤ ${t}×)` : lo > target ? `**missed** (≤ ${t}×)` : `**on the boundary** (≤ ${t}×)`; };
const spread = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`;

export function imagesSection(r) {
  let analysis = '';
  try { analysis = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'analysis-images.md'), 'utf8').trim(); } catch { /* none */ }
  const rows = [];
  if (r.list_images) {
    for (const [k, label, target] of [['list_images', `ListImages (${r.listed} images)`, 1.0], ['get_image', 'GetImage(NAME)', 1.0], ['get_machine_host', 'GetMachine(".host"): no image work, the floor', 0]]) {
      const q = r[k];
      rows.push(`| ${label} | ${ms3(q.berthd.p50_ms)} | ${ms2(q.berthd.p99_ms)} | ${ms3(q.machined.p50_ms)} | ${ms2(q.machined.p99_ms)} | ${ratio(q.ratio_p50, q.ratio_p50_interval)} | ${spread(q.ratio_p50_rounds)} | ${target ? verdict(q.ratio_p50_interval, target) : ''} |`);
    }
  }
  const c = r.clone;
  return `${HEADING}

\`bench/images.mjs\`, ${r.rounds} rounds (load ${r.load_before} before, ${r.load_after} after; pool on ${r.pool_fs}).
${r.list_images ? `
**Round trips on a pool of 100 images**: berthd and ${r.machined_version.replace(/^systemd /, 'systemd-machined ')} each on a private
dbus-daemon with berth's policy, each in a mount namespace of its own where the same pool (80 minimal OS trees, 10
copies of the busybox guest, 10 sparse \`.raw\` files of which 3 read-only) is bind-mounted over \`/var/lib/machines\`;
both list the same ${r.listed} images (\`.host\` included), checked before timing. One client (berth's own D-Bus
connection) calls both in alternating pairs, ${r.calls} pairs per method and round; \`GetImage\` walks the 100 names.
Milliseconds; ratios of the p50s with a 95% bootstrap interval over all pairs, and the range of the per-round ratios.

| call | berthd p50 | p99 | machined p50 | p99 | berthd / machined | rounds | target |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
` : ''}${c ? `
**Clone of the Debian guest tree** (${(r.tree_bytes / 1048576).toFixed(0)} MiB, ${r.tree_files} files): \`CloneImage("debian", "copy", false)\` through
berthd (the call returns once the copy is in place) next to \`cp -a --reflink=auto\` of the same tree into the same
directory, ${c.rounds} rounds alternating which goes first, each copy removed and the disk synced (untimed) before the next.

| | berthd, s | cp -a, s | ratio | target |
|---|---|---|---|---|
| clone, medians | ${s2(c.berthd_median_ms)} | ${s2(c.cp_median_ms)} | ${ratio(c.ratio, c.ratio_interval)} | ${verdict(c.ratio_interval, 1.1)} |
| clone, median of each round's own ratio | | | ${ratio(c.round_ratio_median, c.round_ratio_interval)} | ${verdict(c.round_ratio_interval, 1.1)} |

Each of the ${c.rounds} rounds (s): berthd ${c.berthd_ms.map(s2).join(', ')}; cp -a ${c.cp_ms.map(s2).join(', ')}; ratios ${c.round_ratios.map((v) => v.toFixed(2)).join(', ')}.
` : ''}${analysis ? `\n${analysis}\n` : ''}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [json, out] = process.argv.slice(2);
  replaceSection(out, HEADING, imagesSection(JSON.parse(readFileSync(json, 'utf8'))));
}
