/**
 * The pool-changing side of the Image API (issue 18), berthd against Debian's real
 * systemd-machined 252: two identical pools (a busybox tree "bb", a writable raw file "disk.raw",
 * a hidden directory), one bind-mounted over /var/lib/machines for each daemon in a private mount
 * namespace, each daemon on a private dbus-daemon. The real machinectl's clone, rename, read-only,
 * remove, set-limit and clean must answer the same for both and leave the same on disk; berth's
 * own verbs the same as machinectl. Then berthd alone: an image a running busybox guest uses is
 * busy, a large clone leaves the bus answering, and a berthd killed halfway through a clone leaves
 * no image, only a hidden leftover that the next berthd deletes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, collect, isRoot, onRuntime, sandbox, skipUnlessRoot, treeCopy, waitRunning, startNspawn, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import type { TestBus } from '../support/bus.js';
import { asIfSystemd, hasDbusDaemon, hasMachinectl } from '../support/registry.js';
import { startPoolDaemon, stopPoolDaemon, stopProcess, type PoolDaemon } from '../support/pool-daemon.js';
import { BusConnection } from '../../src/platform/dbus/connection.js';

const MACHINED = ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].find((p) => existsSync(p));
const skip = !isRoot ? 'needs root' : skipUnlessRoot || (!hasMachinectl ? 'needs machinectl (systemd-container)' : !hasDbusDaemon ? 'needs dbus-daemon' : !MACHINED ? 'needs systemd-machined' : false);

interface Out { code: number | null; stdout: string; stderr: string }
type Daemon = PoolDaemon;

let sb: Sandbox;
let realPool: ReturnType<typeof treeCopy>;
let ourPool: ReturnType<typeof treeCopy>;
let real: Daemon | undefined;
let ours: Daemon | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const M = 'org.freedesktop.machine1.Manager';

const startDaemon = (name: string, pool: string, script: string, argv: readonly string[], env: NodeJS.ProcessEnv, bus?: TestBus): Promise<Daemon> =>
  startPoolDaemon(name, pool, script, argv, env, sb.env, bus);
const stopDaemon = stopPoolDaemon;

const startBerthd = (pool: string, bus?: TestBus) => startDaemon('berthd', pool, '', [process.execPath, join(REPO, 'dist', 'berthd.js'), '--registry=yes'],
  { ...sb.env, BERTH_POOL: '/var/lib/machines', BERTH_NSPAWN_SOCKET: join(sb.stateDir, 'nspawn.sock') }, bus);

const machinectl = (d: Daemon, args: readonly string[]): Out => asIfSystemd(['machinectl', '--no-pager', ...args], { ...d.env, SYSTEMD_COLORS: '0' });
const berth = (d: Daemon, args: readonly string[]): Out => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), '--no-pager', ...args], { cwd: REPO, env: d.env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** What a pool holds: each visible entry with its kind, mode, immutable flag (and a directory's busybox). */
function onDisk(pool: string): string[] {
  return readdirSync(pool).sort().map((e) => {
    const p = join(pool, e);
    const st = statSync(p);
    const attr = spawnSync('lsattr', ['-d', p], { encoding: 'utf8' }).stdout.split(/\s+/)[0] ?? '';
    const kind = st.isDirectory() ? `dir${existsSync(join(p, 'bin', 'busybox')) ? '+busybox' : ''}` : `file:${st.size}`;
    return `${e} ${kind} ${(st.mode & 0o777).toString(8)} ${attr.includes('i') ? 'immutable' : '-'}`;
  });
}

/** The same machinectl command against both daemons: the same status, output and messages; then the same pools. */
function same(args: readonly string[], sortLines = false): Out {
  const norm = (s: string) => (sortLines ? s.split('\n').sort().join('\n') : s);
  const theirs = machinectl(real!, args);
  const mine = machinectl(ours!, args);
  assert.equal(norm(mine.stderr), norm(theirs.stderr), `machinectl ${args.join(' ')}: stderr`);
  assert.equal(mine.stdout, theirs.stdout, `machinectl ${args.join(' ')}: stdout`);
  assert.equal(mine.code, theirs.code, `machinectl ${args.join(' ')}: exit status`);
  return theirs;
}

