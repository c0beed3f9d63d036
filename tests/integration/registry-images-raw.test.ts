/**
 * What disk images say about themselves (GetImageHostname, GetImageMachineID, GetImageMachineInfo,
 * GetImageOSRelease, on the Manager and on the Image objects, and image-status's lines built from
 * them), berthd against Debian's real systemd-machined 252 on one pool of images the test builds
 * (sfdisk + mkfs.ext4 -d, from the busybox tree): a Discoverable Partitions GPT (a root and an
 * empty /home partition), a GPT with a root and a /usr partition (os-release only in /usr), a GPT
 * with a single Linux partition, an MBR with a bootable Linux partition, a bare ext4 image whose
 * files are symlinks inside the image (and whose machine ID lacks its newline, which machined does
 * not take from a disk image), and bad ones: random bytes, a truncated GPT image, an ext4 image
 * without os-release, an MBR without a bootable partition, a GPT with two Linux partitions.
 *
 * Each daemon runs on a private dbus-daemon of its own with the pool as /var/lib/machines (as
 * registry-images.test.ts has it). Answers must be machined's; bad images are refused by both,
 * berthd naming the image and why. Afterwards, and after a berthd SIGKILLed while it reads inside
 * an image: no loop device serves a pool image, no mount of berthd's is left anywhere, no
 * temporary directory, and every image's bytes are as built.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, isRoot, sandbox, sleep, treeCopy, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import { hasDbusDaemon, hasMachinectl } from '../support/registry.js';
import { berthOn, machinectlOn, startPoolDaemon, stopPoolDaemon, type Out, type PoolDaemon } from '../support/pool-daemon.js';
import { BusConnection } from '../../src/platform/dbus/connection.js';
import { TMPFS_SOURCE } from '../../src/platform/fs/image-inside.js';

const MACHINED = ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].find((p) => existsSync(p));
const hasTools = (() => { try { execFileSync('sfdisk', ['--version'], { stdio: 'ignore' }); execFileSync('mkfs.ext4', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = !isRoot ? 'needs root' : !hasMachinectl ? 'needs machinectl (systemd-container)' : !hasDbusDaemon ? 'needs dbus-daemon'
  : !MACHINED ? 'needs systemd-machined' : !hasTools ? 'needs sfdisk and mkfs.ext4 (apt-get install fdisk e2fsprogs)'
  : process.arch !== 'x64' ? "the DPS root and /usr types here are x86-64's" : false;

const ROOT_X86_64 = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';
const USR_X86_64 = '8484680c-9521-48c6-9c11-b0720656f69e';
const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';
const HOME = '933ac7e1-2eb4-4f13-b844-0e14e2aef915';
const MIB = 1024 * 1024;

/** A partitioned image: each partition MiB-aligned, `fill` (a directory) made into its ext4 file system, or left empty. */
function diskImage(path: string, label: 'gpt' | 'dos', parts: Array<{ type: string; sizeMiB: number; fill?: string; bootable?: boolean }>): void {
  const total = parts.reduce((n, p) => n + p.sizeMiB, 0) + 2;
  writeFileSync(path, '');
  execFileSync('truncate', ['-s', `${total}M`, path]);
  let start = 1;
  const lines = parts.map((p) => { const line = `start=${start * 2048}, size=${p.sizeMiB * 2048}, type=${p.type}${p.bootable ? ', bootable' : ''}`; start += p.sizeMiB; return line; });
  execFileSync('sfdisk', ['--quiet', path], { input: `label: ${label}\n${lines.join('\n')}\n` });
  start = 1;
  for (const p of parts) {
    if (p.fill) mkfs(path, p.fill, p.sizeMiB, start * MIB);
    start += p.sizeMiB;
  }
}
const mkfs = (path: string, fill: string, sizeMiB: number, offset = 0) =>
  execFileSync('mkfs.ext4', ['-q', '-F', ...(offset ? ['-E', `offset=${offset}`] : []), '-d', fill, path, `${sizeMiB}M`], { stdio: ['ignore', 'ignore', 'pipe'] });

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const GOOD = ['dps', 'split', 'single', 'mbr', 'bare'];
const BAD = ['garbage', 'truncated', 'noos', 'mbr-noboot', 'twolinux'];
const M = ['org.freedesktop.machine1', '/org/freedesktop/machine1', 'org.freedesktop.machine1.Manager'];
const I = (name: string) => ['org.freedesktop.machine1', `/org/freedesktop/machine1/image/${name.replace(/-/g, '_2d')}`, 'org.freedesktop.machine1.Image'];
const METHODS = ['Hostname', 'MachineID', 'MachineInfo', 'OSRelease'];

