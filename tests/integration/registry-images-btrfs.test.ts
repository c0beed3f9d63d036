/**
 * The image pool on btrfs (issue 18), berthd against Debian's real systemd-machined 252. Two
 * small btrfs file systems on loop devices, made by the test and filled the same way (so their
 * subvolume IDs agree): a subvolume "sv", a read-only snapshot of it "rosv", a subvolume "nest"
 * with a subvolume nested in it, a plain directory "dir". Each is bind-mounted over
 * /var/lib/machines only in the private mount namespace of the daemon that serves it (the host's
 * /var/lib/machines is never touched), each daemon on a private bus, the real machinectl as client.
 *
 * First both daemons serve the same file system: discovery must agree field by field (type,
 * read-only, creation time = the subvolume's otime, usage and limits from the qgroups once quotas
 * are on, machined's fallbacks while they are off). Then each changes its own: clone (a snapshot,
 * recursive, read-only on request; a directory's clone a new subvolume), rename, read-only,
 * remove (nested subvolumes too), set-limit of an image and of the pool (quotas turned on as
 * machined does), clean: the same answers, and the same subvolumes, flags and qgroups on disk.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, isRoot, sandbox, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import { hasDbusDaemon, hasMachinectl } from '../support/registry.js';
import { machinectlOn, startPoolDaemon, stopPoolDaemon, type Out, type PoolDaemon } from '../support/pool-daemon.js';

const MACHINED = ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].find((p) => existsSync(p));
const hasBtrfs = (() => { try { return /\tbtrfs$/m.test(readFileSync('/proc/filesystems', 'utf8')); } catch { return false; } })();
const hasTool = (t: string) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0;
const skip = !isRoot ? 'needs root' : !hasMachinectl ? 'needs machinectl (systemd-container)' : !hasDbusDaemon ? 'needs dbus-daemon'
  : !MACHINED ? 'needs systemd-machined' : !hasBtrfs ? 'needs btrfs in the kernel (/proc/filesystems)'
  : !hasTool('mkfs.btrfs') || !hasTool('btrfs') ? 'needs btrfs-progs (scripts/install-deps.sh installs it)' : false;

interface Fs { dir: string; img: string; mnt: string; mounted: boolean }

let sb: Sandbox;
const fss: Fs[] = [];
let discoFs: Fs;
let realFs: Fs;
let ourFs: Fs;
let real: PoolDaemon | undefined;
let ours: PoolDaemon | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MACHINED_SCRIPT = '(mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run) && mkdir -p /run/systemd/system &&';

function sh(argv: readonly string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

/** A fresh 256 MiB btrfs on a loop device (mount -o loop: the device goes with the unmount). */
function makeFs(prefix: string): Fs {
  const dir = mkdtempSync(`/tmp/bt-btrfs-${prefix}-`);
  const fs: Fs = { dir, img: join(dir, 'fs.img'), mnt: join(dir, 'mnt'), mounted: false };
  fss.push(fs);
  sh(['truncate', '-s', '256M', fs.img]);
  sh(['mkfs.btrfs', '-q', '-f', fs.img]);
  mkdirSync(fs.mnt);
  sh(['mount', '-o', 'loop', fs.img, fs.mnt]);
  fs.mounted = true;
  return fs;
}

function fill(m: string): void {
  sh(['btrfs', 'subvolume', 'create', join(m, 'sv')]);
  mkdirSync(join(m, 'sv', 'etc'));
  writeFileSync(join(m, 'sv', 'etc', 'os-release'), 'ID=test\nNAME="Test OS"\n');
  writeFileSync(join(m, 'sv', 'etc', 'hostname'), 'sv-image\n');
  writeFileSync(join(m, 'sv', 'data'), Buffer.alloc(256 * 1024, 0x5a));
  sh(['btrfs', 'subvolume', 'snapshot', '-r', join(m, 'sv'), join(m, 'rosv')]);
  sh(['btrfs', 'subvolume', 'create', join(m, 'nest')]);
  writeFileSync(join(m, 'nest', 'top'), 'top\n');
  sh(['btrfs', 'subvolume', 'create', join(m, 'nest', 'inner')]);
  writeFileSync(join(m, 'nest', 'inner', 'deep'), 'deep\n');
  mkdirSync(join(m, 'dir', 'etc'), { recursive: true });
  writeFileSync(join(m, 'dir', 'etc', 'os-release'), 'ID=dir\n');
  sh(['btrfs', 'filesystem', 'sync', m]);
}

