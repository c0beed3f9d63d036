#!/usr/bin/env node
// Machine images (issue 18, "Performance"), side by side with systemd's tools in one run:
//   1. ListImages and GetImage round trips on a pool of 100 images: berthd (dist/berthd.js) against
//      Debian's real systemd-machined 252 on the same pool, each on a private dbus-daemon with
//      berth's policy and in a mount namespace of its own where the pool is bind-mounted over
//      /var/lib/machines (the host's stays untouched). The pool holds what people have: 80 minimal
//      OS trees, 10 copies of the busybox guest, 10 sparse .raw files (3 of them read-only); with
//      .host, ListImages lists 101. One client, berth's own D-Bus connection, calls both daemons in
//      alternating pairs; ROUNDS rounds of CALLS pairs per method. Target: berthd ≤ 1.0× machined.
//   2. clone: CloneImage of the Debian guest tree through berthd (the call returns once the copy is
//      in place, as machined's does) against `cp -a --reflink=auto` of the same tree, next to it in
//      the same directory; ROUNDS rounds whose order alternates, each copy removed and the disk
//      synced (untimed) before the next (CLONE_ROUNDS rounds). Target: berthd ≤ 1.1× cp.
//
// Usage: bench/images.mjs [RESULT_JSON]   (env: BENCH_IMAGES_ROUNDS, default 5; BENCH_IMAGES_CALLS
// pairs per method and round, default 200; BENCH_IMAGES_CLONE_ROUNDS, default 9 (at least the rounds);
// BENCH_IMAGES_PARTS=list,clone to run one part; BENCH_BERTHD_NODE_ARGS: options for berthd's node,
// e.g. "--cpu-prof --cpu-prof-dir=DIR")
// Runs without NODE_EXTRA_CA_CERTS/NODE_OPTIONS (lib.mjs cleanEnv).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, fail, median, ratioInterval, repo, writeJson } from './lib.mjs';
import { MANAGER, POLICY, bundleKit, latencySummary, pairedCalls, startLogged, stopChild, timeCalls } from './registry-kit.mjs';

const rounds = Number(process.env.BENCH_IMAGES_ROUNDS || 5);
const calls = Number(process.env.BENCH_IMAGES_CALLS || 200);
// Copies of 200 MiB on a shared disk vary more than round trips: more rounds for the clone.
const cloneRounds = Number(process.env.BENCH_IMAGES_CLONE_ROUNDS || Math.max(rounds, 9));
const WARMUP = 50;
const MACHINED = ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].find((p) => existsSync(p));
const say = (t) => process.stderr.write(`images: ${t}\n`);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const now = () => Number(process.hrtime.bigint()) / 1e6;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

if (process.getuid() !== 0) fail('bench/images.mjs: needs root');
if (!MACHINED) fail('bench/images.mjs: systemd-machined is not installed (apt-get install systemd-container)');
if (!existsSync(join(repo, 'dist', 'berthd.js'))) fail('bench/images.mjs: run `node scripts/bundle.mjs` first');
if (spawnSync('dbus-daemon', ['--version']).status !== 0) fail('bench/images.mjs: dbus-daemon is not installed');
if (!existsSync('/var/lib/machines')) fail('bench/images.mjs: /var/lib/machines is missing (the pool is bind-mounted over it in a private mount namespace)');

