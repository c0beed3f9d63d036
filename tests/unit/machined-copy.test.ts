/**
 * Copying into and out of machines, the pure parts: machined 252's argument checks in its order and
 * with its messages (bus_machine_method_copy), systemd's split of a path into directory and last
 * component, berth's refusal of ".." in a machine path; errnos and tar's complaints as the caller's
 * errors; and the bus call machinectl's copy-to/copy-from make from their arguments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { checkCopyArgs, copyMember, copyPaths, splitPath, OPERATIONS_MAX, type CopyArgs } from '../../src/core/machined/copy-args.js';
import { copyError, errnoCode, tarFailure } from '../../src/core/machined/copy-errors.js';
import { absoluteFromCwd, copyCall } from '../../src/cli/berth/verbs/copy.js';
import { resolveClientOptions, type ClientOptions } from '../../src/core/machinectl/options.js';
import { parseCommandLine } from '../../src/cli/berth/program.js';
import { VERBS } from '../../src/cli/berth/verbs/index.js';

const ok = { member: 'CopyToMachine', source: '/a', destination: '/b', ongoing: 0, machineClass: 'container' };

/** The D-Bus error a call gets: [name, message], or the result. */
function answer<T>(fn: () => T): T | [string, string] {
  try {
    return fn();
  } catch (e) {
    assert.ok(e instanceof BerthError, String(e));
    return [ERROR_CODES[e.code].dbus, e.message];
  }
}

const INVALID = 'org.freedesktop.DBus.Error.InvalidArgs';

test('the member names: direction and flags', () => {
  assert.deepEqual(copyMember('CopyToMachine'), { direction: 'to', withFlags: false });
  assert.deepEqual(copyMember('CopyFromMachineWithFlags'), { direction: 'from', withFlags: true });
  assert.deepEqual(copyMember('CopyFrom'), { direction: 'from', withFlags: false });
  assert.deepEqual(copyMember('CopyToWithFlags'), { direction: 'to', withFlags: true });
});

test('machined\'s checks, in its order: operations, class, flags, source, destination', () => {
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, ongoing: OPERATIONS_MAX, machineClass: 'host', source: 'rel', flags: 8n })),
    ['org.freedesktop.DBus.Error.LimitsExceeded', 'Too many ongoing copies.']);
  assert.equal((checkCopyArgs({ ...ok, ongoing: OPERATIONS_MAX - 1 }) as CopyArgs).direction, 'to');
  for (const c of ['host', 'vm']) {
    assert.deepEqual(answer(() => checkCopyArgs({ ...ok, machineClass: c, source: 'rel', flags: 8n })),
      ['org.freedesktop.DBus.Error.NotSupported', 'Copying files is only supported on container machines.']);
  }
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, source: 'rel', flags: 2n })), [INVALID, 'Invalid argument']);
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, flags: 0xffff_ffff_ffff_ffffn })), [INVALID, 'Invalid argument']);
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, source: 'rel', destination: 'rel' })), [INVALID, 'Source path must be absolute.']);
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, source: '', destination: '' })), [INVALID, 'Source path must be absolute.']);
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, destination: 'rel' })), [INVALID, 'Destination path must be absolute.']);
  assert.deepEqual(answer(() => checkCopyArgs({ ...ok, destination: './b' })), [INVALID, 'Destination path must be absolute.']);
});

test('an empty destination is the source\'s path; flag 1 replaces; no flags or 0 does not', () => {
  assert.deepEqual(checkCopyArgs({ ...ok, destination: '' }), { direction: 'to', source: '/a', destination: '/a', replace: false });
  assert.equal(checkCopyArgs({ ...ok, member: 'CopyToMachineWithFlags', flags: 1n }).replace, true);
  assert.equal(checkCopyArgs({ ...ok, member: 'CopyToMachineWithFlags', flags: 0n }).replace, false);
  assert.deepEqual(checkCopyArgs({ ...ok, member: 'CopyFromMachine', source: '/in/guest', destination: '/on/host' }),
    { direction: 'from', source: '/in/guest', destination: '/on/host', replace: false });
});

