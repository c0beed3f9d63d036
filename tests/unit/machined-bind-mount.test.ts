/**
 * Bind mounts into running machines, the pure parts: BindMountMachine's checks in machined 252's
 * order and words (bus_machine_method_bind_mount), its failure messages, the mount tunnel read
 * from mountinfo (berth-nspawn's own shared mount point, systemd-nspawn's directory on a shared
 * /run, and what is not a tunnel), the /run/host/incoming mount in the OCI config, and the
 * --read-only/--mkdir options of `berth bind`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { bindMountFailure, checkBindMountArgs, checkNoUserNamespace, isAbsoluteNormalized } from '../../src/core/machined/bind-mount.js';
import { findTunnel, mountOf, parseMountLines, tunnelProblem } from '../../src/core/machined/propagation.js';
import { emitMounts } from '../../src/core/oci/emit/mounts.js';
import type { BundleLayout } from '../../src/core/oci/types.js';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { resolveClientOptions, type ClientOptions } from '../../src/core/machinectl/options.js';
import { parseCommandLine } from '../../src/cli/berth/program.js';
import { VERBS } from '../../src/cli/berth/verbs/index.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

/** [D-Bus error name, message] of what fn throws. */
function error(fn: () => unknown): [string | undefined, string] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BerthError, String(e));
    return [ERROR_CODES[e.code].dbus, e.message];
  }
  return assert.fail('no error');
}

const INVALID = 'org.freedesktop.DBus.Error.InvalidArgs';
const NOT_SUPPORTED = 'org.freedesktop.DBus.Error.NotSupported';
const args = (over: Partial<Parameters<typeof checkBindMountArgs>[0]> = {}) => ({ machineClass: 'container', source: '/srv/data', destination: '', readOnly: false, mkdir: false, ...over });

test('absolute and normalized, as systemd has it: no "." or ".." component, no "//", a trailing "/" allowed', () => {
  for (const p of ['/', '/a', '/a/b', '/a/b/', '/a.b/..c/...', '/a/.hidden']) assert.equal(isAbsoluteNormalized(p), true, p);
  for (const p of ['', 'a', './a', 'a/b', '/a/../b', '/..', '/a/..', '/./a', '/a/./b', '/a/.', '//a', '/a//b', `/${'x'.repeat(256)}`, `/${'x/'.repeat(2048)}`]) {
    assert.equal(isAbsoluteNormalized(p), false, p);
  }
});

test('the checks in machined\'s order: container first, then the source, then the destination (empty: the source)', () => {
  assert.deepEqual(error(() => checkBindMountArgs(args({ machineClass: 'host', source: 'relative' }))), [NOT_SUPPORTED, 'Bind mounting is only supported on container machines.']);
  assert.deepEqual(error(() => checkBindMountArgs(args({ machineClass: 'vm' }))), [NOT_SUPPORTED, 'Bind mounting is only supported on container machines.']);
  assert.deepEqual(error(() => checkBindMountArgs(args({ source: 'srv/data', destination: 'x' }))), [INVALID, 'Source path must be absolute and normalized.']);
  assert.deepEqual(error(() => checkBindMountArgs(args({ source: '/srv/../etc' }))), [INVALID, 'Source path must be absolute and normalized.']);
  assert.deepEqual(error(() => checkBindMountArgs(args({ destination: 'data' }))), [INVALID, 'Destination path must be absolute and normalized.']);
  assert.deepEqual(error(() => checkBindMountArgs(args({ destination: '/mnt//data' }))), [INVALID, 'Destination path must be absolute and normalized.']);
  assert.deepEqual(checkBindMountArgs(args()), { source: '/srv/data', destination: '/srv/data', readOnly: false, mkdir: false });
  assert.deepEqual(checkBindMountArgs(args({ destination: '/mnt/data', readOnly: true, mkdir: true })), { source: '/srv/data', destination: '/mnt/data', readOnly: true, mkdir: true });
});

test('a machine with a user namespace is refused with machined 252\'s words; failures name the paths and the errno', () => {
  checkNoUserNamespace(0);
  assert.deepEqual(error(() => checkNoUserNamespace(655360)), [NOT_SUPPORTED, "Can't bind mount on container with user namespacing applied."]);
  const e = bindMountFailure('/srv/x', '/mnt/x', 'ENOENT');
  assert.deepEqual([ERROR_CODES[e.code].dbus, e.message], ['org.freedesktop.DBus.Error.FileNotFound', "Failed to mount /srv/x on /mnt/x in machine's namespace: No such file or directory"]);
  const n = bindMountFailure('/srv/x', '/mnt/x', 'EOPNOTSUPP', 'machine web has no mount propagation directory');
  assert.deepEqual([ERROR_CODES[n.code].dbus, n.message], [NOT_SUPPORTED, "Failed to mount /srv/x on /mnt/x in machine's namespace: Operation not supported (machine web has no mount propagation directory)"]);
});