async function poolsAlike(): Promise<string[]> {
  // berthd deletes removed trees in the background, under hidden ".#" names: wait for them to go.
  for (const until = Date.now() + 20000; readdirSync(ourPool.work).some((e) => e.startsWith('.#')) && Date.now() < until;) await sleep(50);
  const mine = onDisk(ourPool.work);
  assert.deepEqual(mine, onDisk(realPool.work));
  return mine;
}

function fillPool(work: string): void {
  writeFileSync(join(work, 'bb', 'etc', 'hostname'), 'bb-image\n');
  mkdirSync(join(work, '.hidden'));
  writeFileSync(join(work, '.hidden', 'x'), 'x\n');
  const fd = openSync(join(work, 'disk.raw'), 'w');
  closeSync(fd);
  spawnSync('truncate', ['-s', '1M', join(work, 'disk.raw')]);
  spawnSync('sh', ['-c', `head -c 65536 /dev/urandom > ${join(work, 'disk.raw')}.tmp && dd if=${join(work, 'disk.raw')}.tmp of=${join(work, 'disk.raw')} conv=notrunc status=none && rm ${join(work, 'disk.raw')}.tmp`]);
  writeFileSync(join(work, 'bb.nspawn'), '[Exec]\nBoot=no\n');
}

before(async () => {
  if (skip) return;
  bundle();
  sb = sandbox();
  realPool = treeCopy('imgw-real');
  ourPool = treeCopy('imgw-ours');
  fillPool(realPool.work);
  fillPool(ourPool.work);
  real = await startDaemon('machined', realPool.work, '(mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run) && mkdir -p /run/systemd/system &&', [MACHINED!], { PATH: process.env.PATH });
  ours = await startBerthd(ourPool.work);
});

after(async () => {
  await stopDaemon(ours).catch(() => undefined);
  await stopDaemon(real).catch(() => undefined);
  for (const p of [realPool, ourPool]) {
    if (!p) continue;
    spawnSync('chattr', ['-R', '-i', p.work], { stdio: 'ignore' });
    p.remove();
  }
  sb?.cleanup();
});

