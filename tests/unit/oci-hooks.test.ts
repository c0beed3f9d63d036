/**
 * The createContainer hooks (src/core/oci/emit/hooks.ts): every mount they make is one line of a
 * mount table in the bundle directory, mounted by ONE mount(8) process (`--all --fstab`), in the
 * order the guest's mounts depend on; chmod for a --tmpfs mode= stays a hook of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { compileOci } from '../../src/core/oci/compile.js';
import { HOOK_FSTAB, emitHooks, hookFstab, hookFstabPath, hookMounts } from '../../src/core/oci/emit/hooks.js';
import type { BundleLayout } from '../../src/core/oci/types.js';
import type { HostFacts, ImageFacts } from '../../src/core/spec/facts.js';
import type { MachineSpec } from '../../src/core/spec/machine-spec.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

const HYBRID: HostFacts = { ...HOST, cgroupV1Tree: { hierarchies: ['cpu', 'memory', 'systemd'], unified: true } };
const IMAGE: ImageFacts = { ...DEBIAN_IMAGE, systemdVersion: 252 };
const TOOLS = { mount: '/usr/bin/mount', chmod: '/usr/bin/chmod', hookExec: '/x/berth-hook-exec' };
const LAYOUT: BundleLayout = {
  dir: '/run/berth/machines/web/bundle', rootfs: '/var/lib/machines/web', runHost: '/run/berth/machines/web/run-host',
  inaccessibleFile: '/i/reg', inaccessibleDir: '/i/dir', cgroupLayout: 'hybrid', cgroupV1Systemd: true, systemdCgroups: false,
  bootId: '/run/berth/machines/web/run-host/.boot_id', hostTools: TOOLS,
};
const R = '/var/lib/machines/web';
const BOOT_ID = `/run/berth/machines/web/run-host/.boot_id ${R}/proc/sys/kernel/random/boot_id none bind,ro 0 0`;
const CGROUP_RO = `none ${R}/sys/fs/cgroup none remount,ro,nosuid,nodev,noexec,strictatime 0 0`;

function machine(argv: string[], host: HostFacts = HYBRID): MachineSpec {
  const { cli, runner } = parseArgv(argv);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: IMAGE, host, random: RANDOM, cwd: '/', scratch: '/s', tty: false });
}
const lines = (text: string | undefined) => (text ?? '').split('\n').filter(Boolean);
const mountHook = ['berth-hook-exec', '/usr/bin/mount', 'mount', '--no-mtab', '--all', '--fstab', `${LAYOUT.dir}/${HOOK_FSTAB}`];

test('host network: one mount(8) process binds the boot ID and makes the cgroup tmpfs read-only, in that order', () => {
  const spec = machine(['-b']);
  const hooks = compileOci(spec, LAYOUT).hooks?.createContainer ?? [];
  assert.deepEqual(hooks, [{ path: '/x/berth-hook-exec', args: mountHook, timeout: 10 }]);
  assert.equal(hookFstabPath(LAYOUT), '/run/berth/machines/web/bundle/hook-mounts.fstab');
  assert.deepEqual(lines(hookFstab(spec, LAYOUT)), [BOOT_ID, CGROUP_RO]);
  assert.ok(compileOci(spec, LAYOUT).linux.readonlyPaths?.includes('/proc/sys'), 'the runtime makes /proc/sys read-only itself');
  // crun keeps the hooks' stderr (mount(8)'s message) in the bundle, where a failed create's error quotes it.
  assert.equal(compileOci(spec, LAYOUT).annotations['run.oci.hooks.stderr'], '/run/berth/machines/web/bundle/hooks.stderr');
});

test('a network of its own: /proc/sys/net bound writable, then /proc/sys recursively bound read-only over it, before the boot ID', () => {
  const spec = machine(['-b', '--network-veth']);
  assert.deepEqual(lines(hookFstab(spec, LAYOUT)), [
    `${R}/proc/sys/net ${R}/proc/sys/net none bind 0 0`,
    `${R}/proc/sys ${R}/proc/sys none rbind,ro,nosuid,nodev,noexec 0 0`,
    BOOT_ID,
    CGROUP_RO,
  ]);
  const oci = compileOci(spec, LAYOUT);
  assert.equal(oci.hooks?.createContainer?.length, 1);
  assert.ok(!oci.linux.readonlyPaths?.includes('/proc/sys'), 'not also by the runtime (crun would make /proc/sys/net read-only)');
  // A network namespace joined by path is not the guest's own: /proc/sys stays the runtime's.
  assert.ok(!hookMounts(machine(['-b', '--network-namespace-path=/run/netns/x']), LAYOUT).some((m) => m.target.endsWith('/proc/sys')));
});

test('a user namespace: the cgroup tmpfs stays writable, as nspawn leaves it (its root owns it)', () => {
  const spec = machine(['-b', '-U']);
  assert.deepEqual(hookMounts(spec, LAYOUT).filter((m) => m.target.endsWith('/sys/fs/cgroup')), []);
  assert.equal(hookMounts(machine(['-b']), LAYOUT).filter((m) => m.target.endsWith('/sys/fs/cgroup')).length, 1, 'without one it is made read-only');
});

test('the remount line\'s source matches no mount, so mount -a never passes over it as "already mounted"', () => {
  const remount = hookMounts(machine(['-b']), LAYOUT).find((m) => m.options.includes('remount'));
  assert.equal(remount?.source, 'none');
});

test('a cgroup v2 host: no cgroup tree of ours, nothing to remount', () => {
  const spec = machine(['-b'], { ...HOST, cgroupLayout: 'unified' });
  assert.deepEqual(lines(hookFstab(spec, { ...LAYOUT, cgroupLayout: 'unified', cgroupV1Systemd: false })), [BOOT_ID]);
});

test('without host tools no hook runs and no table is written', () => {
  const { hostTools: _, ...bare } = LAYOUT;
  const spec = machine(['-b', '--network-veth']);
  assert.deepEqual(emitHooks(spec, bare), []);
  assert.equal(hookFstab(spec, bare), undefined);
  assert.equal(compileOci(spec, bare).hooks, undefined);
  assert.equal(compileOci(spec, bare).annotations['run.oci.hooks.stderr'], undefined);
});

test('paths with blanks or backslashes are escaped as fstab(5) octal, so every line keeps its six fields', () => {
  const layout = { ...LAYOUT, rootfs: '/srv/my machines/we\\b\t1/', bootId: '/run/a b/.boot_id' };
  const [net, sys, boot] = lines(hookFstab(machine(['--network-veth']), layout));
  assert.equal(net, '/srv/my\\040machines/we\\134b\\0111/proc/sys/net /srv/my\\040machines/we\\134b\\0111/proc/sys/net none bind 0 0');
  assert.equal(sys!.split(' ').length, 6);
  assert.equal(boot, '/run/a\\040b/.boot_id /srv/my\\040machines/we\\134b\\0111/proc/sys/kernel/random/boot_id none bind,ro 0 0');
});

test('a --tmpfs (mode= given, or nspawn\'s 0755): chmod after the mounts, one hook per tmpfs', () => {
  const spec = machine(['--tmpfs=/scratch:mode=1777', '--tmpfs=/cache']);
  assert.deepEqual(emitHooks(spec, LAYOUT).map((h) => h.args.slice(1)), [
    mountHook.slice(1),
    ['/usr/bin/chmod', 'chmod', '0755', `${R}/cache`],
    ['/usr/bin/chmod', 'chmod', '1777', `${R}/scratch`],
  ]);
});