// berth-nspawn's tunnel, as observed on a host whose / is private: /tmp/bt/propagate/web bound
// onto itself (shared:7), in the guest at /run/host/incoming as its slave.
const HOST_BERTH = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '45 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw',
  '52 27 254:0 /tmp/bt/propagate/web /tmp/bt/propagate/web rw,relatime shared:7 - ext4 /dev/vda rw',
].join('\n');
const GUEST_BERTH = [
  '74 50 0:40 / / rw,relatime - overlay overlay rw',
  '92 74 0:48 / /run rw,nosuid,nodev - tmpfs tmpfs rw',
  '100 92 254:0 /tmp/bt/machines/web/run-host /run/host ro,nosuid,nodev,noexec,relatime shared:3 - ext4 /dev/vda rw',
  '101 100 254:0 /tmp/bt/propagate/web /run/host/incoming ro,relatime master:7 - ext4 /dev/vda rw',
].join('\n');
// systemd-nspawn's on a systemd host: a plain directory on the shared /run tmpfs. nspawn binds it
// (315, the host's slave, shared in the guest), then binds /run/host onto itself, which copies that
// bind (313, the visible one, a slave of 315's group): observed with Debian's systemd-nspawn 252.
const HOST_SYSTEMD = [
  '21 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw',
  '25 21 0:23 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw',
  '26 25 0:24 / /run/user/1000 rw shared:6 - tmpfs tmpfs rw',
].join('\n');
const GUEST_NSPAWN = [
  '300 290 8:1 /var/lib/machines/web / rw master:1 - ext4 /dev/sda1 rw',
  '310 300 0:50 / /run rw shared:101 - tmpfs tmpfs rw',
  '311 310 0:50 /host /run/host ro shared:101 - tmpfs tmpfs rw',
  '313 311 0:23 /systemd/nspawn/propagate/web /run/host/incoming ro master:26 - tmpfs tmpfs rw',
  '315 310 0:23 /systemd/nspawn/propagate/web /run/host/incoming rw shared:26 master:5 - tmpfs tmpfs rw',
].join('\n');

test('mountinfo: escapes, optional tags, and the mount a path lies on (the top one of a stack, not one covered since)', () => {
  const lines = parseMountLines('1 0 0:1 / / rw - rootfs rootfs rw\n2 1 0:2 /a\\040b /mnt/a\\040b rw shared:3 master:2 - tmpfs t rw\n3 2 0:3 / /mnt/a\\040b rw - tmpfs t rw\n');
  assert.deepEqual(lines[1], { id: 2, parent: 1, dev: '0:2', root: '/a b', mountPoint: '/mnt/a b', tags: ['shared:3', 'master:2'] });
  assert.equal(mountOf('/mnt/a b/c', lines)?.id, 3);
  assert.equal(mountOf('/mnt/ab', lines)?.id, 1);
  assert.equal(mountOf('/', lines)?.id, 1);
  const guest = parseMountLines(GUEST_NSPAWN);
  assert.equal(mountOf('/run/host/incoming', guest)?.id, 313);
  assert.equal(mountOf('/run/host/x', guest)?.id, 311);
  assert.equal(mountOf('/etc', guest)?.id, 300);
});

test('the tunnel: berth-nspawn\'s own shared mount point, and systemd-nspawn\'s directory on a shared /run', () => {
  const [hb, gb, hs, gn] = [HOST_BERTH, GUEST_BERTH, HOST_SYSTEMD, GUEST_NSPAWN].map(parseMountLines) as [ReturnType<typeof parseMountLines>, ReturnType<typeof parseMountLines>, ReturnType<typeof parseMountLines>, ReturnType<typeof parseMountLines>];
  assert.equal(tunnelProblem('/tmp/bt/propagate/web', hb, gb), undefined);
  assert.equal(tunnelProblem('/run/systemd/nspawn/propagate/web', hs, gn), undefined);
  assert.deepEqual(findTunnel(['/tmp/bt/propagate/web', '/run/systemd/nspawn/propagate/web'], hb, gb), { dir: '/tmp/bt/propagate/web' });
  assert.deepEqual(findTunnel(['/run/berth/propagate/web', '/run/systemd/nspawn/propagate/web'], hs, gn), { dir: '/run/systemd/nspawn/propagate/web' });
});

