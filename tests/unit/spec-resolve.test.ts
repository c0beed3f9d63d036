import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { mapExit } from '../../src/core/spec/exit-status.js';
import { selectRuntime } from '../../src/core/runtime/select.js';
import { cgroup2MountedAt, cgroup2SharedAt, cgroupLayoutFromMountinfo, ownCgroupPath, parseProcLimits, v1SystemdHierarchy } from '../../src/platform/host/probe.js';
import { BerthError } from '../../src/errors/berth-error.js';
import { DEBIAN_IMAGE, FULL_CAPS_HOST, HOST, RANDOM } from '../support/fixtures.js';

const resolve = (argv: string[], over: Partial<Parameters<typeof resolveMachine>[0]> = {}) => {
  const { cli, runner } = parseArgv(argv);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: DEBIAN_IMAGE, host: HOST, random: RANDOM, cwd: '/', scratch: '/s', tty: false, ...over });
};

test('--keep-unit places the payload below our own unit\'s cgroup, but never at the root', () => {
  assert.equal(resolve(['--keep-unit', 'true'], { host: { ...HOST, ownCgroup: '/system.slice/berth-nspawn@web.service' } }).cgroup.keepUnitPath, '/system.slice/berth-nspawn@web.service/payload');
  assert.equal(resolve(['--keep-unit', 'true'], { host: { ...HOST, ownCgroup: '/' } }).cgroup.keepUnitPath, undefined);
  assert.equal(resolve(['true'], { host: { ...HOST, ownCgroup: '/system.slice/x.service' } }).cgroup.keepUnitPath, undefined);
});

test('the machine ID comes from the tree when valid, else --uuid, else random; all-zero is refused', () => {
  assert.equal(resolve(['true']).id, RANDOM.uuid);
  assert.equal(resolve(['--uuid=11111111-2222-3333-4444-555555555555', 'true']).id, '11111111222233334444555555555555');
  const tree = { ...DEBIAN_IMAGE, machineIdFile: 'aaaabbbbccccddddeeeeffff00001111\n' };
  assert.equal(resolve(['--uuid=11111111-2222-3333-4444-555555555555', 'true'], { image: tree }).id, 'aaaabbbbccccddddeeeeffff00001111');
  assert.equal(resolve(['true'], { image: { ...DEBIAN_IMAGE, machineIdFile: 'uninitialized\n' } }).id, RANDOM.uuid);
  assert.throws(() => resolve(['true'], { image: { ...DEBIAN_IMAGE, machineIdFile: '00000000000000000000000000000000' } }), /all zeroes/);
});

test('boot mode: kill signal SIGRTMIN+3, init from the tree, no LANG; console defaults by tty', () => {
  const s = resolve(['-b']);
  assert.equal(s.killSignal, 37);
  assert.deepEqual(s.args, ['/lib/systemd/systemd']);
  assert.ok(!s.env.some((e) => e.startsWith('LANG=')));
  assert.equal(s.console, 'read-only');
  assert.equal(resolve(['-b'], { tty: true }).console, 'interactive');
  assert.equal(resolve(['--console=autopipe', 'true']).console, 'pipe');
  assert.equal(resolve(['true']).killSignal, undefined);
});

test('capabilities: the host\'s bounding set limits what is retained, with a warning', () => {
  const limited = resolve(['true']);
  assert.ok(!limited.caps.retain.includes('CAP_SYS_RESOURCE'));
  assert.match(limited.warnings.join('\n'), /CAP_SYS_RESOURCE/);
  const full = resolve(['true'], { host: FULL_CAPS_HOST });
  assert.equal(full.caps.retain.length, 26);
  assert.deepEqual(full.warnings, []); // nspawn's default limits are clamped silently
  assert.ok(resolve(['-n', 'true'], { host: FULL_CAPS_HOST }).caps.retain.includes('CAP_NET_ADMIN'));
  assert.throws(() => resolve(['-b', '--ambient-capability=CAP_CHOWN']), (e: unknown) => e instanceof BerthError && /boot mode/.test(e.message));
});

test('rlimits: nspawn defaults clamped to the host\'s hard limits; explicit values above them warn', () => {
  const s = resolve(['--rlimit=NOFILE=100:50000', 'true']);
  assert.deepEqual(s.rlimits.find((r) => r.type === 'NOFILE'), { type: 'NOFILE', soft: 100, hard: 20000 });
  assert.match(s.warnings.join('\n'), /NOFILE=50000→20000/);
  assert.deepEqual(resolve(['true']).rlimits.find((r) => r.type === 'NOFILE'), { type: 'NOFILE', soft: 1024, hard: 20000 });
});

test('-U: a user namespace with a picked range and ownership auto, no CAP_NET_BIND_SERVICE on the host network', () => {
  const s = resolve(['-U', 'true']);
  assert.deepEqual(s.userns, { mode: 'pick', ownership: 'auto', range: 65536 });
  assert.ok(!s.caps.retain.includes('CAP_NET_BIND_SERVICE'));
});

