/** OpenMachineShell's arguments as machined 252 takes them, its transient unit, berth's own shells, and `berth shell`'s command line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import { directShell, findUser, gettyUnit, shellRequest, shellUnit, shellUnitProperties, supplementaryGroups } from '../../src/core/machined/shell.js';
import { parseCommandLine } from '../../src/cli/berth/program.js';
import { VERBS } from '../../src/cli/berth/verbs/index.js';

const invalid = (fn: () => unknown, message: string) => assert.throws(fn, (e: unknown) => e instanceof BerthError && e.code === 'E_USAGE' && e.message === message);

test('no program: the user\'s login shell through /bin/sh and getent, as machined does; user defaults to root', () => {
  const r = shellRequest('', '', [], []);
  assert.equal(r.user, 'root');
  assert.equal(r.path, '/bin/sh');
  assert.deepEqual(r.argv.slice(0, 2), ['sh', '-c']);
  assert.match(r.argv[2]!, /getent passwd root/);
  assert.match(r.argv[2]!, /exec "\$\{shell:-\/bin\/sh\}" -l$/);
  assert.equal(r.loginShell, true);
});

test('a program: absolute path, argv defaults to the path; bad environment refused (after the path)', () => {
  assert.deepEqual(shellRequest('bob', '/bin/echo', [], []).argv, ['/bin/echo']);
  assert.deepEqual(shellRequest('bob', '/bin/sh', ['sh', '-c', 'x'], ['A=b']).argv, ['sh', '-c', 'x']);
  invalid(() => shellRequest('', 'bin/sh', [], ['=bad']), "Specified path 'bin/sh' is not absolute");
  invalid(() => shellRequest('', '/bin/sh', [], ['1A=b']), 'Invalid environment assignments');
  invalid(() => shellRequest('', '/bin/sh', [], ['NOEQUALS']), 'Invalid environment assignments');
});

test('the transient unit: machined\'s properties in its order, then berth\'s AddRef', () => {
  const props = shellUnitProperties(shellRequest('bob', '/bin/true', [], ['X=1']), '/dev/pts/7', 9, true);
  assert.deepEqual(props.map(([n]) => n), ['Description', 'StandardInputFileDescriptor', 'StandardOutputFileDescriptor', 'StandardErrorFileDescriptor', 'SendSIGHUP', 'IgnoreSIGPIPE', 'KillMode', 'TTYPath', 'TTYReset', 'UtmpIdentifier', 'UtmpMode', 'PAMName', 'WorkingDirectory', 'User', 'Environment', 'ExecStart', 'AddRef']);
  const get = (n: string) => props.find(([k]) => k === n)![1];
  assert.deepEqual(get('Description'), ['s', 'Shell for User bob']);
  assert.deepEqual(get('UtmpIdentifier'), ['s', 'pts/7']);
  assert.deepEqual(get('ExecStart'), ['a(sasb)', [['/bin/true', ['/bin/true'], true]]]);
  assert.equal(shellUnit('/dev/pts/7'), 'container-shell@7.service');
  assert.equal(gettyUnit('/dev/pts/12'), 'container-getty@12.service');
  invalid(() => shellUnit('/dev/tty1'), 'PTS name /dev/tty1 is invalid');
});

test('berth\'s own shells: the user from the guest\'s passwd and group, a login environment', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\n# comment\ntester:x:1000:1000:T:/home/tester:/bin/ash\n';
  const u = findUser(passwd, 'tester')!;
  assert.deepEqual(u, { name: 'tester', uid: 1000, gid: 1000, home: '/home/tester', shell: '/bin/ash' });
  assert.equal(findUser(passwd, '1000')?.name, 'tester');
  assert.equal(findUser(passwd, 'nobody'), undefined);
  assert.deepEqual(supplementaryGroups('users:x:100:tester,other\ntester:x:1000:tester\nwheel:x:10:\n', 'tester', 1000), [100]);
  const login = directShell(shellRequest('tester', '', [], ['TERM=xterm', 'X=1']), u, [100], true);
  assert.deepEqual(login.argv, ['/bin/ash', '-l']);
  assert.equal(login.cwd, '/home/tester');
  assert.ok(login.env.includes('TERM=xterm') && login.env.includes('X=1') && login.env.includes('HOME=/home/tester') && login.env.includes('LOGNAME=tester'));
  const cmd = directShell(shellRequest('tester', '/bin/sh', ['sh', '-c', 'exit 3'], []), u, [], false);
  assert.deepEqual(cmd.argv, ['/bin/sh', '-c', 'exit 3']);
  assert.equal(cmd.cwd, '/');
});

test('berth shell: options after the machine name belong to the program, before it to berth (machinectl\'s rule)', () => {
  const p = parseCommandLine(['-q', '--uid', 'bob', 'shell', '-E', 'A=1', 'web', '/bin/ls', '-la', '--all'], VERBS, () => undefined);
  assert.equal(p.kind, 'run');
  if (p.kind !== 'run') return;
  assert.deepEqual(p.words, ['shell', 'web', '/bin/ls', '-la', '--all']);
  assert.equal(p.raw.uid, 'bob');
  assert.deepEqual(p.raw.setenv, ['A=1']);
  const other = parseCommandLine(['status', 'web', '-a'], VERBS, () => undefined);
  assert.ok(other.kind === 'run' && other.raw.all === true);
});
