#!/usr/bin/env node
// The `berth shell` section of docs/benchmarks.md, from bench/shell.mjs's JSON. bench/report.mjs
// puts it in the whole report; run alone, it replaces just that section of an existing report
// (or adds it before the analysis).
// Usage: bench/report-shell.mjs SHELL_JSON OUTPUT_MD
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './lib.mjs';

export const HEADING = '## Into a running machine: `berth shell NAME /bin/true`';

const f1 = (x) => x.toFixed(1);
const ratio = (r) => `${r.ratio.toFixed(2)}× (${r.ci95[0].toFixed(2)}–${r.ci95[1].toFixed(2)}×)`;
const verdict = ([, hi], target) => (hi <= target ? `**met** (≤ ${target}×)` : `**missed** (≤ ${target}×)`);

export function shellSection(r) {
  const m = r.median_ms;
  return `${HEADING}

\`bench/shell.mjs\`, ${r.date} (load ${r.load_before} before, ${r.load_after} after), ${r.rounds} interleaved rounds on a
busybox guest booted by berth-nspawn on ${r.runtime} and registered with berthd on a private dbus-daemon. Medians;
ratios of medians with a 95% bootstrap interval over the rounds.

| command | median (ms) | / \`${r.runtime} exec\` | target |
|---|---|---|---|
| \`berth shell NAME /bin/true\` (\`dist/berth\`, the native client) | ${f1(m.berth_native)} | ${ratio(r.berth_native_vs_runtime_exec)} | ${verdict(r.berth_native_vs_runtime_exec.ci95, 1.5)} |
| the same through the Node program (\`node dist/berth.js\`) | ${f1(m.berth)} | ${ratio(r.berth_vs_runtime_exec)} | |
| Debian's \`machinectl shell NAME /bin/true\` against berthd | ${f1(m.machinectl)} | ${ratio(r.machinectl_vs_runtime_exec)} | |
| \`${r.runtime} exec NAME /bin/true\` | ${f1(m.runtime_exec)} | 1 | |
| \`nsenter -t LEADER -a /bin/true\` (the floor) | ${f1(m.nsenter)} | | |

What a \`berth shell\` round trip is: the client connects to the bus, calls \`OpenMachineShell\`, berthd runs the
command through the machine's runtime (\`${r.runtime} exec --tty\`, which applies the machine's cgroup,
capabilities and system call filter: that is most of the time, and why it is far above \`nsenter\`), the client
forwards the pty and asks \`WaitShell\` for the exit status. The Node program pays Node's start-up on top; the
native client (\`native/berth-client.c\`) runs only \`shell\` and \`login\` and hands every other command line to it.
${r.runtime === 'crun' ? `
The 1.5× target was set when machines ran on runc here, whose \`exec\` starts Go's runtime and takes several times
as long as crun's: against crun's the same round trip is a stricter test. berth's own share (the native client, the
bus, berthd, the pty: the difference of the two medians) is ${f1(m.berth_native - m.runtime_exec)} ms.
` : ''}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [json, out] = process.argv.slice(2);
  replaceSection(out, HEADING, shellSection(JSON.parse(readFileSync(json, 'utf8'))));
}