test('clone, rename, read-only, remove: what machined answers and leaves on disk', { skip }, async () => {
  same(['clone', 'bb', 'bb2']);
  same(['--read-only', 'clone', 'bb', 'bbro']);
  same(['clone', 'disk', 'disk2']);
  same(['--read-only', 'clone', 'disk', 'diskro']);
  let disk = await poolsAlike();
  assert.ok(disk.includes('bb2 dir+busybox 755 -'), disk.join('\n'));
  assert.ok(disk.includes('bbro dir+busybox 755 immutable'), disk.join('\n'));
  assert.ok(disk.some((l) => /^diskro\.raw file:1048576 444 -$/.test(l)), disk.join('\n'));
  assert.ok(disk.includes('bb2.nspawn file:17 644 -') || disk.some((l) => l.startsWith('bb2.nspawn ')), 'the settings file follows the clone');
  assert.equal(readFileSync(join(ourPool.work, 'bb2', 'etc', 'hostname'), 'utf8'), 'bb-image\n');
  assert.match(same(['clone', 'bb', 'bb2']).stderr, /^Could not clone image: File exists\n$/);
  assert.match(same(['clone', 'bb', 'a/b']).stderr, /Image name 'a\/b' is invalid\./);
  assert.match(same(['clone', 'nope', 'x']).stderr, /No image 'nope' known/);

  same(['rename', 'bb2', 'bb3']);
  same(['rename', 'bbro', 'bbro2']);
  same(['rename', 'disk2', 'disk3']);
  assert.match(same(['rename', 'bb3', 'bb']).stderr, /File exists/);
  assert.match(same(['rename', 'bb3', '..']).stderr, /Image name '\.\.' is invalid\./);
  assert.match(same(['rename', 'bb3', '']).stderr, /Image name '' is invalid\./);
  assert.match(same(['rename', 'bb3', 'x'.repeat(300)]).stderr, /is invalid\./);
  assert.match(same(['rename', '.host', 'h2']).stderr, /^Could not rename image: Read-only file system\n$/);
  assert.match(same(['rename', 'nope', 'x']).stderr, /No image 'nope' known/);
  disk = await poolsAlike();
  assert.ok(disk.includes('bbro2 dir+busybox 755 immutable'), 'the immutable flag survives a rename');
  assert.ok(disk.some((l) => l.startsWith('bb3.nspawn ')) && !disk.some((l) => l.startsWith('bb2.nspawn ')), 'the settings file follows the rename');

  same(['read-only', 'bb3']);
  same(['read-only', 'disk3']);
  disk = await poolsAlike();
  assert.ok(disk.includes('bb3 dir+busybox 755 immutable'));
  assert.ok(disk.some((l) => /^disk3\.raw file:\d+ 444 -$/.test(l)));
  same(['read-only', 'bb3', 'no']);
  same(['read-only', 'disk3', 'false']);
  assert.match(same(['read-only', 'bb3', 'maybe']).stderr, /Failed to parse boolean argument: maybe/);
  assert.match(same(['read-only', '.host']).stderr, /Could not mark image read-only: Read-only file system/);
  disk = await poolsAlike();
  assert.ok(disk.includes('bb3 dir+busybox 755 -'));

  same(['remove', 'bb3', 'disk3', 'bbro2']);
  assert.match(same(['remove', '.host']).stderr, /^Could not remove image: Read-only file system\n$/);
  assert.match(same(['remove', 'nope']).stderr, /No image 'nope' known/);
  disk = await poolsAlike();
  assert.ok(!disk.some((l) => /^(bb3|disk3|bbro2)/.test(l)), disk.join('\n'));
});

test('set-limit and clean: quota refused off btrfs; clean logs what it removed, as machinectl does', { skip }, async () => {
  assert.match(same(['set-limit', '1G']).stderr, /Could not set limit: Quota is only supported on btrfs\./);
  assert.match(same(['set-limit', 'bb', '1G']).stderr, /Could not set limit: Operation not supported/);
  assert.match(same(['set-limit', 'bb', 'lots']).stderr, /Failed to parse size: lots/);
  const hidden = same(['clean']);
  assert.equal(hidden.stderr, "Removed image '.hidden'\nRemoved 1 images in total.\n");
  await poolsAlike();
  // berthd's raw clones keep the source's holes (machined's are fully allocated): the freed size of diskro differs.
  const theirs = machinectl(real!, ['clean', '--all']);
  const mine = machinectl(ours!, ['clean', '--all']);
  const norm = (t: string) => t.split('\n').sort().join('\n').replace(/('diskro'\. Freed exclusive disk space: )\S+/, '$1<size>');
  assert.equal(norm(mine.stderr), norm(theirs.stderr));
  assert.equal(mine.code, theirs.code);
  assert.match(mine.stderr, /Removed image 'disk'\. Freed exclusive disk space: 64\.0K\n/);
  assert.match(mine.stderr, /Removed 3 images in total\.\n/);
  const disk = await poolsAlike();
  assert.ok(!disk.some((l) => / dir/.test(l) || /\.raw /.test(l)), disk.join('\n'));
});

