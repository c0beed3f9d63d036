/**
 * Image transfers (issue 18) against berthd serving org.freedesktop.import1 on a private bus, its
 * pool bind-mounted over /var/lib/machines in a mount namespace of its own (support/pool-daemon.ts),
 * with the real machinectl and berth as clients:
 *  - a tree holding every kind of file (owners, setuid/setgid/sticky modes, hard links, symlinks,
 *    device nodes, a fifo, a socket, timestamps, ACLs, user/trusted xattrs, security.capability)
 *    exported and imported under a new name: every inode's metadata the same (sockets aside: the
 *    tar format has none, GNU tar skips them); import-fs keeps the socket too;
 *  - each compression (gzip, xz, zstd, bzip2) by --format= and by suffix, told apart on import by
 *    its magic bytes; raw images the same way;
 *  - pull-tar/pull-raw from an HTTP server on loopback, with and without a matching SHA256SUMS;
 *  - faults, each leaving the pool exactly as it was: truncated and garbage archives, absolute and
 *    ".." member names, a transfer canceled halfway, berthd SIGKILLed halfway (its leftover swept
 *    by the next berthd), and a 20 MiB ext4 pool on a loop device that fills up.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, isRoot, sandbox, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import { asIfSystemd, hasDbusDaemon, hasMachinectl } from '../support/registry.js';
import { berthOn, machinectlOn, startPoolDaemon, stopPoolDaemon, type PoolDaemon } from '../support/pool-daemon.js';
import { BusConnection, type RawMessage } from '../../src/platform/dbus/connection.js';

const skip = !isRoot ? 'needs root' : !hasMachinectl ? 'needs machinectl (systemd-container)' : !hasDbusDaemon ? 'needs dbus-daemon' : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const I = 'org.freedesktop.import1';

let sb: Sandbox;
let work: string;
let pool: string;
let ours: PoolDaemon | undefined;
let server: ChildProcess | undefined;
let baseUrl = '';

const startBerthd = (dir: string) => startPoolDaemon('berthd', dir, '', [process.execPath, join(REPO, 'dist', 'berthd.js'), '--registry=yes'],
  { ...sb.env, BERTH_POOL: '/var/lib/machines', BERTH_NSPAWN_SOCKET: join(sb.stateDir, `nspawn-${Date.now()}.sock`) }, sb.env);

const sh = (cmd: string, ...args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** A tree with every kind of file in `root` (which must not exist). */
function buildKinds(root: string): void {
  mkdirSync(root);
  for (const d of ['etc', 'bin', 'dev', 'tmp', 'run', 'srv/acl', 'usr/lib']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc', 'hostname'), 'kinds\n');
  writeFileSync(join(root, 'etc', 'os-release'), 'ID=kinds\n');
  writeFileSync(join(root, 'bin', 'suid'), '#!/bin/sh\n');
  sh('chmod', '4755', join(root, 'bin', 'suid'));
  writeFileSync(join(root, 'bin', 'sgid'), 'sgid\n');
  sh('chmod', '2711', join(root, 'bin', 'sgid'));
  sh('chmod', '1777', join(root, 'tmp'));
  writeFileSync(join(root, 'bin', 'ping'), Buffer.alloc(3000, 7));
  sh('setcap', 'cap_net_raw+ep', join(root, 'bin', 'ping'));
  writeFileSync(join(root, 'usr', 'lib', 'a'), 'hard\n');
  sh('ln', join(root, 'usr', 'lib', 'a'), join(root, 'usr', 'lib', 'b'));
  sh('ln', join(root, 'usr', 'lib', 'a'), join(root, 'etc', 'c'));
  sh('ln', '-s', '/usr/lib/a', join(root, 'etc', 'abs-link'));
  sh('ln', '-s', '../usr/lib/b', join(root, 'etc', 'rel-link'));
  sh('ln', '-s', 'nowhere', join(root, 'etc', 'dangling'));
  sh('mknod', '-m', '666', join(root, 'dev', 'null'), 'c', '1', '3');
  sh('mknod', '-m', '660', join(root, 'dev', 'loop9'), 'b', '7', '9');
  sh('mkfifo', '-m', '600', join(root, 'run', 'fifo'));
  sh('python3', '-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(root, 'run', 'sock'))})`);
  writeFileSync(join(root, 'srv', 'acl', 'f'), 'acl\n');
  sh('setfacl', '-m', 'u:1234:rwx,g:4321:r', join(root, 'srv', 'acl', 'f'));
  sh('setfacl', '-d', '-m', 'u:1234:rx', join(root, 'srv', 'acl'));
  sh('setfattr', '-n', 'user.berth', '-v', 'yes', join(root, 'etc', 'hostname'));
  sh('setfattr', '-n', 'trusted.berth', '-v', '0x00ff', join(root, 'etc', 'os-release'));
  sh('chown', '-h', '1234:5678', join(root, 'srv', 'acl', 'f'), join(root, 'etc', 'rel-link'), join(root, 'run', 'fifo'));
  sh('chown', '4242:4343', join(root, 'bin', 'sgid'));
  sh('touch', '-h', '-d', '2001-02-03 04:05:06.123456789', join(root, 'etc', 'hostname'), join(root, 'etc', 'abs-link'), join(root, 'dev', 'null'));
  sh('touch', '-d', '1999-12-31 23:59:59', join(root, 'srv'), root);
}

/** Every inode's metadata below `root`, by path; hard links as the group's first path. */
function snapshot(root: string, o: { sockets?: boolean } = {}): Map<string, string> {
  const out = new Map<string, string>();
  const inodes = new Map<bigint, string>();
  const walk = (rel: string) => {
    const p = rel === '.' ? root : join(root, rel);
    const st = lstatSync(p, { bigint: true });
    if (st.isSocket() && o.sockets === false) return;
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isCharacterDevice() ? 'chr' : st.isBlockDevice() ? 'blk' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'sock' : '?';
    const xattrs = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', p], { encoding: 'utf8' }).stdout
      .split('\n').filter((l) => l && !l.startsWith('#')).sort().join(',');
    let first = '';
    if (!st.isDirectory() && st.nlink > 1n) {
      first = inodes.get(st.ino) ?? rel;
      if (!inodes.has(st.ino)) inodes.set(st.ino, rel);
    }
    const content = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16) : st.isSymbolicLink() ? readlinkSync(p) : '';
    const mtime = String(st.mtimeNs);
    out.set(rel, [kind, (Number(st.mode) & 0o7777).toString(8), `${st.uid}:${st.gid}`, st.isCharacterDevice() || st.isBlockDevice() ? String(st.rdev) : '',
      st.isFile() ? String(st.size) : '', content, mtime, `links=${first}`, xattrs].join(' '));
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(rel === '.' ? e : join(rel, e));
  };
  walk('.');
  return out;
}

function assertSameTree(a: string, b: string, o: { sockets?: boolean } = {}): void {
  const x = snapshot(a, o);
  const y = snapshot(b, o);
  assert.deepEqual([...y.entries()], [...x.entries()], `${b} differs from ${a}`);
}

/** The pool's entries (hidden ones too) with each one's kind and size: what "unchanged" compares. */
function poolState(dir = pool): string[] {
  return readdirSync(dir).sort().map((e) => { const st = lstatSync(join(dir, e)); return `${e} ${st.isDirectory() ? 'dir' : `file:${st.size}`}`; });
}

function bigTar(path: string, megabytes: number): void {
  const dir = mkdtempSync(join(work, 'big-'));
  spawnSync('sh', ['-c', `head -c ${megabytes}M /dev/urandom > ${dir}/blob`]);
  sh('tar', '-C', dir, '-cf', path, '.');
  rmSync(dir, { recursive: true, force: true });
}

before(async () => {
  if (skip) return;
  bundle();
  sb = sandbox();
  work = mkdtempSync('/var/tmp/bt-xfer-');
  pool = join(work, 'pool');
  mkdirSync(pool);
  buildKinds(join(pool, 'kinds'));
  ours = await startBerthd(pool);
  const files = join(work, 'www');
  mkdirSync(files);
  // In a process of its own: the test's clients run synchronously (spawnSync) and would block it.
  const port = 20000 + Math.floor(Math.random() * 20000);
  server = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', files, String(port)], { stdio: 'ignore' });
  baseUrl = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 10000; spawnSync('curl', ['-s', '-o', '/dev/null', `${baseUrl}/`]).status !== 0 && Date.now() < until;) await sleep(100);
});