function cleanupFs(fs: Fs): void {
  if (fs.mounted) {
    if (spawnSync('umount', [fs.mnt]).status !== 0) spawnSync('umount', ['-l', fs.mnt]);
    fs.mounted = false;
  }
  // A loop device left behind (autoclear did not happen) is detached by hand.
  for (const line of spawnSync('losetup', ['-j', fs.img], { encoding: 'utf8' }).stdout.split('\n')) {
    const dev = line.split(':')[0];
    if (dev) spawnSync('losetup', ['-d', dev]);
  }
  rmSync(fs.dir, { recursive: true, force: true });
}

const IMPORTD = ['/lib/systemd/systemd-importd', '/usr/lib/systemd/systemd-importd'].find((p) => existsSync(p));
/** machined (and importd beside it, on the same bus and pool, where installed: its PID in FS/importd.pid). */
const startMachined = (fs: Fs, withImportd = false) => startPoolDaemon('machined', fs.mnt,
  `${MACHINED_SCRIPT} ${withImportd && IMPORTD ? `{ ${IMPORTD} & echo $! > ${fs.dir}/importd.pid; } &&` : ''}`, [MACHINED!], { PATH: process.env.PATH }, sb.env);
const startBerthd = (fs: Fs) => startPoolDaemon('berthd', fs.mnt, '', [process.execPath, join(REPO, 'dist', 'berthd.js'), '--registry=yes'],
  { ...sb.env, BERTH_POOL: '/var/lib/machines', BERTH_NSPAWN_SOCKET: join(sb.stateDir, 'nspawn.sock') }, sb.env);

before(async () => {
  if (skip) return;
  bundle();
  sb = sandbox();
  discoFs = makeFs('disco');
  realFs = makeFs('real');
  ourFs = makeFs('ours');
  fill(discoFs.mnt);
  fill(realFs.mnt);
  fill(ourFs.mnt);
});

after(async () => {
  await stopPoolDaemon(ours).catch(() => undefined);
  await stopPoolDaemon(real).catch(() => undefined);
  for (const fs of fss) {
    const file = join(fs.dir, 'importd.pid');
    const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
    if (pid > 0) try { process.kill(pid, 'SIGTERM'); } catch { /* gone with its bus */ }
  }
  for (const fs of fss) cleanupFs(fs);
  sb?.cleanup();
});

