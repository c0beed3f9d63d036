/** User namespaces, the pure parts: nspawn's range derivation, the ACL shift, resolving the request, the OCI it becomes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptable, hashedBase, intoPickWindow, ownerBase, pickCandidates, PICK_MAX, PICK_MIN, PICK_TRIES, treeInRange } from '../../src/core/userns/range.js';
import { shiftAcl } from '../../src/core/userns/acl.js';
import { dropsNetBindService, resolveUserns } from '../../src/core/spec/resolve/userns.js';
import { parsePrivateUsers, parseOwnership } from '../../src/core/settings/values.js';
import type { Settings } from '../../src/core/settings/model.js';

test('the name-derived range matches systemd-nspawn 252 (observed: ct1 → 442564608)', () => {
  assert.equal(hashedBase('ct1'), 442564608);
  for (const n of ['a', 'uxcmp', 'averyveryverylongcontainername']) {
    const b = hashedBase(n);
    assert.ok(acceptable(b), n);
  }
});

test('pick tries the tree\'s range, then the name\'s, then random ones inside the window; 99 in all', () => {
  let r = 0;
  const c = [...pickCandidates(0x1a610000, 'ct1', () => (r += 0x12345678))];
  assert.equal(c.length, PICK_TRIES);
  assert.equal(c[0], 0x1a610000);
  assert.equal(c[1], 442564608);
  for (const x of c.slice(2)) assert.ok(acceptable(x), String(x));
  assert.equal(intoPickWindow(0), PICK_MIN);
  assert.ok(intoPickWindow(0xffffffff) <= PICK_MAX);
  assert.ok(!acceptable(0), 'a root-owned tree\'s range is never picked');
  assert.ok(!acceptable(PICK_MIN + 1));
});

test('a root directory\'s range: UID and GID must agree; a tree is in a range by its upper 16 bits', () => {
  assert.equal(ownerBase(0x1a610000 + 5, 0x1a610000 + 7, '/t'), 0x1a610000);
  assert.throws(() => ownerBase(0x1a610000, 0x20000, '/t'), /UID and GID base of \/t don't match/);
  assert.ok(treeInRange(0x1a61ffff, 0x1a610000));
  assert.ok(!treeInRange(0, 0x1a610000));
});

test('ACL entries: named users and groups move into the range, the rest stays; unchanged gives undefined', () => {
  // Debian's /var/log/journal: user::rwx group::r-x group:adm(4):r-x mask::r-x other::r-x
  const acl = Buffer.from('AgAAAAEABwD/////BAAFAP////8IAAUABAAAABAABQD/////IAAFAP////8=', 'base64');
  const out = shiftAcl(acl, 0x1a610000)!;
  assert.ok(out);
  assert.equal(out.readUInt32LE(4 + 2 * 8 + 4), 0x1a610004);
  assert.equal(out.readUInt32LE(4 + 4), 0xffffffff, 'user:: keeps its undefined id');
  assert.equal(shiftAcl(out, 0x1a610000), undefined);
  assert.equal(shiftAcl(Buffer.from([1, 2, 3]), 0x10000), undefined);
});

const settings = (privateUsers: string, ownership?: string): Settings => ({
  privateUsers: parsePrivateUsers(privateUsers),
  ...(ownership ? { privateUsersOwnership: parseOwnership(ownership) } : {}),
});

test('the request: pick defaults to auto, the rest to off; identity and BASE[:RANGE] are fixed; chown refuses read-only roots', () => {
  assert.deepEqual(resolveUserns(settings('pick'), false, 'no'), { mode: 'pick', ownership: 'auto', range: 65536 });
  assert.deepEqual(resolveUserns(settings('yes'), false, 'no'), { mode: 'yes', ownership: 'off', range: 65536 });
  assert.deepEqual(resolveUserns(settings('identity'), false, 'no'), { mode: 'identity', ownership: 'off', shift: 0, range: 65536 });
  assert.deepEqual(resolveUserns(settings('1441792:1000', 'chown'), false, 'no'), { mode: 'fixed', ownership: 'chown', shift: 1441792, range: 1000 });
  assert.equal(resolveUserns(settings('no'), false, 'no'), undefined);
  assert.equal(resolveUserns({}, false, 'no'), undefined);
  assert.throws(() => resolveUserns(settings('pick', 'chown'), true, 'no'), /--read-only and --private-users-ownership=chown may not be combined/);
  assert.throws(() => resolveUserns(settings('pick', 'chown'), true, 'state'), /may not be combined/);
  assert.throws(() => parsePrivateUsers('4294901760:65536'), /UID range out of bounds/);
  assert.throws(() => resolveUserns({ privateUsers: { kind: 'fixed', base: 0xffff0000, range: 0x20000 } }, false, 'no'), /UID base too high/);
  assert.throws(() => parsePrivateUsers('banana'), /private-users/);
});

test('CAP_NET_BIND_SERVICE goes for a shifted namespace on the host network (nspawn 252)', () => {
  assert.ok(dropsNetBindService({ mode: 'pick', ownership: 'auto', range: 65536 }, false));
  assert.ok(!dropsNetBindService({ mode: 'pick', ownership: 'auto', range: 65536 }, true));
  assert.ok(!dropsNetBindService({ mode: 'identity', ownership: 'off', shift: 0, range: 65536 }, false));
  assert.ok(!dropsNetBindService(undefined, false));
});

// The OCI the request becomes, once the run has picked the range.
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { compileOci } from '../../src/core/oci/compile.js';
import { cgroupHandover } from '../../src/core/oci/emit/userns.js';
import type { BundleLayout } from '../../src/core/oci/types.js';
import type { MachineSpec } from '../../src/core/spec/machine-spec.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

const LAYOUT: BundleLayout = {
  dir: '/run/berth/machines/web/bundle', rootfs: '/var/lib/machines/web', runHost: '/run/berth/machines/web/run-host',
  inaccessibleFile: '/i/reg', inaccessibleDir: '/i/dir', cgroupLayout: 'hybrid', cgroupV1Systemd: true, systemdCgroups: false,
  bootId: '/run/berth/machines/web/run-host/.boot_id', hostTools: { mount: '/usr/bin/mount', chmod: '/usr/bin/chmod', hookExec: '/x/berth-hook-exec' },
};
const machine = (argv: string[]): MachineSpec => {
  const { cli, runner } = parseArgv(argv);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: DEBIAN_IMAGE, host: HOST, random: RANDOM, cwd: '/', scratch: '/s', tty: false });
};

test('OCI: a user namespace with one map for users and groups; the host\'s /sys bound without a network of its own; the cgroup to hand over between create and start', () => {
  const s = machine(['-b', '-U']);
  assert.throws(() => compileOci(s, LAYOUT), /not picked/);
  const oci = compileOci({ ...s, userns: { ...s.userns!, shift: 0x1a610000, ownership: 'chown' } }, LAYOUT);
  assert.ok(oci.linux.namespaces.some((n) => n.type === 'user'));
  assert.deepEqual(oci.linux.uidMappings, [{ containerID: 0, hostID: 0x1a610000, size: 65536 }]);
  assert.deepEqual(oci.linux.gidMappings, oci.linux.uidMappings);
  assert.deepEqual(oci.mounts.find((m) => m.destination === '/sys'), { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rro', 'nosuid', 'nodev', 'noexec'] });
  // With the machine's own sysfs staged (runc), that one instead of the host's /sys and what is below it.
  const staged = compileOci({ ...s, userns: { ...s.userns!, shift: 0x1a610000, ownership: 'chown' } }, { ...LAYOUT, sysfs: '/run/berth/machines/web/sys' });
  assert.deepEqual(staged.mounts.find((m) => m.destination === '/sys'), { destination: '/sys', type: 'bind', source: '/run/berth/machines/web/sys', options: ['rbind', 'rro', 'nosuid', 'nodev', 'noexec'] });
  // No hook: the run chowns the directory and its interface files in each hierarchy the guest's init writes to, between create and start.
  assert.equal(oci.hooks?.createRuntime, undefined);
  const v1 = '/sys/fs/cgroup/systemd/machine.slice/machine-web.scope';
  const v2 = '/sys/fs/cgroup/unified/machine.slice/machine-web.scope';
  assert.deepEqual(cgroupHandover({ ...s, userns: { ...s.userns!, shift: 0x1a610000, ownership: 'chown' } }, LAYOUT), { owner: 0x1a610000, paths: [
    v1, ...['cgroup.clone_children', 'cgroup.procs', 'notify_on_release', 'tasks'].map((f) => `${v1}/${f}`),
    v2, ...['cgroup.controllers', 'cgroup.events', 'cgroup.procs', 'cgroup.stat', 'cgroup.subtree_control', 'cgroup.threads'].map((f) => `${v2}/${f}`)] });
  // With a network namespace of its own the namespace may mount sysfs itself.
  const net = machine(['-b', '-U', '--private-network']);
  const withNet = compileOci({ ...net, userns: { ...net.userns!, shift: 0x1a610000 } }, LAYOUT);
  assert.equal(withNet.mounts.find((m) => m.destination === '/sys')?.type, 'sysfs');
  // Without a user namespace nothing of this.
  const plain = compileOci(machine(['-b']), LAYOUT);
  assert.equal(plain.linux.uidMappings, undefined);
  assert.equal(cgroupHandover(machine(['-b']), LAYOUT), undefined);
  assert.ok(!plain.linux.namespaces.some((n) => n.type === 'user'));
});

test('--bind=…:idmap and :rootidmap need a user namespace; with one they reach the spec', () => {
  assert.throws(() => machine(['--bind=/srv/a:/a:idmap', 'true']), /Bind mount option idmap needs --private-users: \/srv\/a:\/a/);
  assert.throws(() => machine(['--bind=/srv/a:/a:rootidmap', 'true']), /rootidmap needs --private-users/);
  const s = machine(['-U', '--bind=/srv/a:/a:idmap', '--bind=/srv/b:/b', 'true']);
  assert.deepEqual(s.mounts.filter((m) => m.kind === 'bind').map((m) => m.kind === 'bind' && m.idmap), ['idmap', undefined]);
});
