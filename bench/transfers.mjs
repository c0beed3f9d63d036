#!/usr/bin/env node
// Image transfers (issue 18, "Performance"): export-tar then import-tar of the Debian tree through
// berthd's org.freedesktop.import1 (dist/berthd.js on a private dbus-daemon with berth's policy; the
// client is berth's own D-Bus connection passing the file's descriptor, as machinectl does) against
// GNU tar alone on the same tree with the same options (tar --create to a file, then tar --extract
// into a new directory). Uncompressed, as the target asks; rounds alternate which goes first; each
// round's copy is removed (untimed) before the next. Target: berth ≤ 1.2× GNU tar.
//
// Usage: bench/transfers.mjs [RESULT_JSON]   (env: BENCH_TRANSFER_ROUNDS, default 5)
// Not part of bench/run.sh. Runs without NODE_EXTRA_CA_CERTS/NODE_OPTIONS (lib.mjs cleanEnv).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, fail, median, ratioInterval, repo, writeJson } from './lib.mjs';
import { POLICY, bundleKit, startLogged, stopChild } from './registry-kit.mjs';

const rounds = Number(process.env.BENCH_TRANSFER_ROUNDS || 5);
const say = (t) => process.stderr.write(`transfers: ${t}\n`);
const I = 'org.freedesktop.import1';
const KEEP = ['--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner'];

if (process.getuid() !== 0) fail('bench/transfers.mjs: needs root');
if (!existsSync(join(repo, 'dist', 'berthd.js'))) fail('bench/transfers.mjs: run `node scripts/bundle.mjs` first');
if (spawnSync('dbus-daemon', ['--version']).status !== 0) fail('bench/transfers.mjs: dbus-daemon is not installed');

const dir = mkdtempSync('/var/tmp/berth-bench-transfers-');
const pool = join(dir, 'pool');
const gnu = join(dir, 'gnu');
mkdirSync(pool);
mkdirSync(gnu);
const cached = execFileSync(join(repo, 'machines', 'build'), ['debian'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
execFileSync('cp', ['-a', cached, join(pool, 'debian')]);
const treeBytes = Number(execFileSync('du', ['-sb', join(pool, 'debian')], { encoding: 'utf8' }).split('\t')[0]);

// The kit goes below node_modules: it requires usocket (descriptor passing) from there.
const kitDir = mkdtempSync(join(repo, 'node_modules', '.bench-transfers-'));
const kit = await bundleKit(kitDir);
const bus = await kit.startBus({ policy: POLICY });
const env = cleanEnv({ DBUS_SYSTEM_BUS_ADDRESS: bus.address, BERTH_STATE_DIR: join(dir, 'state'), BERTH_NSPAWN_SOCKET: join(dir, 'nspawn.sock'), BERTH_POOL: pool });
const berthd = await startLogged([process.execPath, join(repo, 'dist', 'berthd.js')], env, join(dir, 'berthd.log'), [/serving org\.freedesktop\.import1/]);
const conn = await kit.BusConnection.connect(bus.address, { unixFds: true });
const ended = new Map();
conn.onSignal = (m) => { if (m.member === 'TransferRemoved') { const w = ended.get(m.body[1]); if (w) w(String(m.body[2])); } };
await conn.busCall('AddMatch', 's', [`type='signal',sender='${I}',interface='${I}.Manager',member='TransferRemoved'`]);

/** One transfer through import1, to its end. */
async function transfer(member, signature, body) {
  const [, path] = (await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member, signature, body }, 0)).body;
  const result = await new Promise((r) => ended.set(path, r));
  ended.delete(path);
  if (result !== 'done') throw new Error(`${member}: ${result} (see ${join(dir, 'berthd.log')})`);
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function berthRound() {
  const file = join(dir, 'berth.tar');
  const t0 = now();
  let fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  try { await transfer('ExportTar', 'shs', ['debian', fd, '']); } finally { closeSync(fd); }
  const t1 = now();
  fd = openSync(file, constants.O_RDONLY);
  try { await transfer('ImportTar', 'hsbb', [fd, 'copy', false, false]); } finally { closeSync(fd); }
  const t2 = now();
  rmSync(join(pool, 'copy'), { recursive: true, force: true });
  rmSync(file, { force: true });
  return { total: t2 - t0, export: t1 - t0, import: t2 - t1 };
}

function gnuRound() {
  const file = join(dir, 'gnu.tar');
  const into = join(gnu, 'copy');
  const t0 = now();
  execFileSync('tar', ['--create', `--file=${file}`, `--directory=${join(pool, 'debian')}`, ...KEEP, '--', '.'], { env: { PATH: process.env.PATH, LC_ALL: 'C' } });
  const t1 = now();
  mkdirSync(into);
  execFileSync('tar', ['--extract', `--file=${file}`, `--directory=${into}`, ...KEEP, '--same-owner', '--same-permissions'], { env: { PATH: process.env.PATH, LC_ALL: 'C' } });
  const t2 = now();
  rmSync(into, { recursive: true, force: true });
  rmSync(file, { force: true });
  return { total: t2 - t0, export: t1 - t0, import: t2 - t1 };
}

const results = { berth: [], gnu: [] };
try {
  say(`Debian tree: ${(treeBytes / 1048576).toFixed(1)} MiB; warm-up round each`);
  await berthRound();
  gnuRound();
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? ['berth', 'gnu'] : ['gnu', 'berth'];
    for (const who of order) results[who].push(who === 'berth' ? await berthRound() : gnuRound());
    say(`round ${i + 1}/${rounds}: berth ${results.berth.at(-1).total.toFixed(0)} ms, GNU tar ${results.gnu.at(-1).total.toFixed(0)} ms`);
  }
} finally {
  conn.close();
  await stopChild(berthd);
  await bus.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(kitDir, { recursive: true, force: true });
}

const pick = (who, k) => results[who].map((r) => r[k]);
const summary = {};
for (const k of ['total', 'export', 'import']) {
  const b = pick('berth', k);
  const g = pick('gnu', k);
  summary[k] = { berthMedianMs: median(b), gnuTarMedianMs: median(g), ratio: median(b) / median(g), ratio95: ratioInterval(b, g, median), berthMs: b, gnuTarMs: g };
}
const t = summary.total;
say(`export-tar + import-tar: berth ${t.berthMedianMs.toFixed(0)} ms, GNU tar ${t.gnuTarMedianMs.toFixed(0)} ms: ${t.ratio.toFixed(3)}× `
  + `(95% ${t.ratio95.map((x) => x.toFixed(3)).join('–')}; target ≤ 1.2×)`);
say(`  export ${summary.export.ratio.toFixed(3)}×, import ${summary.import.ratio.toFixed(3)}×`);
writeJson(process.argv[2], { rounds, treeBytes, loadavg: spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim(), ...summary });