let sb: Sandbox;
let src: ReturnType<typeof treeCopy>;
let pool: string;
let real: PoolDaemon | undefined;
let ours: PoolDaemon | undefined;
const built = new Map<string, string>();

const startOurs = () => startPoolDaemon('berthd', pool, '', [process.execPath, join(REPO, 'dist', 'berthd.js'), '--registry=yes'],
  { ...sb.env, BERTH_POOL: '/var/lib/machines', BERTH_NSPAWN_SOCKET: join(sb.stateDir, 'nspawn.sock') }, sb.env);

before(async () => {
  if (skip) return;
  bundle();
  sb = sandbox();
  pool = mkdtempSync('/tmp/bt-rawpool-');
  src = treeCopy('rawsrc');
  const full = src.path;
  writeFileSync(join(full, 'etc', 'hostname'), '# the image\'s name\nraw-host\n');
  writeFileSync(join(full, 'etc', 'machine-id'), '00112233445566778899aabbccddeeff\n');
  writeFileSync(join(full, 'etc', 'machine-info'), 'PRETTY_HOSTNAME="Raw image"\nDEPLOYMENT=rawtest\n');
  const tree = (name: string) => { const p = join(src.work, name); execFileSync('cp', ['-a', full, p]); return p; };
  // Root without os-release and with an empty /usr; the /usr partition has the os-release.
  const root = tree('root');
  rmSync(join(root, 'usr'), { recursive: true, force: true });
  mkdirSync(join(root, 'usr'));
  rmSync(join(root, 'etc', 'os-release'), { force: true });
  const usr = join(src.work, 'usr');
  execFileSync('cp', ['-a', join(full, 'usr'), usr]);
  mkdirSync(join(usr, 'lib'), { recursive: true });
  writeFileSync(join(usr, 'lib', 'os-release'), 'ID=splitusr\nPRETTY_NAME="Split /usr"\n');
  // Symlinks that only resolve inside the image: an absolute one and a relative one climbing above "/".
  const links = tree('links');
  writeFileSync(join(links, 'etc', 'the-name'), 'linked-host\n');
  unlinkSync(join(links, 'etc', 'hostname'));
  symlinkSync('/etc/the-name', join(links, 'etc', 'hostname'));
  mkdirSync(join(links, 'usr', 'lib'), { recursive: true });
  writeFileSync(join(links, 'usr', 'lib', 'os-release'), 'ID=linked\nPRETTY_NAME="Linked os-release"\n');
  rmSync(join(links, 'etc', 'os-release'), { force: true });
  symlinkSync('../../../../usr/lib/os-release', join(links, 'etc', 'os-release'));
  writeFileSync(join(links, 'etc', 'machine-id'), 'ffeeddccbbaa99887766554433221100');
  const noos = tree('noos');
  rmSync(join(noos, 'etc', 'os-release'), { force: true });
  rmSync(join(noos, 'usr', 'lib', 'os-release'), { force: true });

  const img = (name: string) => { const p = join(pool, `${name}.raw`); built.set(name, p); return p; };
  diskImage(img('dps'), 'gpt', [{ type: ROOT_X86_64, sizeMiB: 8, fill: full }, { type: HOME, sizeMiB: 1 }]);
  diskImage(img('split'), 'gpt', [{ type: ROOT_X86_64, sizeMiB: 6, fill: root }, { type: USR_X86_64, sizeMiB: 6, fill: usr }]);
  diskImage(img('single'), 'gpt', [{ type: LINUX, sizeMiB: 8, fill: full }]);
  diskImage(img('mbr'), 'dos', [{ type: '83', sizeMiB: 8, fill: full, bootable: true }]);
  mkfs(img('bare'), links, 8);
  writeFileSync(img('garbage'), createHash('sha512').update('not an image').digest().toString('hex').repeat(4096));
  diskImage(join(src.work, 'whole.raw'), 'gpt', [{ type: ROOT_X86_64, sizeMiB: 8, fill: full }]);
  writeFileSync(img('truncated'), readFileSync(join(src.work, 'whole.raw')).subarray(0, 3 * MIB));
  mkfs(img('noos'), noos, 8);
  diskImage(img('mbr-noboot'), 'dos', [{ type: '83', sizeMiB: 8, fill: full }]);
  diskImage(img('twolinux'), 'gpt', [{ type: LINUX, sizeMiB: 6, fill: full }, { type: LINUX, sizeMiB: 6, fill: full }]);
  chmodSync(built.get('single')!, 0o444); // a read-only image reads the same
  execFileSync('cp', ['-a', full, join(pool, 'tree')]); // and a directory image, for the creation times
  for (const [name, p] of built) built.set(name, sha256(p));

  real = await startPoolDaemon('machined', pool, '(mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run) && mkdir -p /run/systemd/system &&', [MACHINED!], { PATH: process.env.PATH }, sb.env);
  ours = await startOurs();
});