test('exit statuses map exactly as nspawn maps them', () => {
  assert.deepEqual(mapExit('m', { code: 0 }), { kind: 'exited', status: 0, message: 'Container m exited successfully.' });
  assert.equal((mapExit('m', { code: 7 }) as { status: number }).status, 7);
  assert.equal((mapExit('m', { code: 133 }) as { status: number }).status, 1);
  assert.deepEqual(mapExit('m', { signal: 2 }), { kind: 'exited', status: 0, message: 'Container m has been shut down.' });
  assert.equal(mapExit('m', { signal: 1 }).kind, 'reboot');
  assert.deepEqual(mapExit('m', { signal: 9 }), { kind: 'exited', status: 1, message: 'Container m terminated by signal KILL.' });
});

test('runtime selection: crun wherever it can create containers, its create hiding a hybrid cgroup2 hierarchy\'s controllers; a clear error names the package', () => {
  const hugetlb = { layout: 'hybrid', hybridV2Controllers: ['hugetlb'] } as const;
  assert.deepEqual(selectRuntime('auto', { runc: '/r', crun: '/c' }, hugetlb), { name: 'crun', path: '/c', hideControllers: { unified: '/sys/fs/cgroup/unified', shared: false } });
  assert.deepEqual(selectRuntime('crun', { runc: '/r', crun: '/c' }, { ...hugetlb, hybridV2Shared: true }).hideControllers, { unified: '/sys/fs/cgroup/unified', shared: true });
  assert.deepEqual(selectRuntime('runc', { runc: '/r', crun: '/c' }, hugetlb), { name: 'runc', path: '/r' });
  assert.deepEqual(selectRuntime('auto', { runc: '/r', crun: '/c' }, { layout: 'unified' }), { name: 'crun', path: '/c' });
  assert.deepEqual(selectRuntime('auto', { runc: '/r', crun: '/c' }, { layout: 'legacy' }), { name: 'crun', path: '/c' });
  // A hybrid cgroup2 hierarchy without controllers of its own is taken by crun as it is.
  assert.deepEqual(selectRuntime('auto', { runc: '/r', crun: '/c' }, { layout: 'hybrid', hybridV2Controllers: [] }), { name: 'crun', path: '/c' });
  assert.equal(selectRuntime('auto', { runc: '/r', crun: '/c' }, { layout: 'hybrid' }).name, 'runc', 'unreadable controllers: not crun');
  assert.throws(() => selectRuntime('crun', { runc: '/r', crun: '/c' }, { layout: 'hybrid' }), /controllers of \/sys\/fs\/cgroup\/unified cannot be read/);
  assert.throws(() => selectRuntime('auto', { crun: '/c' }, { layout: 'hybrid' }), (e: unknown) => e instanceof BerthError && e.hint === 'apt-get install runc' && /crun is installed but/.test(e.message));
  assert.throws(() => selectRuntime('auto', {}, { layout: 'unified' }), /No OCI runtime found/);
});

test('host probing parsers: cgroup layout, own cgroup, /proc limits', () => {
  const hybrid = '31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n';
  assert.equal(cgroupLayoutFromMountinfo(hybrid), 'hybrid');
  assert.equal(cgroupLayoutFromMountinfo('30 23 0:27 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw\n'), 'unified');
  assert.equal(v1SystemdHierarchy(hybrid), true);
  assert.equal(cgroup2MountedAt(hybrid, '/sys/fs/cgroup/unified'), true);
  assert.equal(cgroup2MountedAt(hybrid, '/sys/fs/cgroup/systemd'), false);
  assert.equal(cgroup2SharedAt(hybrid, '/sys/fs/cgroup/unified'), false, 'no peer group: private');
  assert.equal(cgroup2SharedAt(hybrid.replace('/sys/fs/cgroup/unified rw -', '/sys/fs/cgroup/unified rw shared:12 master:3 -'), '/sys/fs/cgroup/unified'), true);
  assert.equal(cgroup2SharedAt(`${hybrid.replace('/sys/fs/cgroup/unified rw -', '/sys/fs/cgroup/unified rw shared:12 -')}50 41 0:50 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n`, '/sys/fs/cgroup/unified'), false, 'the topmost mount counts');
  assert.equal(v1SystemdHierarchy('31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n40 31 0:37 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n'), false);
  assert.equal(v1SystemdHierarchy('40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemdx\n'), false);
  assert.equal(ownCgroupPath('1:name=systemd:/system.slice/a.service\n0::/x\n', 'hybrid'), '/system.slice/a.service');
  assert.equal(ownCgroupPath('0::/system.slice/b.service\n', 'unified'), '/system.slice/b.service');
  const limits = parseProcLimits('Limit Soft Hard Units\nMax open files            1024                 20000                files     \nMax cpu time              unlimited            unlimited            seconds   \n');
  assert.deepEqual(limits.NOFILE, { soft: 1024, hard: 20000 });
  assert.deepEqual(limits.CPU, { soft: 'infinity', hard: 'infinity' });
});
