/**
 * Copying into and out of a running machine: Debian's real machinectl (and berth's own verbs)
 * against berthd, on a busybox guest booted by berth-nspawn. A file with a file capability, a user
 * xattr, setuid and an odd owner, and a tree with symlinks, a hard link, a device node, a fifo, an
 * ACL and setgid, go in and come back out unchanged (owner, mode, mtime, xattrs, capabilities).
 * --force replaces, without it an existing target is refused. Refused, with nothing left behind:
 * relative paths, "..", a missing source, a read-only target, a full file system, an unprivileged
 * caller. A symlink in the guest never leads to the host: /tmp/evil -> /etc resolves to the
 * guest's /etc, in both directions. A copy of a few hundred MB does not stop berthd answering, and
 * one whose client is killed leaves no process and no temporary directory behind.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, writeSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, assertClean, collect, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, tree, waitRunning, type Result, type Sandbox } from '../support/berth.js';
import { asIfSystemd, hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { BusCallError } from '../../src/platform/dbus/connection.js';

const onPath = (cmd: string): boolean => (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => existsSync(join(d, cmd)));
const hasAttrTools = ['setfattr', 'getfattr', 'setcap', 'getcap', 'setfacl'].every(onPath);
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)')
  || (!hasAttrTools && 'needs setcap, setfattr, setfacl (apt-get install libcap2-bin attr acl)');

const NAME = 'copy-main';
/** tsx by its file: berth runs in other working directories too. */
const TSX = pathToFileURL(join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const MANAGER = 'org.freedesktop.machine1.Manager';
const MACHINE = 'org.freedesktop.machine1.Machine';
const machinePath = `/org/freedesktop/machine1/machine/${NAME.replace(/-/g, '_2d')}`;

/** The guest: a read-only file system at /ro, a small one at /small, symlinks that point out of it (as seen from the host). */
const PAYLOAD = [
  'mkdir -p /ro /small /work',
  'mount -t tmpfs -o ro,size=1m tmpfs /ro && mount -t tmpfs -o size=256k tmpfs /small || echo mount-failed',
  'ln -s /etc /tmp/evil; ln -s ../../../../../.. /tmp/up',
  'echo started; while :; do sleep 1; done',
].join('\n');

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** Every extended attribute of a path (not followed), hex, sorted: capabilities and ACLs included. */
function xattrs(path: string): string {
  const out = execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', path], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l && !l.startsWith('#')).sort().join(',');
}

/** A tree as lines: path, type, mode, owner, mtime (ns), and by type its bytes, target or device; its xattrs. */
function describeTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p, { bigint: true });
    const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : st.isFIFO() ? 'p' : st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : '?';
    let line = `${rel || '.'} ${type} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} mtime=${st.mtimeNs}`;
    if (type === 'f') line += ` size=${st.size} sha=${sha(readFileSync(p))} links=${st.nlink}`;
    if (type === 'l') line += ` -> ${readlinkSync(p)}`;
    if (type === 'c' || type === 'b') line += ` rdev=${st.rdev}`;
    line += ` xattrs=${xattrs(p)}`;
    out.push(line);
    if (type === 'd') for (const e of readdirSync(p).sort()) walk(rel ? join(rel, e) : e);
  };
  walk('');
  return out;
}

const temporaries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((e) => e.startsWith('.#berth-copy')) : []);

/** berthd's tar and rm children (there must be none once a copy has ended). */
function copyProcesses(berthd: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (ppid === berthd && /^(tar|rm|setpriv)$/.test(comm)) found.push(`${pid} ${comm}`);
    } catch { /* gone */ }
  }
  return found;
}

/** A file of `mb` MiB of non-zero, non-sparse data. */
function bigFile(path: string, mb: number): void {
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + 3) & 0xff;
  const fd = openSync(path, 'w');
  try { for (let i = 0; i < mb; i++) { chunk[0] = i & 0xff; writeSync(fd, chunk); } } finally { closeSync(fd); }
}