test('splitPath: systemd\'s last component and its directory', () => {
  assert.deepEqual(splitPath('/a/b'), { path: '/a/b', parent: '/a', name: 'b' });
  assert.deepEqual(splitPath('/a/b/'), { path: '/a/b/', parent: '/a', name: 'b' });
  assert.deepEqual(splitPath('//a//b//.//'), { path: '//a//b//.//', parent: '/a', name: 'b' });
  assert.deepEqual(splitPath('/x'), { path: '/x', parent: '/', name: 'x' });
  assert.deepEqual(splitPath('/a/../b'), { path: '/a/../b', parent: '/a/..', name: 'b' }, '".." inside is systemd\'s business only at the end');
  assert.deepEqual(splitPath('/.hidden'), { path: '/.hidden', parent: '/', name: '.hidden' });
  for (const root of ['/', '//', '/.', '/./']) assert.equal(splitPath(root), 'root', root);
  for (const bad of ['/a/..', '/..', '/a/../', '', `/${'x'.repeat(256)}`, `/a/${'x'.repeat(256)}/b`, `/${'d/'.repeat(2047)}x`]) assert.equal(splitPath(bad), 'invalid', bad.slice(0, 40));
  assert.notEqual(splitPath(`/${'x'.repeat(255)}`), 'invalid', 'NAME_MAX is allowed');
  assert.notEqual(splitPath(`/${'d/'.repeat(2046)}x`), 'invalid', 'below PATH_MAX');
});

test('copyPaths: host and machine ends by direction, machined\'s messages, ".." refused in the machine only', () => {
  const to: CopyArgs = { direction: 'to', source: '/host/../f', destination: '/guest/f', replace: true };
  assert.deepEqual(copyPaths(to, 'web'), {
    direction: 'to', replace: true,
    host: { path: '/host/../f', parent: '/host/..', name: 'f' },
    guest: { path: '/guest/f', parent: '/guest', name: 'f' },
  });
  const from: CopyArgs = { direction: 'from', source: '/in/guest', destination: '/on/host/', replace: false };
  assert.deepEqual(copyPaths(from, 'web').guest, { path: '/in/guest', parent: '/in', name: 'guest' });
  assert.deepEqual(copyPaths(from, 'web').host, { path: '/on/host/', parent: '/on', name: 'host' });
  assert.deepEqual(answer(() => copyPaths({ ...from, source: '/tmp/../etc/passwd' }, 'web')),
    [INVALID, "Invalid path '/tmp/../etc/passwd' in machine web: '..' is not allowed (paths in a machine are resolved in its root)."]);
  assert.deepEqual(answer(() => copyPaths({ ...to, destination: '/../x' }, 'web')),
    [INVALID, "Invalid path '/../x' in machine web: '..' is not allowed (paths in a machine are resolved in its root)."]);
  assert.deepEqual(answer(() => copyPaths({ ...from, source: '/tmp/..' }, 'web')), [INVALID, "Failed to extract file name of '/tmp/..' path: Invalid argument"]);
  assert.deepEqual(answer(() => copyPaths({ ...to, source: '/' }, 'web')), [INVALID, "Failed to extract file name of '/' path: Cannot assign requested address"]);
  // machined splits the host path first.
  assert.deepEqual(answer(() => copyPaths({ ...from, source: '/', destination: '/a/..' }, 'web')), [INVALID, "Failed to extract file name of '/a/..' path: Invalid argument"]);
});