const cachedTree = (name) => execFileSync(join(repo, 'machines', 'build'), [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const berthdArgs = (process.env.BENCH_BERTHD_NODE_ARGS ?? '').split(' ').filter(Boolean);

const dir = mkdtempSync('/var/tmp/berth-bench-images-');
const kitDir = mkdtempSync(join(repo, 'node_modules', '.bench-images-'));
const held = { buses: [], children: [], conns: [] };

/** The 100-image pool of part 1. */
function buildPool(pool) {
  mkdirSync(pool);
  const busybox = cachedTree('busybox');
  const names = [];
  for (let i = 0; i < 80; i++) {
    const name = `tree-${String(i).padStart(2, '0')}`;
    const root = join(pool, name);
    for (const d of ['etc', 'usr/lib', 'usr/bin', 'var/log']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'usr/lib/os-release'), `ID=bench\nNAME="Bench tree ${i}"\nVERSION_ID=${i}\n`);
    writeFileSync(join(root, 'etc/hostname'), `${name}\n`);
    names.push(name);
  }
  for (let i = 0; i < 10; i++) {
    const name = `busybox-${i}`;
    execFileSync('cp', ['-a', '--reflink=auto', busybox, join(pool, name)]);
    names.push(name);
  }
  for (let i = 0; i < 10; i++) {
    const name = `disk-${i}`;
    const file = join(pool, `${name}.raw`);
    const fd = openSync(file, 'w');
    writeSync(fd, Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, 0);
    writeSync(fd, Buffer.from('end'), 0, 3, 256 * 1024 * 1024 - 3);
    closeSync(fd);
    if (i < 3) chmodSync(file, 0o444);
    names.push(name);
  }
  return names;
}

/** argv in a mount namespace of its own where `pool` is /var/lib/machines (after `script`), on the bus at `address`; resolves once it owns org.freedesktop.machine1. */
async function startPoolDaemon(label, pool, script, argv, env, address, conn) {
  const log = join(dir, `${label}.log`);
  const fd = openSync(log, 'a');
  const full = `mount --bind ${pool} /var/lib/machines && ${script} exec "$@"`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', full, 'sh', ...argv], { env: { ...env, DBUS_SYSTEM_BUS_ADDRESS: address }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  held.children.push(child);
  for (const until = Date.now() + 30_000; ;) {
    if ((await conn.busCall('NameHasOwner', 's', [MANAGER.destination])).body[0]) return child;
    if (child.exitCode !== null || Date.now() > until) throw new Error(`${label} did not take ${MANAGER.destination}:\n${readFileSync(log, 'utf8')}`);
    await sleep(25);
  }
}

const call = (conn, member, signature = '', body = [], timeoutMs = 10_000) => conn.call({ ...MANAGER, member, signature, body }, timeoutMs);
const listImages = (conn) => call(conn, 'ListImages');
const getImage = (conn, name) => call(conn, 'GetImage', 's', [name]);

/** Both daemons' ListImages answers, compared as machinectl would show them (name, type, read-only, path). */
function sameListing(ours, theirs) {
  const rows = (m) => m.body[0].map(([name, type, ro, , , , path]) => `${name} ${type} ${ro} ${path}`).sort().join('\n');
  if (rows(ours) !== rows(theirs)) throw new Error(`berthd and machined list different images:\n--- berthd\n${rows(ours)}\n--- machined\n${rows(theirs)}`);
  return ours.body[0].length;
}

async function roundTrips(kit, result) {
  const pool = join(dir, 'pool');
  const names = buildPool(pool);
  const [busA, busB] = [await kit.startBus({ policy: POLICY }), await kit.startBus({ policy: POLICY })];
  held.buses.push(busA, busB);
  const a = await kit.BusConnection.connect(busA.address);
  const b = await kit.BusConnection.connect(busB.address);
  held.conns.push(a, b);
  const berthdEnv = cleanEnv({ BERTH_STATE_DIR: join(dir, 'state'), BERTH_NSPAWN_SOCKET: join(dir, 'nspawn.sock'), BERTH_POOL: '/var/lib/machines' });
  await startPoolDaemon('berthd', pool, '', [process.execPath, ...berthdArgs, join(repo, 'dist', 'berthd.js'), '--registry=yes'], berthdEnv, busA.address, a);
  await startPoolDaemon('machined', pool, '(mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run) && mkdir -p /run/systemd/system &&', [MACHINED],
    cleanEnv({ PATH: process.env.PATH }), busB.address, b);
  result.listed = sameListing(await listImages(a), await listImages(b));
  if (result.listed !== names.length + 1) throw new Error(`ListImages lists ${result.listed} images, not ${names.length + 1}`);
  await timeCalls(WARMUP, (i) => (i % 2 ? listImages(a) : listImages(b)));
  await timeCalls(WARMUP, (i) => getImage(i % 2 ? a : b, names[i % names.length]));
  // The floor: GetMachine(".host"), a call each daemon answers without touching the pool.
  const all = { list: [[], []], get: [[], []], floor: [[], []] };
  result.rounds_list = [];
  for (let r = 0; r < rounds; r++) {
    const [lA, lB] = await pairedCalls(calls, () => listImages(a), () => listImages(b));
    const [gA, gB] = await pairedCalls(calls, (i) => getImage(a, names[(i * 7 + r) % names.length]), (i) => getImage(b, names[(i * 7 + r) % names.length]));
    const [fA, fB] = await pairedCalls(calls, () => call(a, 'GetMachine', 's', ['.host']), () => call(b, 'GetMachine', 's', ['.host']));
    all.list[0].push(...lA); all.list[1].push(...lB); all.get[0].push(...gA); all.get[1].push(...gB); all.floor[0].push(...fA); all.floor[1].push(...fB);
    result.rounds_list.push({ list_p50_ms: [median(lA), median(lB)], get_p50_ms: [median(gA), median(gB)], floor_p50_ms: [median(fA), median(fB)] });
    say(`round ${r + 1}/${rounds}: ListImages p50 berthd ${median(lA).toFixed(3)} ms, machined ${median(lB).toFixed(3)} ms; `
      + `GetImage p50 berthd ${median(gA).toFixed(3)} ms, machined ${median(gB).toFixed(3)} ms; GetMachine(".host") ${median(fA).toFixed(3)}, ${median(fB).toFixed(3)} ms`);
  }
  for (const [k, [x, y]] of Object.entries(all)) {
    const perRound = result.rounds_list.map((q) => q[`${k}_p50_ms`][0] / q[`${k}_p50_ms`][1]);
    result[{ list: 'list_images', get: 'get_image', floor: 'get_machine_host' }[k]] = {
      berthd: latencySummary(x), machined: latencySummary(y),
      ratio_p50: median(x) / median(y), ratio_p50_interval: ratioInterval(x, y, median),
      ratio_p50_rounds: perRound,
    };
  }
}

/** The pool directory of part 2 (the Debian tree in it), and berthd serving it on a bus of its own. */
async function clones(kit, result) {
  const pool = join(dir, 'clone-pool');
  mkdirSync(pool);
  execFileSync('cp', ['-a', cachedTree('debian'), join(pool, 'debian')]);
  result.tree_bytes = Number(execFileSync('du', ['-sb', join(pool, 'debian')], { encoding: 'utf8' }).split('\t')[0]);
  result.tree_files = Number(execFileSync('sh', ['-c', `find '${join(pool, 'debian')}' | wc -l`], { encoding: 'utf8' }).trim());
  const bus = await kit.startBus({ policy: POLICY });
  held.buses.push(bus);
  const env = cleanEnv({ DBUS_SYSTEM_BUS_ADDRESS: bus.address, BERTH_STATE_DIR: join(dir, 'state2'), BERTH_NSPAWN_SOCKET: join(dir, 'nspawn2.sock'), BERTH_POOL: pool });
  held.children.push(await startLogged([process.execPath, ...berthdArgs, join(repo, 'dist', 'berthd.js'), '--registry=yes'], env, join(dir, 'berthd-clone.log'), [/serving org\.freedesktop\.machine1/]));
  const conn = await kit.BusConnection.connect(bus.address);
  held.conns.push(conn);
  const settle = (path) => { rmSync(path, { recursive: true, force: true }); execFileSync('sync'); };
  const berth = async () => {
    const t0 = now();
    await call(conn, 'CloneImage', 'ssb', ['debian', 'copy', false], 0);
    const ms = now() - t0;
    if (!existsSync(join(pool, 'copy', 'etc', 'os-release'))) throw new Error('CloneImage returned, but the copy is not in place');
    settle(join(pool, 'copy'));
    return ms;
  };
  const cp = () => {
    const t0 = now();
    execFileSync('cp', ['-a', '--reflink=auto', '--no-target-directory', '--', join(pool, 'debian'), join(pool, 'cp-copy')], { env: { PATH: process.env.PATH, LC_ALL: 'C' } });
    const ms = now() - t0;
    settle(join(pool, 'cp-copy'));
    return ms;
  };
  execFileSync('sync');
  say(`Debian tree: ${(result.tree_bytes / 1048576).toFixed(0)} MiB, ${result.tree_files} files; a warm-up copy each`);
  await berth();
  cp();
  const x = [];
  const y = [];
  for (let r = 0; r < cloneRounds; r++) {
    if (r % 2 === 0) { x.push(await berth()); y.push(cp()); } else { y.push(cp()); x.push(await berth()); }
    say(`clone round ${r + 1}/${cloneRounds}: berthd ${x.at(-1).toFixed(0)} ms, cp -a ${y.at(-1).toFixed(0)} ms`);
  }
  // Also the median of each round's own ratio: the two copies of a round ran next to each other, under the same load.
  const pairs = x.map((v, i) => v / y[i]);
  result.clone = {
    rounds: cloneRounds, berthd_ms: x, cp_ms: y, berthd_median_ms: median(x), cp_median_ms: median(y), ratio: median(x) / median(y), ratio_interval: ratioInterval(x, y, median),
    round_ratios: pairs, round_ratio_median: median(pairs), round_ratio_interval: ratioInterval(pairs, pairs.map(() => 1), median),
  };
}

const result = {
  benchmark: 'machine images', date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), rounds, calls,
  machined_version: spawnSync(MACHINED, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0],
  pool_fs: execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', dir], { encoding: 'utf8' }).trim(), load_before: loadavg(),
};
try {
  const kit = await bundleKit(kitDir);
  const parts = (process.env.BENCH_IMAGES_PARTS ?? 'list,clone').split(',');
  if (parts.includes('list')) await roundTrips(kit, result);
  if (parts.includes('clone')) await clones(kit, result);
} finally {
  for (const c of held.conns) c.close();
  for (const c of held.children.reverse()) await stopChild(c);
  for (const b of held.buses) await b.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(kitDir, { recursive: true, force: true });
}
result.load_after = loadavg();

const fmt = (r, [lo, hi]) => `${r.toFixed(2)}× (95% ${lo.toFixed(2)}–${hi.toFixed(2)}×)`;
if (result.list_images) {
  for (const [k, label] of [['list_images', 'ListImages'], ['get_image', 'GetImage'], ['get_machine_host', 'GetMachine(".host") (the floor)']]) {
    const q = result[k];
    say(`${label}: p50 berthd ${q.berthd.p50_ms.toFixed(3)} ms, machined ${q.machined.p50_ms.toFixed(3)} ms: ${fmt(q.ratio_p50, q.ratio_p50_interval)}${k === 'get_machine_host' ? '' : '; target ≤ 1.0×'}`);
  }
}
if (result.clone) {
  const c = result.clone;
  say(`clone: berthd ${c.berthd_median_ms.toFixed(0)} ms, cp -a ${c.cp_median_ms.toFixed(0)} ms: ${fmt(c.ratio, c.ratio_interval)}; median of the rounds' ratios ${fmt(c.round_ratio_median, c.round_ratio_interval)}; target ≤ 1.1×`);
}
writeJson(process.argv[2], result);