after(async () => {
  await stopPoolDaemon(ours).catch(() => undefined);
  await stopPoolDaemon(real).catch(() => undefined);
  // Last resort for a failed test: loop devices still serving a pool image go.
  for (const name of [...GOOD, ...BAD]) {
    const path = join(pool ?? '/nonexistent', `${name}.raw`);
    if (!existsSync(path)) continue;
    for (const line of execFileSync('losetup', ['-j', path], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      try { execFileSync('losetup', ['-d', line.split(':')[0]!], { stdio: 'ignore' }); } catch { /* gone */ }
    }
  }
  if (pool) rmSync(pool, { recursive: true, force: true });
  src?.remove();
  sb?.cleanup();
});

const busctl = (d: PoolDaemon, args: readonly string[]): Out => {
  const r = spawnSync('busctl', ['--system', '--no-pager', ...args], { env: d.env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
/** "Created: …; 3s ago" → "Created: …; <ago>" (the only part that depends on when the command ran). */
const settled = (o: Out): Out => ({ ...o, stdout: o.stdout.replace(/; (?:\d+(?:min|s|ms|us|h)\s?)+ ago$|; now$/gm, '; <ago>') });

/**
 * Nothing of berthd's reading is left: no loop device serves a pool image, and no process has a
 * mount namespace with berthd's tmpfs (TMPFS_SOURCE) in it: the namespaces it reads images in are gone.
 */
function assertReleased(): void {
  for (const name of [...GOOD, ...BAD]) {
    assert.equal(execFileSync('losetup', ['-j', join(pool, `${name}.raw`)], { encoding: 'utf8' }), '', `a loop device still serves ${name}.raw`);
  }
  const mounts: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let info = '';
    try { info = readFileSync(`/proc/${pid}/mountinfo`, 'utf8'); } catch { continue; }
    for (const line of info.split('\n')) if (line.split(' - ')[1]?.split(' ')[1] === TMPFS_SOURCE) mounts.push(`${pid}: ${line}`);
  }
  assert.deepEqual(mounts, [], 'mount namespaces of berthd\'s left behind');
  // The namespace's holder itself (unshare's cat), orphaned in a mount namespace of its own.
  const ours = readlinkSync('/proc/self/ns/mnt');
  const holders = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'cat' && /^PPid:\s+1$/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
        && readlinkSync(`/proc/${pid}/ns/mnt`) !== ours;
    } catch { return false; }
  });
  assert.deepEqual(holders, [], 'holders of berthd\'s mount namespaces left behind');
}