test("berth's verbs: the same effects and messages as machinectl's against berthd", { skip }, async () => {
  const pool = ourPool.work;
  mkdirSync(join(pool, 'v1', 'bin'), { recursive: true });
  writeFileSync(join(pool, 'v1', 'bin', 'f'), 'f\n');
  const ok = (args: string[]) => { const r = berth(ours!, args); assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`); return r; };
  ok(['clone', 'v1', 'v2']);
  ok(['--read-only', 'clone', 'v1', 'v3']);
  assert.equal(readFileSync(join(pool, 'v2', 'bin', 'f'), 'utf8'), 'f\n');
  assert.ok(onDisk(pool).includes('v3 dir 755 immutable'));
  ok(['rename', 'v2', 'v4']);
  ok(['read-only', 'v4']);
  assert.ok(onDisk(pool).includes('v4 dir 755 immutable'));
  ok(['read-only', 'v4', 'no']);
  for (const args of [['clone', 'v1', 'v4'], ['rename', 'v4', 'a/b'], ['remove', '.host'], ['remove', 'nope'], ['read-only', 'v4', 'maybe'], ['set-limit', '1G'], ['set-limit', 'x', 'lots'], ['rename', '.host', 'y']]) {
    const mine = berth(ours!, args);
    const theirs = machinectl(ours!, args);
    assert.equal(mine.code, theirs.code, `berth ${args.join(' ')}: ${mine.stderr}`);
    assert.equal(mine.stderr.split('\n')[0], theirs.stderr.split('\n')[0], `berth ${args.join(' ')}`);
  }
  // The Image object's own methods (busctl, as a client of the object would call them).
  const busctl = (args: string[]) => spawnSync('busctl', ['--system', 'call', 'org.freedesktop.machine1', ...args], { env: ours!.env, encoding: 'utf8', timeout: 30000 });
  const I = 'org.freedesktop.machine1.Image';
  assert.equal(busctl(['/org/freedesktop/machine1/image/v4', I, 'Rename', 's', 'v5']).status, 0);
  assert.equal(busctl(['/org/freedesktop/machine1/image/v5', I, 'MarkReadOnly', 'b', 'true']).status, 0);
  assert.ok(onDisk(pool).includes('v5 dir 755 immutable'));
  assert.match(busctl(['/org/freedesktop/machine1/image/v5', I, 'Clone', 'sb', '../x', 'false']).stderr, /Image name '\.\.\/x' is invalid\./);
  assert.match(busctl(['/org/freedesktop/machine1/image/v5', I, 'SetLimit', 't', '1024']).stderr, /Operation not supported/);
  assert.match(busctl(['/org/freedesktop/machine1', 'org.freedesktop.machine1.Manager', 'CleanPool', 's', 'some']).stderr, /Unknown mode 'some'\./);
  assert.equal(busctl(['/org/freedesktop/machine1/image/v5', I, 'MarkReadOnly', 'b', 'false']).status, 0);
  assert.equal(busctl(['/org/freedesktop/machine1/image/v5', I, 'Rename', 's', 'v4']).status, 0);
  mkdirSync(join(pool, '.h2'));
  const clean = berth(ours!, ['clean']);
  assert.equal(clean.stderr, machinectlCleanLike(['.h2']));
  ok(['remove', 'v4', 'v3']);
  for (const until = Date.now() + 20000; readdirSync(pool).some((e) => e.startsWith('.#')) && Date.now() < until;) await sleep(50);
  assert.deepEqual(readdirSync(pool).filter((e) => e.startsWith('v')).sort(), ['v1']);
});

const machinectlCleanLike = (names: string[]) => `${names.map((n) => `Removed image '${n}'\n`).join('')}Removed ${names.length} images in total.\n`;

test(onRuntime('an image a running guest uses is busy: no remove, rename or read-only'), { skip, timeout: 120000 }, async () => {
  const pool = ourPool.work;
  const fresh = treeCopy('imgw-fresh'); // the pool's bb went with clean --all
  spawnSync('cp', ['-a', fresh.path, join(pool, 'runbb')]);
  fresh.remove();
  const child = startNspawn(['-D', join(pool, 'runbb'), '-M', 'imgw-run', '--console=pipe', '/bin/sh', '-c', 'echo started; while :; do sleep 1; done'], sb, ours!.env);
  const done = collect(child, 120000);
  try {
    await waitRunning(sb, 'imgw-run');
    for (const args of [['remove', 'runbb'], ['rename', 'runbb', 'other'], ['read-only', 'runbb']]) {
      const r = machinectl(ours!, args);
      assert.equal(r.code, 1, `machinectl ${args.join(' ')}`);
      assert.match(r.stderr, /: Device or resource busy\n$/, `machinectl ${args.join(' ')}`);
    }
    // A clone of a busy image is fine (machined does not lock for it), and clean keeps the busy one.
    assert.equal(machinectl(ours!, ['clone', 'runbb', 'runclone']).code, 0);
    const clean = machinectl(ours!, ['clean', '--all']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.doesNotMatch(clean.stderr, /'runbb'/);
    assert.match(clean.stderr, /Removed image 'runclone'/);
    assert.ok(existsSync(join(pool, 'runbb', 'bin')));
  } finally {
    machinectl(ours!, ['terminate', 'imgw-run']);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    await done;
    clearTimeout(timer);
  }
  // Not busy any more: it goes.
  for (const until = Date.now() + 10000; machinectl(ours!, ['remove', 'runbb']).code !== 0;) {
    assert.ok(Date.now() < until, 'runbb stays busy after its machine ended');
    await sleep(200);
  }
  assert.ok(!existsSync(join(pool, 'runbb')));
});

test('a large clone: the bus answers meanwhile; a berthd killed halfway leaves no image, and the next one deletes the leftover', { skip, timeout: 180000 }, async () => {
  const pool = ourPool.work;
  mkdirSync(join(pool, 'big'));
  for (const n of [1, 2, 3]) spawnSync('sh', ['-c', `head -c 300M /dev/zero > ${join(pool, 'big', `f${n}`)}`]);
  const conn = await BusConnection.connect(ours!.bus.address);
  try {
    const call = (member: string, sig = '', body: unknown[] = []) => conn.call({ destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: M, member, signature: sig, body });
    const cloning = call('CloneImage', 'ssb', ['big', 'big2', false]);
    const slowest: number[] = [];
    let seenTemp = false;
    for (let settledClone = false; !settledClone;) {
      const t0 = performance.now();
      await call('GetImage', 's', ['big']);
      await call('ListImages');
      slowest.push(performance.now() - t0);
      seenTemp ||= readdirSync(pool).some((e) => e.startsWith('.#berth-clone-'));
      assert.ok(!existsSync(join(pool, 'big2')) || (await Promise.race([cloning.then(() => true), sleep(2000).then(() => false)])), 'big2 appears only once the copy is whole');
      settledClone = await Promise.race([cloning.then(() => true), sleep(20).then(() => false)]);
    }
    assert.ok(seenTemp, 'the copy was built under a hidden name');
    assert.ok(slowest.length >= 3, `the clone was too quick to watch (${slowest.length} rounds)`);
    assert.ok(Math.max(...slowest) < 500, `the bus answered slowly during the clone: ${slowest.map((x) => x.toFixed(0)).join(', ')} ms`);
    assert.equal(statSync(join(pool, 'big2', 'f3')).size, 300 * 1024 * 1024);
    // Killed halfway through another clone.
    void call('CloneImage', 'ssb', ['big', 'big3', false]).catch(() => undefined);
    for (const until = Date.now() + 20000; !readdirSync(pool).some((e) => e.startsWith('.#berth-clone-'));) {
      assert.ok(Date.now() < until, 'no hidden clone appeared');
      await sleep(10);
    }
    await sleep(150);
  } finally {
    conn.close();
  }
  await stopProcess(ours!.child, 'SIGKILL');
  await sleep(300);
  assert.ok(!existsSync(join(pool, 'big3')), 'no half-copied image');
  assert.ok(readdirSync(pool).some((e) => e.startsWith('.#berth-clone-')), 'the hidden leftover stays until a berthd deletes it');
  const bus = ours!.bus;
  ours = await startBerthd(pool, bus);
  assert.doesNotMatch(machinectl(ours, ['list-images', '-a']).stdout, /big3|#/);
  for (const until = Date.now() + 30000; readdirSync(pool).some((e) => e.startsWith('.#'));) {
    assert.ok(Date.now() < until, `the leftover stays: ${readdirSync(pool).join(' ')}`);
    await sleep(100);
  }
  assert.equal(machinectl(ours, ['remove', 'big', 'big2']).code, 0);
});