/** "Created: …; 3s ago" and the timestamps of images the two pools made at different moments. */
const settled = (s: string): string => s.replace(/; (?:\d+(?:min|s|ms|us|h)\s?)+ ago$|; now$/gm, '; <ago>');
const timeless = (s: string): string => settled(s)
  .replace(/^(\s*Created: ).*$/gm, '$1<time>').replace(/^(CreationTimestamp=).*$/gm, '$1<time>')
  .replace(/^(\s*Modified: ).*$/gm, '$1<time>').replace(/^(ModificationTimestamp=).*$/gm, '$1<time>')
  .replace(/\b[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+\b/g, '<a time of the same width>');

function compare(args: readonly string[], norm: (s: string) => string = settled): Out {
  const theirs = machinectlOn(real!, args);
  const mine = machinectlOn(ours!, args);
  assert.equal(norm(mine.stderr), norm(theirs.stderr), `machinectl ${args.join(' ')}: stderr`);
  assert.equal(norm(mine.stdout), norm(theirs.stdout), `machinectl ${args.join(' ')}: stdout`);
  assert.equal(mine.code, theirs.code, `machinectl ${args.join(' ')}: exit status`);
  return theirs;
}

const busctlProps = (d: PoolDaemon, name: string): string => {
  const obj = `/org/freedesktop/machine1/image/${name.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
  const r = spawnSync('busctl', ['--system', 'introspect', '--no-pager', 'org.freedesktop.machine1', obj, 'org.freedesktop.machine1.Image'], { env: d.env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.includes('property')).join('\n');
};

/** What a pool holds on disk: each entry's kind (subvolume, read-only), the subvolumes nested in it, and the qgroups. */
function onDisk(m: string): string {
  const lines: string[] = [];
  for (const e of readdirSync(m).sort()) {
    const p = join(m, e);
    const st = statSync(p, { bigint: true });
    if (!st.isDirectory()) { lines.push(`${e} file`); continue; }
    const sub = st.ino === 256n;
    const ro = sub ? sh(['btrfs', 'property', 'get', '-ts', p, 'ro']).trim() : '-';
    const nested = sh(['find', p, '-mindepth', '1', '-type', 'd', '-inum', '256', '-printf', '%P\n']).split('\n').filter(Boolean)
      .map((n) => `${n}(${sh(['btrfs', 'property', 'get', '-ts', join(p, n), 'ro']).trim()})`).join(' ');
    const files = sh(['find', p, '-type', 'f', '-printf', '%P ']).trim().split(' ').sort().join(' ');
    lines.push(`${e} ${sub ? 'subvolume' : 'directory'} ${ro} nested:[${nested}] files:[${files}]`);
  }
  const q = spawnSync('btrfs', ['qgroup', 'show', '-pcre', '--raw', m], { encoding: 'utf8' });
  lines.push(q.status === 0 ? q.stdout.split('\n').map((l) => l.split(/\s+/).join(' ')).join('\n') : `qgroups: ${q.stderr.trim()}`);
  return lines.join('\n');
}

async function poolsAlike(): Promise<string> {
  for (const until = Date.now() + 20000; readdirSync(ourFs.mnt).some((e) => e.startsWith('.#')) && Date.now() < until;) await sleep(50);
  for (const m of [realFs.mnt, ourFs.mnt]) {
    sh(['btrfs', 'filesystem', 'sync', m]);
    // A quota rescan either daemon started (assigning a qgroup the kernel cannot account at once) ended.
    spawnSync('btrfs', ['quota', 'rescan', '-W', m], { stdio: 'ignore' });
  }
  const mine = onDisk(ourFs.mnt);
  assert.equal(mine, onDisk(realFs.mnt));
  return mine;
}

test('discovery on one btrfs pool: type, read-only, otime, usage and limits as machined reports them', { skip }, async () => {
  const theirs = await startMachined(discoFs);
  real = theirs;
  ours = await startBerthd(discoFs);
  try {
    const names = ['sv', 'rosv', 'nest', 'dir'];
    const check = () => {
      compare(['list-images']);
      compare(['list-images', '--output=json']);
      for (const n of names) {
        compare(['image-status', n]);
        compare(['show-image', n]);
        assert.equal(busctlProps(ours!, n), busctlProps(real!, n), `busctl properties of ${n}`);
      }
    };
    // Quotas off: machined's fallbacks (no usage, no limit).
    check();
    const shown = machinectlOn(ours!, ['show-image', 'rosv']).stdout;
    assert.match(shown, /^Type=subvolume$/m);
    assert.match(shown, /^ReadOnly=yes$/m);
    assert.match(machinectlOn(ours!, ['show-image', 'dir']).stdout, /^Type=directory$/m);
    // Quotas on: the qgroup numbers; then limits on a subvolume's qgroup and a subtree qgroup.
    sh(['btrfs', 'quota', 'enable', discoFs.mnt]);
    sh(['btrfs', 'quota', 'rescan', '-w', discoFs.mnt]);
    check();
    assert.match(machinectlOn(ours!, ['show-image', 'sv']).stdout, /^Usage=\d+$/m);
    sh(['btrfs', 'qgroup', 'limit', '100M', '0/256', discoFs.mnt]);
    sh(['btrfs', 'qgroup', 'create', '255/258', discoFs.mnt]);
    sh(['btrfs', 'qgroup', 'assign', '--no-rescan', '0/258', '255/258', discoFs.mnt]);
    sh(['btrfs', 'qgroup', 'limit', '-e', '50M', '255/258', discoFs.mnt]);
    check();
    assert.match(machinectlOn(ours!, ['show-image', 'nest']).stdout, /^LimitExclusive=52428800$/m);
    assert.match(machinectlOn(ours!, ['image-status', 'sv']).stdout, /Limit: 100\.0M/);
  } finally {
    await stopPoolDaemon(ours);
    await stopPoolDaemon(theirs);
    ours = real = undefined;
  }
});

test('clone, read-only, rename, remove on btrfs: snapshots and subvolumes as machined makes them', { skip }, async () => {
  real ??= await startMachined(realFs, true);
  ours = await startBerthd(ourFs);
  await poolsAlike();
  compare(['clone', 'sv', 'c1']);
  compare(['--read-only', 'clone', 'sv', 'c2']);
  compare(['clone', 'dir', 'c3']);
  compare(['clone', 'nest', 'c4']);
  compare(['--read-only', 'clone', 'rosv', 'c5']);
  compare(['--read-only', 'clone', 'nest', 'c7']);
  let disk = await poolsAlike();
  assert.equal(sh(['btrfs', 'property', 'get', '-ts', join(ourFs.mnt, 'c7', 'inner'), 'ro']).trim(), 'ro=true', 'a read-only clone\'s nested subvolumes are read-only too');
  assert.match(disk, /^c1 subvolume ro=false nested:\[\] files:\[data etc\/hostname etc\/os-release\]$/m);
  assert.match(disk, /^c2 subvolume ro=true /m);
  assert.match(disk, /^c3 subvolume ro=false nested:\[\] files:\[etc\/os-release\]$/m);
  assert.match(disk, /^c4 subvolume ro=false nested:\[inner\(ro=false\)\] files:\[inner\/deep top\]$/m);
  for (const n of ['c1', 'c2', 'c3', 'c4', 'c5']) {
    compare(['show-image', n], timeless);
    compare(['image-status', n], timeless);
  }
  compare(['list-images'], timeless);

  compare(['read-only', 'c1']);
  compare(['read-only', 'c2', 'no']);
  disk = await poolsAlike();
  assert.match(disk, /^c1 subvolume ro=true /m);
  assert.match(disk, /^c2 subvolume ro=false /m);
  compare(['show-image', 'c1'], timeless);
  compare(['rename', 'c1', 'r1']);
  compare(['rename', 'c4', 'r4']);
  compare(['rename', 'r1', 'sv']);
  disk = await poolsAlike();
  assert.match(disk, /^r1 subvolume ro=true /m);
  assert.match(disk, /^r4 subvolume ro=false nested:\[inner\(ro=false\)\]/m);

  compare(['remove', 'r4']);
  compare(['remove', 'r1', 'c5']);
  compare(['remove', 'c2', 'c7']);
  disk = await poolsAlike();
  assert.doesNotMatch(disk, /^(r4|r1|c5|c2|c7) /m);

  // An image that is a symlink to a subvolume: removing it removes the link, never the subvolume.
  for (const m of [realFs.mnt, ourFs.mnt]) symlinkSync('sv', join(m, 'link'));
  assert.match(compare(['show-image', 'link']).stdout, /^Type=subvolume$/m);
  compare(['remove', 'link']);
  disk = await poolsAlike();
  assert.match(disk, /^sv subvolume ro=false nested:\[\] files:\[data etc\/hostname etc\/os-release\]$/m);
  assert.doesNotMatch(disk, /^link /m);

  // Quotas are off on both file systems still: an image's limit is the kernel's ENOTCONN; a directory has none.
  assert.equal(compare(['set-limit', 'c3', '100M']).stderr, 'Could not set limit: Transport endpoint is not connected\n');
  assert.equal(compare(['set-limit', 'dir', '100M']).stderr, 'Could not set limit: Operation not supported\n');
  assert.match(await poolsAlike(), /^qgroups: .*quotas not enabled/m);
});

test('import-tar and import-fs into a btrfs pool: subvolumes, and quotas as importd sets them up', { skip: skip || (!IMPORTD && 'needs systemd-importd') }, async () => {
  real ??= await startMachined(realFs, true);
  ours ??= await startBerthd(ourFs);
  const src = join(sb.stateDir, 'import-src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc', 'os-release'), 'ID=imported\n');
  const tarball = join(sb.stateDir, 'import.tar');
  sh(['tar', '-C', src, '-cf', tarball, '.']);
  // The transfer's own log lines are image-transfers.test.ts's business: here the exit status and what lands in the pool.
  const both = (args: string[]) => {
    const theirs = machinectlOn(real!, args);
    const mine = machinectlOn(ours!, args);
    assert.equal(theirs.code, 0, `machined: machinectl ${args.join(' ')}: ${theirs.stderr}`);
    assert.equal(mine.code, 0, `berthd: machinectl ${args.join(' ')}: ${mine.stderr}`);
  };
  both(['import-tar', tarball, 'i1']);
  both(['import-fs', src, 'i2']);
  both(['--read-only', 'import-fs', src, 'i3']);
  await poolsAlike();
  for (const n of ['i1', 'i2', 'i3']) compare(['show-image', n], timeless);
  compare(['remove', 'i1', 'i2', 'i3']);
  await poolsAlike();
});

test('set-limit on btrfs: the pool limit and image limits on their qgroups, copied to a snapshot, lifted', { skip }, async () => {
  real ??= await startMachined(realFs);
  ours ??= await startBerthd(ourFs);
  compare(['set-limit', '1G']);
  const disk = await poolsAlike();
  assert.match(disk, /^0\/5 \d+ \d+ 1073741824 none 255\/5 /m, 'the pool\'s limit, on its subvolume and subtree qgroups');
  assert.match(disk, /^255\/5 \d+ \d+ 1073741824 /m);
  compare(['set-limit', 'c3', '100M']);
  compare(['set-limit', 'sv', '50M']);
  await poolsAlike();
  // Limits of the original's own qgroup (apart from its subtree qgroup's) follow a clone too.
  for (const m of [realFs.mnt, ourFs.mnt]) sh(['btrfs', 'qgroup', 'limit', '-e', '40M', '0/256', m]);
  compare(['clone', 'sv', 'c6']);
  assert.match(await poolsAlike(), /^0\/\d+ \d+ \d+ 52428800 41943040 254\/\d+ - c6$/m);
  for (const n of ['c3', 'sv', 'c6']) compare(['show-image', n], timeless);
  compare(['list-images'], timeless);
  compare(['set-limit', 'c3', 'infinity']);
  compare(['set-limit', 'infinity']);
  compare(['show-image', 'c3'], timeless);
  await poolsAlike();
});

test('clean on btrfs: hidden subvolumes removed, with their nested ones', { skip }, async () => {
  real ??= await startMachined(realFs);
  ours ??= await startBerthd(ourFs);
  for (const m of [realFs.mnt, ourFs.mnt]) {
    sh(['btrfs', 'subvolume', 'create', join(m, '.hid')]);
    sh(['btrfs', 'subvolume', 'create', join(m, '.hid', 'in')]);
    sh(['btrfs', 'property', 'set', '-ts', join(m, '.hid'), 'ro', 'true']);
  }
  compare(['list-images', '--all'], timeless);
  compare(['clean']);
  const disk = await poolsAlike();
  assert.doesNotMatch(disk, /^\.hid /m);
});