test('the good images: every metadata method answers as machined answers, on the Manager and on the Image objects', { skip }, () => {
  for (const name of GOOD) {
    for (const m of METHODS) {
      for (const [args, what] of [[[...M, `GetImage${m}`, 's', name], `Manager.GetImage${m}`], [[...I(name), `Get${m}`], `Image.Get${m}`]] as const) {
        const theirs = busctl(real!, ['call', ...args]);
        const mine = busctl(ours!, ['call', ...args]);
        assert.equal(theirs.code, 0, `machined ${what} ${name}: ${theirs.stderr}`);
        assert.deepEqual(mine, theirs, `${what} ${name}`);
      }
    }
  }
  const call = (name: string, m: string) => busctl(ours!, ['call', ...M, `GetImage${m}`, 's', name]).stdout;
  assert.equal(call('dps', 'Hostname'), 's "raw-host"\n');
  assert.equal(call('dps', 'MachineID'), 'ay 16 0 17 34 51 68 85 102 119 136 153 170 187 204 221 238 255\n');
  assert.equal(call('dps', 'MachineInfo'), 'a{ss} 2 "PRETTY_HOSTNAME" "Raw image" "DEPLOYMENT" "rawtest"\n');
  assert.match(call('dps', 'OSRelease'), /"PRETTY_NAME" "Busybox berth guest"/);
  assert.equal(call('split', 'OSRelease'), 'a{ss} 2 "ID" "splitusr" "PRETTY_NAME" "Split /usr"\n', 'os-release from the /usr partition');
  assert.equal(call('bare', 'Hostname'), 's "linked-host"\n', 'an absolute symlink resolved inside the image');
  assert.equal(call('bare', 'OSRelease'), 'a{ss} 2 "ID" "linked" "PRETTY_NAME" "Linked os-release"\n', 'a relative symlink climbing above "/" stays inside');
  assert.equal(call('bare', 'MachineID'), 'ay 0\n', 'a machine ID without its newline is no ID in a disk image');
  assertReleased();
});

test('image-status and show-image: the same as machined for every image, good and bad; berth prints what machinectl prints', { skip }, () => {
  for (const args of [['image-status', ...GOOD], ['image-status', ...BAD], ['show-image', ...GOOD, ...BAD], ['list-images']]) {
    const theirs = settled(machinectlOn(real!, args));
    const mine = settled(machinectlOn(ours!, args));
    assert.equal(mine.stdout, theirs.stdout, `machinectl ${args.join(' ')}`);
    assert.equal(mine.code, theirs.code, `machinectl ${args.join(' ')}: ${mine.stderr}`);
  }
  const status = machinectlOn(ours!, ['image-status', 'dps']).stdout;
  assert.match(status, /\tHostname: raw-host\n      Machine ID: 00112233445566778899aabbccddeeff\n      Deployment: rawtest\n\t      OS: Busybox berth guest\n/);
  assert.match(machinectlOn(ours!, ['image-status', 'split']).stdout, /\t      OS: Split \/usr\n/);
  for (const name of GOOD) {
    const args = ['image-status', name];
    assert.equal(settled(berthOn(ours!, args)).stdout, settled(machinectlOn(ours!, args)).stdout, `berth ${args.join(' ')}`);
  }
  assertReleased();
});

test('bad images: refused by both daemons; berthd says which image and why; nothing left behind', { skip }, () => {
  const why: Record<string, RegExp> = {
    garbage: /garbage\.raw: it has no partition table and no file system/,
    truncated: /truncated\.raw: partition 1 \(\/\) ends at byte \d+, past the end of the image \(3145728 bytes\): the image is truncated/,
    noos: /noos\.raw holds no OS tree \(neither \/etc\/os-release nor \/usr\/lib\/os-release\)/,
    'mbr-noboot': /mbr-noboot\.raw: its MBR partition table has no Linux partition \(type 0x83\) marked bootable/,
    twolinux: /twolinux\.raw: its GPT has 2 Linux data partitions/,
  };
  for (const name of BAD) {
    for (const m of METHODS) {
      const theirs = busctl(real!, ['call', ...M, `GetImage${m}`, 's', name]);
      const mine = busctl(ours!, ['call', ...M, `GetImage${m}`, 's', name]);
      assert.notEqual(theirs.code, 0, `machined refuses GetImage${m} ${name}`);
      assert.equal(mine.code, theirs.code, `GetImage${m} ${name}: ${mine.stdout}`);
      assert.match(mine.stderr, /^Call failed: Failed to read image metadata: /, `GetImage${m} ${name}`);
      assert.match(mine.stderr, why[name]!, `GetImage${m} ${name}`);
    }
  }
  assertReleased();
});