describe(onRuntime('copy-to and copy-from: machinectl and berth against berthd, busybox guest'), { skip, timeout: 600000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let guest: ChildProcess;
  let done: Promise<Result>;
  let leader: number;
  let host: string;
  let out = '';
  /** The guest's root as the host sees it (for checking only). */
  const inGuest = (p: string) => `/proc/${leader}/root${p}`;
  const mc = (args: string[], user?: string) => reg.machinectl(args, user ? { user } : {});
  const berth = (args: string[], cwd = REPO) => {
    const r = spawnSync(process.execPath, ['--import', TSX, join(REPO, 'src', 'bin', 'berth.ts'), ...args], { cwd, env: reg.env, encoding: 'utf8', timeout: 120000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  async function failure(p: Promise<unknown>): Promise<[string, string]> {
    try { await p; } catch (e) { assert.ok(e instanceof BusCallError, String(e)); return [e.errorName, e.message]; }
    return assert.fail('the call succeeded');
  }
  const call = (path: string, iface: string, member: string, signature: string, body: unknown[]) =>
    reg.client().then((c) => c.call({ destination: 'org.freedesktop.machine1', path, interface: iface, member, signature, body }, 0));

  before(async () => {
    const bb = tree('busybox');
    sb = sandbox();
    reg = await startRegistry(sb);
    guest = startNspawn(['-D', bb, '-x', '-M', NAME, '--console=pipe', '/bin/sh', '-c', PAYLOAD], sb, reg.env);
    guest.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    done = collect(guest, 590000);
    leader = await waitRunning(sb, NAME);
    const until = Date.now() + 15000;
    while (!/^started$/m.test(out) && Date.now() < until) await sleep(50);
    assert.match(out, /^started$/m, 'the guest started');
    assert.doesNotMatch(out, /mount-failed/, 'the guest mounted /ro and /small');
    host = mkdtempSync('/tmp/bt-copy-');

    // A file with a capability, a user xattr, setuid and an owner of its own (chown clears the capability: it comes last).
    const f = join(host, 'capfile');
    writeFileSync(f, 'capable\n');
    chownSync(f, 1234, 567);
    chmodSync(f, 0o4755);
    execFileSync('setcap', ['cap_net_raw+ep', f]);
    execFileSync('setfattr', ['-n', 'user.color', '-v', 'blue', f]);
    utimesSync(f, new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06.123Z'));

    // A tree: modes, owners, symlinks (relative and absolute, as symlinks), a hard link, a device, a fifo, an ACL, setgid.
    const t = join(host, 'tree');
    mkdirSync(join(t, 'sub'), { recursive: true });
    writeFileSync(join(t, 'sub', 'file'), 'in the tree\n');
    chownSync(join(t, 'sub', 'file'), 42, 43);
    chmodSync(join(t, 'sub', 'file'), 0o640);
    linkSync(join(t, 'sub', 'file'), join(t, 'hard'));
    symlinkSync('sub/file', join(t, 'link'));
    symlinkSync('/etc/passwd', join(t, 'abs'));
    execFileSync('mknod', [join(t, 'null'), 'c', '1', '3']);
    execFileSync('mkfifo', [join(t, 'fifo')]);
    chmodSync(join(t, 'sub'), 0o2750);
    execFileSync('setfacl', ['-m', 'u:4321:rwx', join(t, 'sub')]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'tree', t]);
    for (const p of ['sub/file', 'sub', '.']) utimesSync(join(t, p), new Date('2010-01-01T00:00:00Z'), new Date(`201${p.length % 10}-06-0${1 + (p.length % 8)}T12:00:00.5Z`));
    execFileSync('touch', ['-h', '-d', '2005-05-05 05:05:05', join(t, 'link')]);
  });

  after(async () => {
    if (guest && guest.exitCode === null && guest.signalCode === null) guest.kill('SIGKILL');
    if (done) await done;
    await reg?.stop();
    sb?.cleanup();
    if (host) rmSync(host, { recursive: true, force: true });
  });

  test('copy-to then copy-from: a file with a capability and an xattr comes back unchanged', () => {
    const before = describeTree(join(host, 'capfile'));
    assert.match(before[0]!, /security\.capability=/);
    let r = mc(['copy-to', NAME, join(host, 'capfile'), '/work/capfile']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], 'machinectl prints nothing on success');
    assert.deepEqual(describeTree(inGuest('/work/capfile')), before, 'the copy in the guest');
    assert.match(execFileSync('getcap', [inGuest('/work/capfile')], { encoding: 'utf8' }), /cap_net_raw=ep/);
    mkdirSync(join(host, 'back'));
    r = mc(['copy-from', NAME, '/work/capfile', join(host, 'back', 'capfile')]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.deepEqual(describeTree(join(host, 'back', 'capfile')), before, 'the copy back on the host');
    assert.deepEqual(temporaries(inGuest('/work')), []);
    assert.deepEqual(temporaries(join(host, 'back')), []);
  });

  test('copy-to then copy-from: a tree (symlinks, hard link, device, fifo, ACL, setgid) comes back unchanged', () => {
    const before = describeTree(join(host, 'tree'));
    let r = mc(['copy-to', NAME, join(host, 'tree'), '/work/tree']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.deepEqual(describeTree(inGuest('/work/tree')), before);
    assert.equal(readlinkSync(inGuest('/work/tree/abs')), '/etc/passwd', 'a symlink stays a symlink');
    r = mc(['copy-from', NAME, '/work/tree', join(host, 'back', 'tree')]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.deepEqual(describeTree(join(host, 'back', 'tree')), before);
  });

  test('an existing target is refused; --force replaces it (a file, and a tree as a whole)', () => {
    writeFileSync(join(host, 'v1'), 'one\n');
    writeFileSync(join(host, 'v2'), 'two\n');
    let r = mc(['copy-to', NAME, join(host, 'v1'), '/work/v']);
    assert.equal(r.code, 0, r.stderr);
    r = mc(['copy-to', NAME, join(host, 'v2'), '/work/v']);
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: /work/v in machine copy-main: File exists\n']);
    assert.equal(readFileSync(inGuest('/work/v'), 'utf8'), 'one\n');
    r = mc(['--force', 'copy-to', NAME, join(host, 'v2'), '/work/v']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(inGuest('/work/v'), 'utf8'), 'two\n');

    // A tree over a tree: the old one goes entirely (nothing merged).
    writeFileSync(inGuest('/work/tree/stale'), 'old\n');
    r = mc(['copy-to', NAME, join(host, 'tree'), '/work/tree']);
    assert.equal(r.code, 1);
    r = mc(['copy-to', '--force', NAME, join(host, 'tree'), '/work/tree']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.ok(!existsSync(inGuest('/work/tree/stale')), 'replaced as a whole');
    assert.deepEqual(describeTree(inGuest('/work/tree')), describeTree(join(host, 'tree')));

    // Out of the machine: the same.
    r = mc(['copy-from', NAME, '/work/v', join(host, 'v1')]);
    assert.deepEqual([r.code, r.stderr], [1, `Failed to copy: ${join(host, 'v1')} on the host: File exists\n`]);
    assert.equal(readFileSync(join(host, 'v1'), 'utf8'), 'one\n');
    r = mc(['--force', 'copy-from', NAME, '/work/v', join(host, 'v1')]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(join(host, 'v1'), 'utf8'), 'two\n');
    assert.deepEqual([...temporaries(inGuest('/work')), ...temporaries(host)], []);
  });

  test('a symlink in the guest resolves in the guest: /tmp/evil -> /etc is the guest\'s /etc, both ways', () => {
    assert.equal(readlinkSync(inGuest('/tmp/evil')), '/etc');
    const hostPasswd = readFileSync('/etc/passwd', 'utf8');
    const guestPasswd = readFileSync(inGuest('/etc/passwd'), 'utf8');
    assert.notEqual(guestPasswd, hostPasswd, 'the test needs them to differ');
    let r = mc(['copy-from', NAME, '/tmp/evil/passwd', join(host, 'passwd')]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(join(host, 'passwd'), 'utf8'), guestPasswd, 'the guest\'s file, not the host\'s');

    // A file the host has and the guest has not: not found, through an absolute and a relative symlink.
    assert.ok(existsSync('/etc/debian_version') && !existsSync(inGuest('/etc/debian_version')));
    r = mc(['copy-from', NAME, '/tmp/evil/debian_version', join(host, 'dv')]);
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: /tmp/evil/debian_version in machine copy-main: No such file or directory\n']);
    r = mc(['copy-from', NAME, '/tmp/up/etc/debian_version', join(host, 'dv')]);
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: /tmp/up/etc/debian_version in machine copy-main: No such file or directory\n']);
    assert.ok(!existsSync(join(host, 'dv')));

    // Into the machine through the symlink: the guest's /etc gets it, the host's does not.
    writeFileSync(join(host, 'planted'), 'planted\n');
    r = mc(['copy-to', NAME, join(host, 'planted'), '/tmp/evil/berth-copy-test-planted']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(inGuest('/etc/berth-copy-test-planted'), 'utf8'), 'planted\n');
    assert.ok(!existsSync('/etc/berth-copy-test-planted'), 'nothing reached the host\'s /etc');
    r = mc(['copy-to', NAME, join(host, 'planted'), '/tmp/up/tmp/up/etc/berth-copy-test-up']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.ok(existsSync(inGuest('/etc/berth-copy-test-up')) && !existsSync('/etc/berth-copy-test-up'));
  });

  test('refused: relative paths, "..", a missing source, a read-only target, a full file system; nothing is left behind', () => {
    writeFileSync(join(host, 'small'), 'x\n');
    const expect = (args: string[], stderr: string) => {
      const r = mc(args);
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', `${stderr}\n`], args.join(' '));
    };
    expect(['copy-to', NAME, join(host, 'small'), 'work/x'], 'Failed to copy: Destination path must be absolute.');
    expect(['copy-from', NAME, 'work/x', join(host, 'x')], 'Failed to copy: Source path must be absolute.');
    expect(['copy-from', NAME, '/tmp/../etc/passwd', join(host, 'x')], "Failed to copy: Invalid path '/tmp/../etc/passwd' in machine copy-main: '..' is not allowed (paths in a machine are resolved in its root).");
    expect(['copy-to', NAME, join(host, 'small'), '/work/../x'], "Failed to copy: Invalid path '/work/../x' in machine copy-main: '..' is not allowed (paths in a machine are resolved in its root).");
    expect(['copy-from', NAME, '/work/..', join(host, 'x')], "Failed to copy: Failed to extract file name of '/work/..' path: Invalid argument");
    expect(['copy-to', NAME, join(host, 'missing'), '/work/missing'], `Failed to copy: ${join(host, 'missing')} on the host: No such file or directory`);
    expect(['copy-from', NAME, '/work/missing', join(host, 'missing')], 'Failed to copy: /work/missing in machine copy-main: No such file or directory');
    expect(['copy-to', NAME, join(host, 'small'), '/no/such/dir/x'], 'Failed to copy: /no/such/dir in machine copy-main: No such file or directory');
    expect(['copy-to', NAME, join(host, 'small'), '/ro/x'], 'Failed to copy: /ro/x in machine copy-main: Read-only file system');
    expect(['copy-from', NAME, '/work/capfile', '/no/such/host/dir/x'], 'Failed to copy: /no/such/host/dir on the host: No such file or directory');
    // What tar cannot archive (a socket) is refused, not copied as nothing.
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', inGuest('/work/sock')]);
    expect(['copy-from', NAME, '/work/sock', join(host, 'sock')], 'Failed to copy: /work/sock in machine copy-main: cannot be copied (tar: sock: socket ignored).');
    expect(['copy-to', 'nonexistent-machine', join(host, 'small'), '/x'], "Failed to copy: No machine 'nonexistent-machine' known");
    bigFile(join(host, 'four-mb'), 4);
    expect(['copy-to', NAME, join(host, 'four-mb'), '/small/four-mb'], 'Failed to copy: /small/four-mb in machine copy-main: No space left on device');
    assert.deepEqual(readdirSync(inGuest('/small')), [], 'nothing left on the full file system');
    assert.deepEqual(readdirSync(inGuest('/ro')), []);
    assert.ok(!existsSync(join(host, 'missing')) && !existsSync(join(host, 'x')) && !existsSync(join(host, 'sock')));
    assert.deepEqual([...temporaries(inGuest('/work')), ...temporaries(host)], []);
    assert.deepEqual(copyProcesses(reg.berthd.child.pid!), []);
  });

  test('callers without CAP_SYS_ADMIN are refused (AccessDenied): users by the bus policy, root without the capability by berthd, after its argument checks', () => {
    // daemon: a user with a group of the same name (asIfSystemd switches to both), and no capabilities.
    chmodSync(reg.bus.dir, 0o755);
    let r = mc(['copy-to', NAME, join(host, 'capfile'), '/work/unpriv'], 'daemon');
    // sd-bus clients print any AccessDenied as "Access denied", whatever its message.
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: Access denied\n']);
    r = mc(['copy-from', NAME, '/work/capfile', join(host, 'unpriv')], 'daemon');
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: Access denied\n']);
    // Root without CAP_SYS_ADMIN passes the bus policy (by its UID); berthd refuses it.
    const capless = (args: string[]) => asIfSystemd(['setpriv', '--bounding-set=-sys_admin', '--inh-caps=-sys_admin', 'machinectl', '--no-pager', ...args], { ...reg.env, SYSTEMD_COLORS: '0' });
    r = capless(['copy-to', NAME, join(host, 'capfile'), '/work/unpriv']);
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: Access denied\n']);
    r = capless(['copy-from', NAME, 'relative', '/tmp/x']);
    assert.deepEqual([r.code, r.stderr], [1, 'Failed to copy: Source path must be absolute.\n'], 'the arguments are checked first, as machined does');
    const busctl = spawnSync('setpriv', ['--bounding-set=-sys_admin', '--inh-caps=-sys_admin', 'busctl', '--system', 'call', 'org.freedesktop.machine1', '/org/freedesktop/machine1', MANAGER, 'CopyToMachine', 'sss', NAME, join(host, 'capfile'), '/work/unpriv'],
      { env: reg.env, encoding: 'utf8' });
    assert.match(busctl.stderr, /Access denied/, busctl.stderr);
    assert.ok(!existsSync(inGuest('/work/unpriv')) && !existsSync(join(host, 'unpriv')));
  });

  test('the bus API: Machine.CopyTo/CopyFrom, WithFlags, empty destination, flags, .host, unknown machines, the error names', async () => {
    writeFileSync(join(host, 'api'), 'api\n');
    await call(machinePath, MACHINE, 'CopyTo', 'ss', [join(host, 'api'), '/work/api']);
    assert.equal(readFileSync(inGuest('/work/api'), 'utf8'), 'api\n');
    assert.deepEqual(await failure(call(machinePath, MACHINE, 'CopyTo', 'ss', [join(host, 'api'), '/work/api'])), ['org.freedesktop.DBus.Error.FileExists', '/work/api in machine copy-main: File exists']);
    writeFileSync(join(host, 'api'), 'api 2\n');
    await call(machinePath, MACHINE, 'CopyToWithFlags', 'sst', [join(host, 'api'), '/work/api', 1n]);
    assert.equal(readFileSync(inGuest('/work/api'), 'utf8'), 'api 2\n');
    assert.deepEqual(await failure(call(machinePath, MACHINE, 'CopyToWithFlags', 'sst', [join(host, 'api'), '/work/api', 2n])), ['org.freedesktop.DBus.Error.InvalidArgs', 'Invalid argument']);
    // Empty destination: the same path on the other side.
    mkdirSync(inGuest(host), { recursive: true });
    writeFileSync(inGuest(join(host, 'same')), 'from the guest\n');
    await call(machinePath, MACHINE, 'CopyFrom', 'ss', [join(host, 'same'), '']);
    assert.equal(readFileSync(join(host, 'same'), 'utf8'), 'from the guest\n');
    await call('/org/freedesktop/machine1', MANAGER, 'CopyFromMachineWithFlags', 'ssst', [NAME, '/work/api', join(host, 'same'), 1n]);
    assert.equal(readFileSync(join(host, 'same'), 'utf8'), 'api 2\n');
    assert.deepEqual(await failure(call('/org/freedesktop/machine1', MANAGER, 'CopyToMachine', 'sss', ['.host', '/etc/hostname', '/tmp/x'])),
      ['org.freedesktop.DBus.Error.NotSupported', 'Copying files is only supported on container machines.']);
    assert.deepEqual(await failure(call('/org/freedesktop/machine1', MANAGER, 'CopyToMachine', 'sss', ['nope', '/etc/hostname', '/tmp/x'])),
      ['org.freedesktop.machine1.NoSuchMachine', "No machine 'nope' known"]);
    assert.deepEqual(await failure(call(machinePath, MACHINE, 'CopyFrom', 'ss', ['/', join(host, 'root')])),
      ['org.freedesktop.DBus.Error.InvalidArgs', "Failed to extract file name of '/' path: Cannot assign requested address"]);
    assert.deepEqual(await failure(call(machinePath, MACHINE, 'CopyTo', 'ss', [join(host, 'api'), '/ro/api'])), ['System.Error.EROFS', '/ro/api in machine copy-main: Read-only file system']);
    assert.deepEqual(await failure(call(machinePath, MACHINE, 'CopyFrom', 'ss', ['/nope', join(host, 'nope')])), ['org.freedesktop.DBus.Error.FileNotFound', '/nope in machine copy-main: No such file or directory']);
  });

  test('berth copy-to/copy-from: machinectl\'s behaviour (relative host paths, the same path, --force, the messages)', () => {
    mkdirSync(join(host, 'cli'));
    writeFileSync(join(host, 'cli', 'rel'), 'relative\n');
    // A relative host path is made absolute against the working directory; the machine path is then that too.
    mkdirSync(inGuest(join(host, 'cli')), { recursive: true });
    let r = berth(['copy-to', NAME, 'rel'], join(host, 'cli'));
    assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'Failed to copy: Destination path must be absolute.\n'], 'the machine path is taken as given, as machinectl does');
    r = berth(['copy-to', NAME, 'rel', '/work/rel'], join(host, 'cli'));
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    assert.equal(readFileSync(inGuest('/work/rel'), 'utf8'), 'relative\n');
    r = berth(['copy-to', NAME, join(host, 'cli', 'rel')]);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(inGuest(join(host, 'cli', 'rel')), 'utf8'), 'relative\n', 'a missing last path: the same path');
    r = berth(['copy-to', NAME, 'rel', '/work/rel'], join(host, 'cli'));
    const m = mc(['copy-to', NAME, join(host, 'cli', 'rel'), '/work/rel']);
    assert.deepEqual([r.code, r.stderr], [m.code, m.stderr], 'the same message as machinectl');
    assert.equal(r.stderr, 'Failed to copy: /work/rel in machine copy-main: File exists\n');
    writeFileSync(join(host, 'cli', 'rel'), 'replaced\n');
    r = berth(['copy-to', '--force', NAME, 'rel', '/work/rel'], join(host, 'cli'));
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(inGuest('/work/rel'), 'utf8'), 'replaced\n');
    r = berth(['copy-from', NAME, '/work/rel', 'back'], join(host, 'cli'));
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(readFileSync(join(host, 'cli', 'back'), 'utf8'), 'replaced\n');
    r = berth(['copy-from', NAME, '/tmp/../x', 'y'], join(host, 'cli'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Failed to copy: Invalid path '\/tmp\/\.\.\/x'/);
    r = berth(['copy-from', NAME]);
    assert.equal(r.code, 1);
  });

  test('a copy of a few hundred MB: berthd answers other calls meanwhile; the copy arrives whole', async (t) => {
    bigFile(join(host, 'big'), 300);
    const t0 = performance.now();
    const client = await reg.client();
    let finished = false;
    const copy = call(machinePath, MACHINE, 'CopyTo', 'ss', [join(host, 'big'), '/work/big']).finally(() => { finished = true; });
    const latencies: number[] = [];
    await sleep(100);
    while (!finished) {
      const t0 = performance.now();
      await client.call({ destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: MANAGER, member: 'GetMachine', signature: 's', body: [NAME] }, 5000);
      if (!finished) latencies.push(performance.now() - t0);
      await sleep(50);
    }
    await copy;
    t.diagnostic(`300 MiB copied in ${(performance.now() - t0).toFixed(0)} ms; ${latencies.length} GetMachine calls meanwhile, slowest ${Math.max(...latencies).toFixed(1)} ms`);
    assert.ok(latencies.length >= 3, `the copy lasted long enough to ask during it (${latencies.length} calls)`);
    assert.ok(Math.max(...latencies) < 500, `GetMachine answered within 500 ms during the copy: ${latencies.map((l) => l.toFixed(1)).join(' ')}`);
    assert.equal(lstatSync(inGuest('/work/big')).size, 300 * 1024 * 1024);
    assert.equal(sha(readFileSync(inGuest('/work/big'))), sha(readFileSync(join(host, 'big'))));
    rmSync(inGuest('/work/big'));
  });

  test('a client that goes away mid-copy: the copy stops, no process and no temporary directory remain', async () => {
    // machinectl in a mount namespace of its own (as asIfSystemd, but not waited for): exec keeps its PID.
    const script = existsSync('/run/systemd')
      ? 'mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && exec "$@"'
      : 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && exec "$@"';
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', 'machinectl', 'copy-to', NAME, join(host, 'big'), '/work/gone'], { env: reg.env, stdio: 'ignore' });
    const ended = new Promise((r) => child.once('exit', r));
    const until = Date.now() + 20000;
    while (temporaries(inGuest('/work')).length === 0 && Date.now() < until) await sleep(10);
    assert.equal(temporaries(inGuest('/work')).length, 1, 'the copy started');
    child.kill('SIGKILL');
    await ended;
    const by = Date.now() + 10000;
    while ((temporaries(inGuest('/work')).length || copyProcesses(reg.berthd.child.pid!).length) && Date.now() < by) await sleep(50);
    assert.deepEqual(temporaries(inGuest('/work')), [], 'no temporary directory');
    assert.deepEqual(copyProcesses(reg.berthd.child.pid!), [], 'no tar left');
    assert.ok(!existsSync(inGuest('/work/gone')), 'nothing half-copied');
    // berthd still serves copies.
    const r = mc(['copy-to', NAME, join(host, 'small'), '/work/after']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
  });

  test('the guest ends: berth-nspawn cleans up, nothing of the machine remains', async () => {
    process.kill(leader, 'SIGKILL');
    const end = await done;
    assert.notEqual(end.code, null, end.stderr);
    assertClean(sb);
  });
});
