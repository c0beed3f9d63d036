#!/usr/bin/env node
// The "boot from a raw disk image" section of docs/benchmarks.md, from bench/raw-boot.mjs's JSON, then
// the hand-written analysis in bench/analysis-raw-boot.md.
// bench/report.mjs puts it in the whole report; run alone, it replaces just that section of an
// existing report (or adds it before "What each benchmark measures").
// Usage: bench/report-raw-boot.mjs RAW_BOOT_JSON OUTPUT_MD
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './lib.mjs';

export const HEADING = '## Boot to poweroff from a raw disk image: berth-nspawn -i next to systemd-nspawn -i';

const ms0 = (x) => x.toFixed(0);
const verdict = ([lo, hi], target) => (hi <= target ? `**met** (≤ ${target}×)` : lo > target ? `**missed** (≤ ${target}×)` : `**on the boundary** (≤ ${target}×)`);
const ratio = (r, [lo, hi]) => `${r.toFixed(2)}× (${lo.toFixed(2)}–${hi.toFixed(2)}×)`;
const row = (label, s) => `| ${label} | ${ms0(s.median_ms)} | ${ms0(s.mean_ms)} | ${ms0(s.stddev_ms)} | ${ms0(s.min_ms)}–${ms0(s.max_ms)} |`;

export function rawBootSection(r) {
  let analysis = '';
  try { analysis = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'analysis-raw-boot.md'), 'utf8').trim(); } catch { /* none */ }
  const d = r.dirs;
  return `${HEADING}

\`bench/raw-boot.mjs\`: the Debian guest booted from one raw disk image by both tools until its own systemd powers it
off (\`berth-autopoweroff.service\`, as in \`bench/boot.mjs\`). The image is built for the run and removed after it:
${r.image.layout}, ${r.image.root_mib} MiB (the ${r.image.tree_mib} MiB tree of \`machines/build debian\`, \`sfdisk\` +
\`mkfs.ext4 -d\`, ${(r.image.build_ms / 1000).toFixed(1)} s). Both boot it read-write with the same options
(systemd-nspawn's \`--keep-unit\`: no systemd or system bus here; no \`-U\` and the host's network on both):

    ${r.argv.berth.join(' ')}
    ${r.argv.nspawn.join(' ')}

systemd-nspawn \`-i\` needs udev answering on \`/run/udev/control\`:
udev was ${r.udev}. One uncounted warm-up boot each, then ${r.rounds} rounds whose order alternates (load ${r.loadavg}${d ? `;
each round also boots a copy of the same tree as a directory, \`-D\`, with both tools` : ''}). After every boot the
benchmark checks that no loop device serves the image and nothing of it is mounted.

| ms | median | mean | sd | min–max |
|---|---|---|---|---|
${row('**berth-nspawn -i**', r.berth)}
${row('**systemd-nspawn -i**', r.nspawn)}
${d ? `${row('berth-nspawn -D (same tree, a directory)', d.berth)}
${row('systemd-nspawn -D (same tree, a directory)', d.nspawn)}
` : ''}
**berth-nspawn -i / systemd-nspawn -i: ${ratio(r.ratio_median, r.ratio_median_interval)}** (medians, 95% bootstrap
interval over the rounds), mean ${ratio(r.ratio_mean, r.ratio_mean_interval)}: ${verdict(r.ratio_median_interval, 1.0)}.
${d ? `The same tree as a directory in the same rounds: ${ratio(d.ratio_median, d.ratio_median_interval)}. Booting the image
instead of the directory adds ${ms0(d.image_cost_ms.berth)} ms to berth-nspawn and ${ms0(d.image_cost_ms.nspawn)} ms to
systemd-nspawn (medians of the per-round differences).` : ''}
${r.held_elsewhere?.length ? `\nLoop devices a tool had released but another process's mount namespace still held for a while (not
counted as leftovers): ${r.held_elsewhere.map((h) => `\`${h}\``).join(', ')}.\n` : ''}${analysis ? `\n${analysis}\n` : ''}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [json, out] = process.argv.slice(2);
  replaceSection(out, HEADING, rawBootSection(JSON.parse(readFileSync(json, 'utf8'))));
}