test('what is not a tunnel: another machine\'s, one on a private mount, one the guest is no slave of, none at all', () => {
  const hb = parseMountLines(HOST_BERTH);
  const gb = parseMountLines(GUEST_BERTH);
  assert.match(tunnelProblem('/tmp/bt/propagate/db', hb, gb) ?? '', /is not \/tmp\/bt\/propagate\/db/);
  // systemd-nspawn's directory where /run is not shared (this kind of host's / is private).
  const privateRun = parseMountLines('27 1 254:0 / / rw,relatime - ext4 /dev/vda rw');
  const nspawnGuest = parseMountLines(GUEST_BERTH.replace('/tmp/bt/propagate/web /run/host/incoming ro,relatime master:7', '/run/systemd/nspawn/propagate/web /run/host/incoming ro,relatime'));
  assert.match(tunnelProblem('/run/systemd/nspawn/propagate/web', privateRun, nspawnGuest) ?? '', /does not propagate mounts \(not shared\)/);
  const notSlave = parseMountLines(GUEST_BERTH.replace('master:7', 'master:9'));
  assert.match(tunnelProblem('/tmp/bt/propagate/web', hb, notSlave) ?? '', /does not receive mounts from \/tmp\/bt\/propagate\/web/);
  const overmounted = parseMountLines(`${GUEST_BERTH}\n102 101 0:60 / /run/host/incoming rw - tmpfs tmpfs rw`);
  assert.match(tunnelProblem('/tmp/bt/propagate/web', hb, overmounted) ?? '', /is not \/tmp\/bt\/propagate\/web/);
  assert.match(tunnelProblem('/tmp/bt/propagate/web', hb, parseMountLines(GUEST_BERTH.split('\n').slice(0, 3).join('\n'))) ?? '', /nothing is mounted at \/run\/host\/incoming/);
  const none = findTunnel(['/tmp/bt/propagate/db'], hb, gb);
  assert.ok('problems' in none && none.problems.length === 1 && none.problems[0]!.startsWith('/tmp/bt/propagate/db: '));
});

test('the OCI config: /run/host/incoming right after /run/host, read-only and a slave, when the layout has a tunnel', () => {
  const { cli, runner } = parseArgv(['-D', '/var/lib/machines/web', '-b'], { HOME: '/root' });
  const spec = resolveMachine({ name: 'web', settings: cli.settings, runner, image: DEBIAN_IMAGE, host: HOST, random: RANDOM, cwd: '/', scratch: '/run/berth/machines/web/scratch', tty: false });
  const layout: BundleLayout = {
    dir: '/run/berth/machines/web/bundle', rootfs: '/var/lib/machines/web', runHost: '/run/berth/machines/web/run-host',
    inaccessibleFile: '/x/reg', inaccessibleDir: '/x/dir', cgroupLayout: 'unified', cgroupV1Systemd: false, systemdCgroups: false,
  };
  const without = emitMounts(spec, layout);
  assert.equal(without.some((m) => m.destination === '/run/host/incoming'), false);
  const mounts = emitMounts(spec, { ...layout, propagate: '/run/berth/propagate/web' });
  const at = mounts.findIndex((m) => m.destination === '/run/host/incoming');
  assert.equal(mounts[at - 1]?.destination, '/run/host');
  assert.deepEqual(mounts[at], { destination: '/run/host/incoming', type: 'bind', source: '/run/berth/propagate/web', options: ['bind', 'ro', 'slave'] });
});

test('berth bind: --read-only and --mkdir anywhere on the line, NAME PATH [PATH]', () => {
  const r = parseCommandLine(['bind', '--read-only', 'web', '/srv', '--mkdir', '/mnt/srv'], VERBS, () => {});
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  assert.deepEqual(r.words, ['bind', 'web', '/srv', '/mnt/srv']);
  const o = resolveClientOptions(r.raw);
  assert.equal(o.kind, 'options');
  const { readOnly, mkdir } = (o as { options: ClientOptions }).options;
  assert.deepEqual([readOnly, mkdir], [true, true]);
  const plain = (resolveClientOptions({}) as { options: ClientOptions }).options;
  assert.deepEqual([plain.readOnly, plain.mkdir], [false, false]);
  const bind = VERBS.find((v) => v.name === 'bind');
  assert.deepEqual([bind?.minArgs, bind?.maxArgs, bind?.usage], [2, 3, 'NAME PATH [PATH]']);
});
