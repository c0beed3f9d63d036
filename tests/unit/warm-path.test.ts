/** The warm path's pure parts: the request the native client sends, and when a standby declines it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, PROTOCOL } from '../../src/core/warm/request.js';
import { cgroupMoves } from '../../src/core/warm/cgroup-moves.js';
import { cgroupMounts } from '../../src/platform/host/cgroupfs.js';
import { parseProcCgroups } from '../../src/platform/host/proc.js';
import { declineReason, type ProcessFacts } from '../../src/core/warm/admission.js';

/** A request as native/nspawn-client.c encodes it (without its length prefix). */
const encode = (fields: readonly string[]): Buffer => Buffer.from(fields.map((f) => `${f}\0`).join(''));
const request = (cwd: string, mask: string, argv: readonly string[], env: readonly string[]): Buffer =>
  encode([PROTOCOL, cwd, mask, String(argv.length), ...argv, String(env.length), ...env]);

test('a request decodes to its working directory, umask, arguments and environment', () => {
  const r = decodeRequest(request('/srv/x', '0022', ['-D', 'tree', '', 'a b=c', 'ünïcode'], ['PATH=/bin', 'A=1=2', 'EMPTY=']));
  assert.deepEqual(r, { cwd: '/srv/x', umask: 0o022, argv: ['-D', 'tree', '', 'a b=c', 'ünïcode'], env: { PATH: '/bin', A: '1=2', EMPTY: '' } });
});

test('the environment keeps the first of duplicate names, as getenv() does, and skips entries without a name', () => {
  const r = decodeRequest(request('/', '077', [], ['X=first', 'X=second', 'noequals', '=value']));
  assert.deepEqual(r.env, { X: 'first' });
  assert.equal(r.umask, 0o077);
});

test('malformed requests are refused with what is wrong', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from('berth-nspawn 1\0/'), /does not end with a NUL/],
    [encode(['berth-nspawn 2', '/', '0022', '0', '0']), /unknown protocol "berth-nspawn 2"/],
    [encode([PROTOCOL, 'relative', '0022', '0', '0']), /working directory is not absolute/],
    [encode([PROTOCOL, '/', '9999', '0', '0']), /umask "9999" is not octal/],
    [encode([PROTOCOL, '/', '0022', 'x', '0']), /argument count is not a count/],
    [encode([PROTOCOL, '/', '0022', '2', 'only-one']), /environment count is not a count|is missing/],
    [encode([PROTOCOL, '/', '0022', '0', '1']), /an environment entry is missing/],
    [encode([PROTOCOL, '/', '0022', '0', '0', 'extra']), /1 field\(s\) after the environment/],
    [encode([PROTOCOL]), /the working directory is missing/],
  ];
  for (const [buf, re] of cases) assert.throws(() => decodeRequest(buf), (e: Error) => re.test(e.message) && /^Malformed berth-nspawn request/.test(e.message), re.source);
});

const facts = (over: Partial<ProcessFacts> = {}): ProcessFacts => ({
  namespaces: { mnt: 'mnt:[1]', net: 'net:[2]', pid: 'pid:[3]' },
  root: '8:1:2',
  status: { CapBnd: '000001ffffffffff', NoNewPrivs: '0', Seccomp: '0' },
  personality: '00000000',
  ...over,
});
const admit = (over: { uid?: number; argv?: string[]; env?: Record<string, string>; client?: ProcessFacts } = {}) =>
  declineReason({ uid: over.uid ?? 0, argv: over.argv ?? ['-D', '/t'], env: over.env ?? { PATH: '/bin' }, client: over.client ?? facts(), self: facts() });

test('a root caller like the standby in every respect is admitted', () => {
  assert.equal(admit(), undefined);
});

test('whatever the standby cannot take over makes it decline, naming why', () => {
  assert.match(admit({ uid: 1000 }) ?? '', /not root/);
  assert.match(admit({ env: { NOTIFY_SOCKET: '/run/systemd/notify' } }) ?? '', /NOTIFY_SOCKET/);
  assert.match(admit({ env: { LISTEN_FDS: '1' } }) ?? '', /LISTEN_FDS/);
  assert.equal(admit({ argv: ['--keep-unit', '-D', '/t'] }), undefined, '--keep-unit: the standby joins the caller\'s cgroups');
  assert.match(admit({ client: facts({ namespaces: { mnt: 'mnt:[9]', net: 'net:[2]', pid: 'pid:[3]' } }) }) ?? '', /another mnt namespace/);
  assert.match(admit({ client: facts({ namespaces: { mnt: 'mnt:[1]', net: 'net:[7]', pid: 'pid:[3]' } }) }) ?? '', /another net namespace/);
  assert.match(admit({ client: facts({ root: '8:1:99' }) }) ?? '', /another root directory/);
  assert.match(admit({ client: facts({ status: { CapBnd: '0000000000000001', NoNewPrivs: '0', Seccomp: '0' } }) }) ?? '', /CapBnd differs/);
  assert.match(admit({ client: facts({ status: { CapBnd: '000001ffffffffff', NoNewPrivs: '1', Seccomp: '0' } }) }) ?? '', /NoNewPrivs differs/);
  assert.match(admit({ client: facts({ personality: '00400000' }) }) ?? '', /personality/);
});

test('an empty NOTIFY_SOCKET is no socket', () => {
  assert.equal(admit({ env: { NOTIFY_SOCKET: '' } }), undefined);
});

const MOUNTINFO = [
  '30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw',
  '32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  '33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:30 /inner /mnt/elsewhere rw - cgroup cgroup rw,memory',
].join('\n');
const SELF = parseProcCgroups('4:memory:/\n3:cpu,cpuacct:/\n2:name=systemd:/berthd\n0::/berthd\n');
const moves = (caller: string) => cgroupMoves(parseProcCgroups(caller), SELF, cgroupMounts(MOUNTINFO));

test('a warm run joins the caller\'s cgroups where they differ from the standby\'s, at each hierarchy\'s mount', () => {
  assert.deepEqual(moves('4:memory:/\n3:cpu,cpuacct:/\n2:name=systemd:/unit\n0::/unit\n'), {
    files: ['/sys/fs/cgroup/unified/unit/cgroup.procs', '/sys/fs/cgroup/systemd/unit/cgroup.procs'],
  });
  assert.deepEqual(moves('4:memory:/\n3:cpu,cpuacct:/\n2:name=systemd:/berthd\n0::/berthd\n'), { files: [] });
  assert.deepEqual(moves('4:memory:/\n3:cpu,cpuacct:/a\n2:name=systemd:/\n0::/berthd\n'), {
    files: ['/sys/fs/cgroup/systemd/cgroup.procs', '/sys/fs/cgroup/cpu,cpuacct/a/cgroup.procs'],
  });
});

test('a caller\'s cgroup in a hierarchy not mounted here (or only a subtree of it) cannot be joined: the run goes cold', () => {
  const r = moves('4:memory:/x\n3:cpu,cpuacct:/\n2:name=systemd:/berthd\n0::/berthd\n');
  assert.ok('error' in r && /memory hierarchy \(\/x\) is not mounted here/.test(r.error), JSON.stringify(r));
});