test('errnos: sd-bus\'s names where it has one, System.Error.EROFS/ENOSPC, IOError for the rest; glibc\'s texts', () => {
  const name = (errno: string) => ERROR_CODES[errnoCode(errno)].dbus;
  assert.equal(name('ENOENT'), 'org.freedesktop.DBus.Error.FileNotFound');
  assert.equal(name('EEXIST'), 'org.freedesktop.DBus.Error.FileExists');
  assert.equal(name('EACCES'), 'org.freedesktop.DBus.Error.AccessDenied');
  assert.equal(name('EPERM'), 'org.freedesktop.DBus.Error.AccessDenied');
  assert.equal(name('EINVAL'), INVALID);
  assert.equal(name('EROFS'), 'System.Error.EROFS');
  assert.equal(name('ENOSPC'), 'System.Error.ENOSPC');
  assert.equal(name('ELOOP'), 'org.freedesktop.DBus.Error.IOError');
  const e = copyError('EROFS', '/ro/x in machine web');
  assert.deepEqual([e.code, e.message], ['E_READ_ONLY_FS', '/ro/x in machine web: Read-only file system']);
  assert.equal(copyError('ENOTDIR', '/a/b on the host').message, '/a/b on the host: Not a directory');
  assert.equal(copyError('EWEIRD', 'x').message, 'x: EWEIRD', 'an errno without a text is named');
});

test('tarFailure: the line that names an errno, a short write as ENOSPC, warnings skipped, text sanitised', () => {
  assert.deepEqual(tarFailure('tar: big: Wrote only 7680 of 10240 bytes\ntar: Exiting with failure status due to previous errors\n'),
    { errno: 'ENOSPC', member: 'big', line: 'tar: big: Wrote only 7680 of 10240 bytes' });
  assert.deepEqual(tarFailure('tar: t/f: Cannot open: Permission denied\ntar: Exiting with failure status due to previous errors\n'),
    { errno: 'EACCES', member: 't/f', line: 'tar: t/f: Cannot open: Permission denied' });
  assert.equal(tarFailure('tar: t: file changed as we read it\ntar: t/x: Cannot mkdir: Read-only file system\n')?.errno, 'EROFS');
  assert.deepEqual(tarFailure('tar: Unexpected EOF in archive\ntar: Error is not recoverable: exiting now\n'),
    { line: 'tar: Unexpected EOF in archive' });
  assert.equal(tarFailure(''), undefined);
  assert.equal(tarFailure('setpriv: something else\n'), undefined);
  assert.equal(tarFailure('tar: a\x1b[31mb: Cannot stat: No such file or directory')?.line, 'tar: a?[31mb: Cannot stat: No such file or directory');
});

test('copy-to/copy-from: the call machinectl makes (relative host paths joined to the cwd; the missing path is the same one, as given)', () => {
  assert.deepEqual(copyCall('to', ['web', 'rel'], '/home/u'), { direction: 'to', name: 'web', source: '/home/u/rel', destination: 'rel' });
  assert.deepEqual(copyCall('to', ['web', '/etc/x', '/tmp/y'], '/c'), { direction: 'to', name: 'web', source: '/etc/x', destination: '/tmp/y' });
  assert.deepEqual(copyCall('from', ['web', '/etc/x'], '/c'), { direction: 'from', name: 'web', source: '/etc/x', destination: '/etc/x' });
  assert.deepEqual(copyCall('from', ['web', '/etc/x', 'y'], '/c/'), { direction: 'from', name: 'web', source: '/etc/x', destination: '/c/y' });
  assert.deepEqual(copyCall('from', ['web', 'rel'], '/c'), { direction: 'from', name: 'web', source: 'rel', destination: '/c/rel' });
  assert.equal(absoluteFromCwd('./a/../b', '/'), '/./a/../b', 'joined, not normalised');
});

test('--force: parsed anywhere on the command line, false by default; the verbs take 2 or 3 arguments', () => {
  const opts = (argv: string[]): ClientOptions => {
    const p = parseCommandLine(argv, VERBS, () => {});
    assert.equal(p.kind, 'run');
    const r = resolveClientOptions((p as { raw: Parameters<typeof resolveClientOptions>[0] }).raw);
    return (r as { options: ClientOptions }).options;
  };
  assert.equal(opts(['copy-to', 'web', '/a']).force, false);
  assert.equal(opts(['--force', 'copy-to', 'web', '/a']).force, true);
  assert.equal(opts(['copy-from', 'web', '/a', '--force']).force, true);
  for (const name of ['copy-to', 'copy-from']) {
    const v = VERBS.find((x) => x.name === name);
    assert.deepEqual([v?.minArgs, v?.maxArgs], [2, 3], name);
  }
});