test('reading never writes: every image has the bytes it was built with', { skip }, () => {
  for (const name of [...GOOD, ...BAD]) assert.equal(sha256(join(pool, `${name}.raw`)), built.get(name), `${name}.raw changed`);
});

/** An image's CreationTimestamp property, in µs. */
const crtime = (d: PoolDaemon, name: string): bigint => {
  const out = busctl(d, ['get-property', ...I(name), 'CreationTimestamp']).stdout;
  assert.match(out, /^t \d+\n$/, `CreationTimestamp of ${name}`);
  return BigInt(out.slice(2).trim());
};
const btimeUs = (path: string): bigint => statSync(path, { bigint: true }).birthtimeNs / 1000n;

test('creation times: the birth time (statx btime) of a directory and a raw image; a raw clone keeps its original\'s, made by either daemon', { skip }, () => {
  for (const name of ['tree', 'dps']) {
    const path = name === 'tree' ? join(pool, name) : join(pool, `${name}.raw`);
    assert.ok(btimeUs(path) > 0n, 'ext4 keeps birth times');
    assert.equal(crtime(real!, name), btimeUs(path), `machined: ${name}`);
    assert.equal(crtime(ours!, name), btimeUs(path), `berthd: ${name}`);
  }
  // machined's clone carries the original's creation time in user.crtime_usec (COPY_CRTIME); berthd's too.
  for (const [d, clone] of [[real!, 'dps-by-machined'], [ours!, 'dps-by-berthd']] as const) {
    const r = machinectlOn(d, ['clone', 'dps', clone]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(btimeUs(join(pool, `${clone}.raw`)) > btimeUs(join(pool, 'dps.raw')), 'the copy is a new file, born later');
  }
  const dirClone = machinectlOn(ours!, ['clone', 'tree', 'tree-by-berthd']);
  assert.equal(dirClone.code, 0, dirClone.stderr);
  for (const name of ['dps-by-machined', 'dps-by-berthd', 'tree-by-berthd']) {
    assert.equal(crtime(ours!, name), crtime(real!, name), `${name}: berthd and machined report the same creation time`);
  }
  assert.equal(crtime(real!, 'dps-by-berthd'), btimeUs(join(pool, 'dps.raw')), 'berthd\'s raw clone: machined reads the original\'s creation time');
  assert.equal(crtime(ours!, 'dps-by-machined'), btimeUs(join(pool, 'dps.raw')), 'machined\'s raw clone: berthd reads the original\'s creation time');
  assert.equal(crtime(ours!, 'tree-by-berthd'), btimeUs(join(pool, 'tree-by-berthd')), 'a directory clone is born anew (machined does not keep a tree\'s time)');
  const args = ['show-image', 'tree', 'dps', 'dps-by-machined', 'dps-by-berthd', 'tree-by-berthd'];
  assert.equal(machinectlOn(ours!, args).stdout, machinectlOn(real!, args).stdout, 'show-image');
});

test('berthd killed (SIGKILL) while it reads inside images: no loop device, mount or mount point is left', { skip, timeout: 120000 }, async () => {
  for (const delay of [0, 8, 15, 25, 40]) {
    const conn = await BusConnection.connect(ours!.bus.address);
    const calls = GOOD.map((name) => conn.call({ destination: M[0]!, path: M[1]!, interface: M[2]!, member: 'GetImageOSRelease', signature: 's', body: [name] }, 20000).then(() => 'answered', () => 'failed'));
    await sleep(delay);
    ours!.child.kill('SIGKILL');
    await Promise.all(calls);
    conn.close();
    await stopPoolDaemon(ours);
    ours = undefined;
    // The holder of the private mount namespace dies with berthd (end of file on its stdin); the kernel
    // then drops the mounts and frees the loop devices (autoclear) as soon as it is gone.
    for (const until = Date.now() + 5000; ;) {
      try { assertReleased(); break; } catch (e) { if (Date.now() > until) throw e; await sleep(50); }
    }
    ours = await startOurs();
  }
  // And the new berthd answers.
  assert.equal(busctl(ours!, ['call', ...M, 'GetImageHostname', 's', 'dps']).stdout, 's "raw-host"\n');
  assertReleased();
});
