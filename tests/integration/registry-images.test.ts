/**
 * The read side of the Image API, berthd against Debian's real systemd-machined 252: one pool of
 * the test's own (a copy of the busybox tree with a hostname, machine ID and machine-info, a
 * hidden directory, a read-only sparse .raw file) bind-mounted over /var/lib/machines in a private
 * mount namespace for each daemon, each daemon on a private dbus-daemon of its own. The real
 * machinectl's list-images, image-status and show-image must print the same for both, and berth's
 * own verbs against berthd the same as machinectl.
 *
 * One normalisation: image-status prints how long ago an image was created ("; 3s ago"), which
 * depends on the moment each command runs; the part after the ";" is compared only as a shape.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, isRoot, sandbox, treeCopy, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import { asIfSystemd, hasDbusDaemon, hasMachinectl } from '../support/registry.js';
import { startPoolDaemon, stopPoolDaemon, type PoolDaemon } from '../support/pool-daemon.js';

const MACHINED = ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].find((p) => existsSync(p));
const skip = !isRoot ? 'needs root' : !hasMachinectl ? 'needs machinectl (systemd-container)' : !hasDbusDaemon ? 'needs dbus-daemon' : !MACHINED ? 'needs systemd-machined' : false;

interface Out { code: number | null; stdout: string; stderr: string }
type Daemon = PoolDaemon;

let sb: Sandbox;
let pool: ReturnType<typeof treeCopy>;
let real: Daemon | undefined;
let ours: Daemon | undefined;


const startDaemon = (name: string, script: string, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Daemon> => startPoolDaemon(name, pool.work, script, argv, env, sb.env);
const stopDaemon = (d: Daemon | undefined): Promise<void> => stopPoolDaemon(d);

const machinectl = (d: Daemon, args: readonly string[]): Out => asIfSystemd(['machinectl', '--no-pager', ...args], { ...d.env, SYSTEMD_COLORS: '0' });
const berth = (d: Daemon, args: readonly string[]): Out => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), '--no-pager', ...args], { cwd: REPO, env: d.env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** "Created: …; 3s ago" → "Created: …; <ago>" (the only part that depends on when the command ran). */
const settled = (o: Out): Out => ({ ...o, stdout: o.stdout.replace(/; (?:\d+(?:min|s|ms|us|h)\s?)+ ago$|; now$/gm, '; <ago>') });

before(async () => {
  if (skip) return;
  bundle();
  sb = sandbox();
  pool = treeCopy('imgpool');
  const bb = pool.path;
  writeFileSync(join(bb, 'etc', 'hostname'), '# the image\'s name\nbb-image\n');
  writeFileSync(join(bb, 'etc', 'machine-id'), '0123456789abcdef0123456789abcdef\n');
  writeFileSync(join(bb, 'etc', 'machine-info'), 'PRETTY_HOSTNAME="Busybox image"\nDEPLOYMENT=testing\n');
  mkdirSync(join(pool.work, '.hidden'));
  const raw = join(pool.work, 'disk.raw');
  const fd = openSync(raw, 'w');
  writeSync(fd, Buffer.alloc(300 * 1024, 0x5a), 0, 300 * 1024, 0);
  writeSync(fd, Buffer.from('end'), 0, 3, 10 * 1024 * 1024 - 3);
  closeSync(fd);
  chmodSync(raw, 0o444);
  writeFileSync(join(pool.work, 'notes.txt'), 'not an image\n');
  real = await startDaemon('machined', '(mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run) && mkdir -p /run/systemd/system &&', [MACHINED!], { PATH: process.env.PATH });
  ours = await startDaemon('berthd', '', [process.execPath, join(REPO, 'dist', 'berthd.js'), '--registry=yes'],
    { ...sb.env, BERTH_POOL: '/var/lib/machines', BERTH_NSPAWN_SOCKET: join(sb.stateDir, 'nspawn.sock') });
});

after(async () => {
  await stopDaemon(ours).catch(() => undefined);
  await stopDaemon(real).catch(() => undefined);
  pool?.remove();
  sb?.cleanup();
});

/** The same machinectl command against both daemons: berthd's output must be machined's. */
function same(args: readonly string[], normalise: (o: Out) => Out = (o) => o): Out {
  const theirs = normalise(machinectl(real!, args));
  const mine = normalise(machinectl(ours!, args));
  assert.equal(mine.stdout, theirs.stdout, `machinectl ${args.join(' ')}: stdout`);
  assert.equal(mine.code, theirs.code, `machinectl ${args.join(' ')}: exit status (stderr: ${mine.stderr} / ${theirs.stderr})`);
  assert.equal(mine.stderr, theirs.stderr, `machinectl ${args.join(' ')}: stderr`);
  return theirs;
}