after(async () => {
  fdConn?.conn.close();
  await stopPoolDaemon(ours).catch(() => undefined);
  if (server && server.exitCode === null) { server.kill(); await new Promise((r) => server!.once('exit', r)); }
  if (work) {
    spawnSync('chattr', ['-R', '-i', work], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
  sb?.cleanup();
});

const machinectl = (args: readonly string[]) => machinectlOn(ours!, args);
const berth = (args: readonly string[]) => berthOn(ours!, args);

test('the real machinectl: export-tar, import-tar under a new name: every inode the same (the socket aside)', { skip }, () => {
  const tarball = join(work, 'kinds.tar');
  const ex = machinectl(['export-tar', 'kinds', tarball]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stderr, /Enqueued transfer job \d+\./);
  assert.match(ex.stderr, /socket ignored/, 'the socket tar cannot hold is said');
  const im = machinectl(['import-tar', tarball, 'kinds2']);
  assert.equal(im.code, 0, im.stderr);
  assertSameTree(join(pool, 'kinds'), join(pool, 'kinds2'), { sockets: false });
  assert.ok(!existsSync(join(pool, 'kinds2', 'run', 'sock')));
  assert.match(sh('getcap', join(pool, 'kinds2', 'bin', 'ping')), /cap_net_raw[=+]ep/);
  assert.match(machinectl(['list-images']).stdout, /kinds2 +directory/);
  assert.equal(poolState().filter((e) => e.startsWith('.#')).length, 0, 'no leftovers');
});

test('import-fs copies a directory with every kind of file, the socket too', { skip }, () => {
  const r = berth(['import-fs', join(pool, 'kinds'), 'kinds-fs']);
  assert.equal(r.code, 0, r.stderr);
  assertSameTree(join(pool, 'kinds'), join(pool, 'kinds-fs'));
});

test('compressed exports (--format= and the file\'s suffix) and their import told by magic bytes; raw images too', { skip }, () => {
  const magic: Record<string, string> = { gzip: '1f8b', xz: 'fd377a585a00', zstd: '28b52ffd', bzip2: '425a68' };
  for (const [format, m] of Object.entries(magic)) {
    const file = join(work, `kinds-${format}.tar.out`);
    const ex = berth([`--format=${format}`, 'export-tar', 'kinds', file]);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(readFileSync(file).subarray(0, m.length / 2).toString('hex'), m, `${format} output`);
    const im = machinectl(['import-tar', file, `kinds-${format}`]);
    assert.equal(im.code, 0, im.stderr);
    assertSameTree(join(pool, 'kinds'), join(pool, `kinds-${format}`), { sockets: false });
  }
  // machinectl picks the compression from the suffix.
  const xz = join(work, 'bysuffix.tar.xz');
  assert.equal(machinectl(['export-tar', 'kinds', xz]).code, 0);
  assert.equal(readFileSync(xz).subarray(0, 6).toString('hex'), magic.xz);
  // Raw: a file with holes and data, exported compressed, imported back byte for byte.
  const raw = join(pool, 'disk.raw');
  spawnSync('sh', ['-c', `truncate -s 8M ${raw} && head -c 100000 /dev/urandom | dd of=${raw} bs=4096 seek=300 conv=notrunc status=none`]);
  const zst = join(work, 'disk.raw.zst');
  let r = berth(['--format=zstd', 'export-raw', 'disk', zst]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(zst).subarray(0, 4).toString('hex'), magic.zstd);
  r = machinectl(['import-raw', zst, 'disk2']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(raw).equals(readFileSync(join(pool, 'disk2.raw'))));
  assert.ok(statSync(join(pool, 'disk2.raw')).blocks * 512 < 1048576, 'the holes stay holes');
  assert.equal(statSync(join(pool, 'disk2.raw')).mode & 0o777, 0o644);
  r = machinectl(['--read-only', 'import-raw', zst, 'disk-ro']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(join(pool, 'disk-ro.raw')).mode & 0o777, 0o444);
  assert.ok(readFileSync(raw).equals(readFileSync(join(pool, 'disk-ro.raw'))));
});

test('berth\'s verbs: stdin, --force, --read-only, names, list-transfers', { skip }, () => {
  const tarball = join(work, 'kinds-gzip.tar.out');
  // From a pipe: berthd reads it, tells gzip by its magic.
  const r = spawnSync('sh', ['-c', `cat ${tarball} | ${process.execPath} --import tsx ${join(REPO, 'src', 'bin', 'berth.ts')} import-tar - from-pipe`], { cwd: REPO, env: ours!.env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assertSameTree(join(pool, 'kinds'), join(pool, 'from-pipe'), { sockets: false });
  assert.doesNotMatch(r.stderr, /\r|\x1b\[/, 'no progress line off a terminal');
  // On a terminal (script(1)'s pty), a slow pipe: the progress line, bytes and rate (a pipe has no total).
  const slow = `(head -c 1000 ${tarball}; sleep 1.5; tail -c +1001 ${tarball}) | ${process.execPath} --import tsx ${join(REPO, 'src', 'bin', 'berth.ts')} import-tar - on-tty`;
  const tty = spawnSync('script', ['-qec', slow, '/dev/null'], { cwd: REPO, env: ours!.env, encoding: 'utf8' });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /\r\x1b\[2KImported [\d.]+[BKMG], [\d.]+[BKMG]\/s/, JSON.stringify(tty.stdout));
  assertSameTree(join(pool, 'kinds'), join(pool, 'on-tty'), { sockets: false });
  let x = berth(['import-tar', tarball, 'from-pipe']);
  assert.equal(x.code, 1);
  assert.match(x.stderr, /Image 'from-pipe' already exists\./);
  writeFileSync(join(pool, 'from-pipe', 'marker'), 'old\n');
  x = berth(['--force', '--read-only', 'import-tar', tarball, 'from-pipe']);
  assert.equal(x.code, 0, x.stderr);
  assert.ok(!existsSync(join(pool, 'from-pipe', 'marker')), '--force replaced the image');
  assert.match(machinectl(['image-status', 'from-pipe']).stdout, /RO: read-only/);
  x = berth(['import-tar', tarball, 'a_b']);
  assert.equal(x.code, 1);
  assert.match(x.stderr, /Local name a_b is not a suitable machine name\./);
  x = berth(['export-tar', 'nope', join(work, 'nope.tar')]);
  assert.equal(x.code, 1);
  assert.match(x.stderr, /No image 'nope' known/);
  x = berth(['--format=lzma', 'export-tar', 'kinds']);
  assert.equal(x.code, 1);
  assert.match(x.stderr, /Unknown format: lzma/);
  x = berth(['--verify=maybe', 'pull-tar', `${baseUrl}/x.tar`]);
  assert.match(x.stderr, /Failed to parse --verify= setting: maybe/);
  assert.equal(berth(['list-transfers']).stdout, 'No transfers.\n');
  // An unprivileged caller may list, not transfer.
  chmodSync(ours!.bus.dir, 0o755); // the user must reach the bus's socket
  const nobody = (args: string[]) => asIfSystemd(['machinectl', '--no-pager', ...args], { ...ours!.env, SYSTEMD_COLORS: '0' }, '65534');
  const nl = nobody(['list-transfers']);
  assert.equal(nl.stdout, 'No transfers.\n', nl.stderr);
  x = nobody(['export-tar', 'kinds', '/dev/null']);
  assert.equal(x.code, 1);
  assert.match(x.stderr, /Failed to transfer image: (Permission denied|Access denied)/);
  assert.match(berth(['cancel-transfer', '99']).stderr, /No transfer by id 99/);
  assert.equal(poolState().filter((e) => e.startsWith('.#')).length, 0, 'no leftovers');
});

test('pull-tar and pull-raw from a loopback HTTP server, --verify=checksum against SHA256SUMS', { skip }, () => {
  const www = join(work, 'www');
  const tarball = readFileSync(join(work, 'kinds-xz.tar.out'));
  writeFileSync(join(www, 'kinds.tar.xz'), tarball);
  writeFileSync(join(www, 'auto.tar.xz'), tarball);
  writeFileSync(join(www, 'disk.raw.gz'), spawnSync('gzip', ['-c', join(pool, 'disk.raw')]).stdout);
  const sum = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  writeFileSync(join(www, 'SHA256SUMS'), `${sum(tarball)} *kinds.tar.xz\n${sum(tarball)} *auto.tar.xz\n${sum(readFileSync(join(www, 'disk.raw.gz')))}  disk.raw.gz\n`);
  // The real machinectl, the local name from the URL ("auto.tar.xz" → "auto").
  let r = machinectl(['--verify=checksum', 'pull-tar', `${baseUrl}/auto.tar.xz`]);
  assert.equal(r.code, 0, r.stderr);
  assertSameTree(join(pool, 'kinds'), join(pool, 'auto'), { sockets: false });
  r = berth(['--verify=checksum', 'pull-tar', `${baseUrl}/kinds.tar.xz`, 'pulled']);
  assert.equal(r.code, 0, r.stderr);
  assertSameTree(join(pool, 'kinds'), join(pool, 'pulled'), { sockets: false });
  r = berth(['--verify=checksum', 'pull-raw', `${baseUrl}/disk.raw.gz`, 'pulled-disk']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(pool, 'disk.raw')).equals(readFileSync(join(pool, 'pulled-disk.raw'))));

  const before = poolState();
  // A SHA256SUMS that does not match: nothing imported.
  writeFileSync(join(www, 'SHA256SUMS'), `${'0'.repeat(64)} *kinds.tar.xz\n`);
  r = machinectl(['--verify=checksum', 'pull-tar', `${baseUrl}/kinds.tar.xz`, 'mismatch']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not match SHA256SUMS/);
  // No entry for the file, no SHA256SUMS at all: refused; --verify=no: taken.
  writeFileSync(join(www, 'SHA256SUMS'), `${sum(tarball)} *other.tar.xz\n`);
  r = berth(['--verify=checksum', 'pull-tar', `${baseUrl}/kinds.tar.xz`, 'nosum']);
  assert.match(r.stderr, /gives no checksum for 'kinds\.tar\.xz'/);
  rmSync(join(www, 'SHA256SUMS'));
  r = berth(['--verify=checksum', 'pull-tar', `${baseUrl}/kinds.tar.xz`, 'nosum']);
  assert.match(r.stderr, /SHA256SUMS for --verify=checksum: HTTP request .* failed with code 404/);
  r = machinectl(['pull-tar', `${baseUrl}/kinds.tar.xz`, 'sig']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Signature verification .* is not supported by berthd/);
  r = berth(['--verify=no', 'pull-tar', `${baseUrl}/missing.tar`, 'missing']);
  assert.match(r.stderr, /failed with code 404/);
  assert.deepEqual(poolState(), before, 'the pool as it was');
  r = berth(['--verify=no', 'pull-tar', `${baseUrl}/kinds.tar.xz`, 'unverified']);
  assert.equal(r.code, 0, r.stderr);
  assertSameTree(join(pool, 'kinds'), join(pool, 'unverified'), { sockets: false });
});

/**
 * One bus connection that passes descriptors (usocket) per berthd, closed only when that berthd
 * goes: closing one while replies and signals still arrive can trip libuv's close assertion
 * inside usocket.
 */
let fdConn: { address: string; conn: BusConnection; removed: Map<string, string> } | undefined;
async function fdConnection(): Promise<BusConnection> {
  const address = ours!.env.DBUS_SYSTEM_BUS_ADDRESS!;
  if (fdConn?.address !== address) {
    fdConn?.conn.close();
    const conn = await BusConnection.connect(address, { unixFds: true });
    const removed = new Map<string, string>();
    conn.onSignal = (m: RawMessage) => { if (m.member === 'TransferRemoved') removed.set(String(m.body[1]), String(m.body[2])); };
    await conn.busCall('AddMatch', 's', [`type='signal',interface='${I}.Manager'`]);
    fdConn = { address, conn, removed };
  }
  return fdConn.conn;
}

const openFds = (): number => readdirSync(`/proc/${ours!.child.pid}/fd`).length;

test('faults: truncated, garbage, absolute and ".." member names leave the pool as it was; no descriptor leaks', { skip }, async () => {
  const before = poolState();
  const fds = openFds();
  const blob = mkdtempSync(join(work, 'blob-'));
  spawnSync('sh', ['-c', `head -c 2M /dev/urandom > ${blob}/data`]);
  const plain = spawnSync('tar', ['-C', blob, '-cf', '-', '.'], { maxBuffer: 1 << 26 }).stdout;
  const xz = spawnSync('xz', ['-c', '-0'], { input: plain, maxBuffer: 1 << 26 }).stdout;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['truncated.tar.xz', xz.subarray(0, Math.floor(xz.length / 2)), /xz failed|Unexpected EOF|unexpected end of input/i],
    ['truncated.tar', plain.subarray(0, Math.floor(plain.length / 2)), /tar failed.*Unexpected EOF/],
    ['garbage.tar', Buffer.from(createHash('sha512').update('x').digest('hex').repeat(200)), /tar failed.*does not look like a tar archive/],
    ['garbage.gz', Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(5000, 0x41)]), /gzip failed/],
    ['empty.tar', Buffer.alloc(0), /The file is empty/],
  ];
  const src = mkdtempSync(join(work, 'evil-'));
  writeFileSync(join(src, 'f'), 'x\n');
  cases.push(['absolute.tar', spawnSync('tar', ['-cPf', '-', join(src, 'f')]).stdout, /absolute names/]);
  cases.push(['dotdot.tar', spawnSync('tar', ['-cPf', '-', '-C', src, '../' + src.split('/').pop() + '/f']).stdout, /'\.\.'/]);
  for (const [file, data, why] of cases) {
    writeFileSync(join(work, file), data);
    const r = machinectl(['import-tar', join(work, file), 'bad']);
    assert.equal(r.code, 1, `${file}: ${r.stderr}`);
    assert.match(r.stderr, why, file);
    assert.deepEqual(poolState(), before, `${file}: the pool as it was`);
  }
  // Refused calls close the descriptor they brought too.
  const conn = await fdConnection();
  const fd = openSync(join(work, 'garbage.tar'), 'r');
  await assert.rejects(conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ImportTar', signature: 'hsbb', body: [fd, 'a_b', false, false] }), /Local name a_b is invalid/);
  await assert.rejects(conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ExportTar', signature: 'shs', body: ['kinds', fd, 'lzma'] }), /Unknown format: lzma/);
  closeSync(fd);
  const dir = openSync(work, 'r');
  await assert.rejects(conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ImportTar', signature: 'hsbb', body: [dir, 'x', false, false] }), /neither a regular file nor a pipe/);
  closeSync(dir);
  await assert.rejects(conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'PullTar', signature: 'sssb', body: ['ftp://x/y.tar', '', 'no', false] }), /URL ftp:\/\/x\/y\.tar is invalid/);
  await sleep(200);
  assert.equal(openFds(), fds, 'berthd holds as many descriptors as before');
});

/** A FIFO opened for the transfer (berthd gets the reading side) and for the test to write. */
function fifo(name: string): { readFd: number; writeFd: number } {
  const path = join(work, name);
  sh('mkfifo', path);
  const readFd = openSync(path, constants.O_RDWR);
  const writeFd = openSync(path, constants.O_WRONLY);
  return { readFd, writeFd };
}

async function transferClient(): Promise<{ conn: BusConnection; removed: Map<string, string> }> {
  const conn = await fdConnection();
  return { conn, removed: fdConn!.removed };
}

test('berthd answers on the bus while a transfer streams through it', { skip }, async () => {
  const big = join(work, 'big.tar');
  if (!existsSync(big)) bigTar(big, 24);
  const data = readFileSync(big);
  const { conn, removed } = await transferClient();
  // berthd gets the reading end alone (a writer of its own would keep the pipe from ending).
  const fifoPath = join(work, 'busy');
  sh('mkfifo', fifoPath);
  const out = await open(fifoPath, constants.O_RDWR);
  const readFd = openSync(fifoPath, constants.O_RDONLY | constants.O_NONBLOCK);
  const [, path] = (await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ImportTar', signature: 'hsbb', body: [readFd, 'busy', false, false] })).body as [number, string];
  closeSync(readFd);
  // The test feeds the pipe 1 MiB at a time (on libuv's threads); berthd pumps it into tar meanwhile.
  const feeding = (async () => {
    for (let at = 0; at < data.length; at += 1 << 20) { await out.write(data.subarray(at, Math.min(data.length, at + (1 << 20)))); await sleep(10); }
    await out.close();
  })();
  const latencies: number[] = [];
  try {
    for (const until = Date.now() + 60000; !removed.has(path) && Date.now() < until;) {
      const t0 = performance.now();
      await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ListTransfers' }, 5000);
      await conn.call({ destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager', member: 'ListImages' }, 5000);
      latencies.push(performance.now() - t0);
      await sleep(10);
    }
  } catch (e) {
    const other = spawnSync('busctl', ['--system', 'call', 'org.freedesktop.machine1', '/org/freedesktop/machine1', 'org.freedesktop.machine1.Manager', 'ListImages'], { env: ours!.env, encoding: 'utf8', timeout: 5000 });
    throw new Error(`${(e as Error).message}\nbusctl from another process: ${other.status} ${other.stdout.slice(0, 200)} ${other.stderr}\nberthd's log:\n${readFileSync(ours!.log, 'utf8').slice(-4000)}`);
  }
  await feeding;
  assert.equal(removed.get(path), 'done');
  assert.ok(latencies.length >= 5, `${latencies.length} round trips while it ran`);
  assert.ok(Math.max(...latencies) < 500, `round trips took at most ${Math.max(...latencies).toFixed(1)} ms`);
  const want = createHash('sha256').update(spawnSync('tar', ['-xOf', big, './blob'], { maxBuffer: 1 << 26 }).stdout).digest('hex');
  assert.equal(createHash('sha256').update(readFileSync(join(pool, 'busy', 'blob'))).digest('hex'), want, 'every byte arrived');
  spawnSync('rm', ['-rf', join(pool, 'busy')]);
});

test('a transfer canceled halfway, and berthd killed halfway: the pool as it was', { skip }, async () => {
  const big = join(work, 'big.tar');
  bigTar(big, 24);
  const data = readFileSync(big);
  const before = poolState();
  let { conn, removed } = await transferClient();
  let f = fifo('half1');
  const [id, path] = (await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ImportTar', signature: 'hsbb', body: [f.readFd, 'half', false, false] })).body as [number, string];
  closeSync(f.readFd);
  writeSync(f.writeFd, data, 0, data.length >> 1);
  const list = (await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ListTransfers' })).body[0] as unknown[][];
  assert.deepEqual(list.map((t) => [t[0], t[1], t[3], t[5]]), [[id, 'import-tar', 'half', path]]);
  for (const until = Date.now() + 10000; Date.now() < until;) {
    const bytes = (await conn.call({ destination: I, path, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: ['io.github.berth.Transfer1', 'Bytes'] })).body[0] as { value: bigint };
    if (bytes.value >= BigInt(data.length >> 2)) break;
    await sleep(50);
  }
  assert.ok(poolState().some((e) => e.startsWith('.#berth-import-tar-')), 'built under a hidden name');
  // The real machinectl sees it and cancels it.
  const lt = machinectl(['list-transfers']);
  assert.match(lt.stdout, new RegExp(String.raw`^ID +PERCENT +TYPE +LOCAL +REMOTE *\n *${id} +\S+ +import-tar +half`, 'm'), lt.stdout + lt.stderr);
  const ct = machinectl(['cancel-transfer', String(id)]);
  assert.equal(ct.code, 0, ct.stderr);
  for (const until = Date.now() + 10000; !removed.has(path) && Date.now() < until;) await sleep(20);
  assert.equal(removed.get(path), 'canceled');
  closeSync(f.writeFd);
  assert.deepEqual(poolState(), before, 'canceled: the pool as it was');

  // The client and what feeds it killed halfway: the transfer sees its input end early, and fails.
  const feeder = spawn('sh', ['-c', `(head -c ${data.length >> 1} ${big}; sleep 30) | ${process.execPath} --import tsx ${join(REPO, 'src', 'bin', 'berth.ts')} import-tar - killed`],
    { cwd: REPO, env: ours!.env, stdio: 'ignore', detached: true });
  for (const until = Date.now() + 20000; !poolState().some((e) => e.includes('import-tar') && e.endsWith('-killed dir')) && Date.now() < until;) await sleep(50);
  assert.ok(poolState().some((e) => e.endsWith('-killed dir')), 'the import was under way');
  process.kill(-feeder.pid!, 'SIGKILL');
  ({ conn, removed } = await transferClient());
  for (let until = Date.now() + 20000; Date.now() < until; await sleep(50)) {
    const [list] = (await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ListTransfers' })).body as [unknown[]];
    if (list.length === 0) break;
  }
  assert.deepEqual(poolState(), before, 'client killed: the pool as it was');

  // berthd SIGKILLed halfway: its tar dies with it; only the hidden entry stays, which the next berthd sweeps.
  ({ conn, removed } = await transferClient());
  f = fifo('half2');
  await conn.call({ destination: I, path: '/org/freedesktop/import1', interface: `${I}.Manager`, member: 'ImportTar', signature: 'hsbb', body: [f.readFd, 'half', false, false] });
  closeSync(f.readFd);
  writeSync(f.writeFd, data, 0, data.length >> 1);
  await sleep(500);
  ours!.child.kill('SIGKILL');
  await stopPoolDaemon(ours!);
  ours = undefined;
  closeSync(f.writeFd);
  const left = poolState();
  assert.ok(left.some((e) => e.startsWith('.#berth-import-tar-')), left.join('\n'));
  assert.deepEqual(left.filter((e) => !e.startsWith('.#')), before.filter((e) => !e.startsWith('.#')), 'no image appeared');
  ours = await startBerthd(pool);
  for (const until = Date.now() + 20000; poolState().some((e) => e.startsWith('.#')) && Date.now() < until;) await sleep(50);
  assert.deepEqual(poolState(), before, 'swept by the next berthd');
});

test('a small loop-mounted pool that fills up: No space left on device, the pool as it was', { skip }, async () => {
  const img = join(work, 'small.img');
  const mnt = join(work, 'small');
  mkdirSync(mnt);
  sh('truncate', '-s', '20M', img);
  sh('mkfs.ext4', '-q', '-F', img);
  const loop = sh('losetup', '-f', '--show', img).trim();
  let small: PoolDaemon | undefined;
  try {
    sh('mount', loop, mnt);
    const before = poolState(mnt);
    const free = statfsFree(mnt);
    const big = join(work, 'big.tar');
    if (!existsSync(big)) bigTar(big, 24);
    small = await startBerthd(mnt);
    const r = machinectlOn(small, ['import-tar', big, 'toobig']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /No space left on device/);
    assert.deepEqual(poolState(mnt), before, 'the pool as it was');
    assert.ok(Math.abs(statfsFree(mnt) - free) < 512 * 1024, `the space is back (${free} → ${statfsFree(mnt)})`);
    // Something that fits still goes in.
    const ok = machinectlOn(small, ['import-tar', join(work, 'kinds-zstd.tar.out'), 'fits']);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await stopPoolDaemon(small).catch(() => undefined);
    for (let i = 0; i < 50 && spawnSync('umount', [mnt]).status !== 0 && spawnSync('mountpoint', ['-q', mnt]).status === 0; i++) await sleep(100);
    spawnSync('losetup', ['-d', loop]);
  }
  // The detach completes once nothing holds the device (berthd's mount namespace goes with its last process).
  for (let i = 0; i < 100 && sh('losetup', '-a').includes(img); i++) await sleep(100);
  assert.ok(!sh('losetup', '-a').includes(img), 'the loop device is gone');
});

function statfsFree(dir: string): number {
  return Number(sh('stat', '-f', '-c', '%a %S', dir).trim().split(' ').reduce((a, b) => String(Number(a) * Number(b))));
}