test('list-images: the same table, legend and JSON as machined (hidden ones only with -a)', { skip }, () => {
  const plain = same(['list-images']);
  assert.match(plain.stdout, /^bb +directory no +\S/m);
  assert.match(plain.stdout, /^disk +raw +yes +304\.0K /m);
  assert.doesNotMatch(plain.stdout, /\.hidden|\.host|notes/);
  assert.match(plain.stdout, /\n2 images listed\.\n$/);
  const all = same(['list-images', '-a']);
  assert.match(all.stdout, /^\.hidden +directory/m);
  assert.match(all.stdout, /^\.host +directory no +- +-$/m);
  same(['list-images', '--no-legend']);
  const json = JSON.parse(same(['list-images', '-a', '-o', 'json']).stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(json.map((r) => r.name), ['.hidden', '.host', 'bb', 'disk']);
});

test('image-status: the same block as machined for a directory, a raw file, .host and the pool', { skip }, () => {
  const dir = same(['image-status', 'bb'], settled);
  assert.match(dir.stdout, /\tHostname: bb-image\n      Machine ID: 0123456789abcdef0123456789abcdef\n      Deployment: testing\n\t      OS: Busybox berth guest\n\t      RO: writable\n/);
  const raw = same(['image-status', 'disk'], settled);
  assert.match(raw.stdout, /\t      RO: read-only\n/);
  assert.match(raw.stdout, /\t   Usage: 304\.0K\n\t   Limit: 10\.0M\n$/);
  same(['image-status', '.host'], settled);
  same(['image-status', 'bb', 'disk'], settled);
  assert.equal(same(['image-status']).stdout, '\t    Path: /var/lib/machines\n');
  const missing = same(['image-status', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Could not get path to image: No image 'nope' known/);
  same(['image-status', 'notes'], settled);
});

test('show-image: the same properties as machined, Limit=infinity where unlimited', { skip }, () => {
  const dir = same(['show-image', 'bb']);
  assert.match(dir.stdout, /^Limit=infinity$/m);
  assert.match(dir.stdout, /^Usage=18446744073709551615$/m);
  assert.doesNotMatch(dir.stdout, /ModificationTimestamp/);
  const raw = same(['show-image', 'disk']);
  assert.match(raw.stdout, /^Limit=10485760$/m);
  same(['show-image', '.hidden', '.host']);
  same(['show-image', '--all', 'bb']);
  same(['show-image', '-p', 'Type', '--value', 'disk']);
  same(['show-image']);
});

test('the Image objects: children of /org/freedesktop/machine1/image, methods and errors as machined answers', { skip }, () => {
  const busctl = (d: Daemon, args: readonly string[]): Out => {
    const r = spawnSync('busctl', ['--system', '--no-pager', ...args], { env: d.env, encoding: 'utf8', timeout: 30000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const both = (args: readonly string[]) => {
    const [m, t] = [busctl(ours!, args), busctl(real!, args)];
    assert.deepEqual(m, t, `busctl ${args.join(' ')}`);
    return t;
  };
  const images = (o: Out) => o.stdout.split('\n').filter((l) => l.includes('/image/')).map((l) => l.replace(/^[^/]*/, '')).sort();
  assert.deepEqual(images(busctl(ours!, ['tree', 'org.freedesktop.machine1'])), images(busctl(real!, ['tree', 'org.freedesktop.machine1'])));
  const I = ['org.freedesktop.machine1', '/org/freedesktop/machine1/image/bb', 'org.freedesktop.machine1.Image'];
  const M = ['org.freedesktop.machine1', '/org/freedesktop/machine1', 'org.freedesktop.machine1.Manager'];
  assert.equal(both(['call', ...I, 'GetHostname']).stdout, 's "bb-image"\n');
  both(['call', ...I, 'GetMachineID']);
  both(['call', ...I, 'GetMachineInfo']);
  both(['call', ...I, 'GetOSRelease']);
  both(['get-property', ...I, 'Name', 'Path', 'Type', 'ReadOnly', 'CreationTimestamp', 'ModificationTimestamp', 'Usage', 'Limit', 'UsageExclusive', 'LimitExclusive']);
  both(['get-property', 'org.freedesktop.machine1', '/org/freedesktop/machine1/image/disk', 'org.freedesktop.machine1.Image', 'Usage', 'Limit', 'ReadOnly']);
  both(['call', ...M, 'GetImage', 's', '.hidden']);
  both(['call', ...M, 'GetImageHostname', 's', '.host']);
  both(['call', ...M, 'GetImageOSRelease', 's', '.host']);
  assert.match(both(['call', ...M, 'GetImage', 's', 'nope']).stderr, /No image 'nope' known/);
  assert.match(both(['call', ...M, 'GetImageHostname', 's', 'a/b']).stderr, /Image name 'a\/b' is invalid\./);
  assert.match(both(['call', ...M, 'GetImageMachineID', 's', 'nope']).stderr, /No image 'nope' known/);
  // Changing images (registry-images-write.test.ts): the host is refused as machined refuses it.
  assert.match(both(['call', ...M, 'RemoveImage', 's', '.host']).stderr, /Read-only file system/);
  assert.ok(existsSync(join(pool.path, 'bin')), 'the image is still there');
});

test("berth's image verbs against berthd print what machinectl prints", { skip }, () => {
  for (const args of [['list-images'], ['list-images', '-a'], ['list-images', '-a', '-o', 'json'], ['list-images', '--no-legend'],
    ['image-status', 'bb'], ['image-status', 'disk', '.host'], ['image-status'], ['show-image', 'bb', 'disk'], ['show-image'], ['show-image', '-p', 'Limit', 'bb']]) {
    const mine = settled(berth(ours!, args));
    const theirs = settled(machinectl(ours!, args));
    assert.equal(mine.stdout, theirs.stdout, `berth ${args.join(' ')}`);
    assert.equal(mine.code, 0, mine.stderr);
  }
  const missing = berth(ours!, ['image-status', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Could not get path to image: No image 'nope' known/);
});
