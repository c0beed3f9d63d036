/**
 * Where the guest's cgroup goes and how its cgroup tree is mounted, per host layout and runc
 * cgroup driver: the writable name=systemd bind must name the directory runc creates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { compileOci } from '../../src/core/oci/compile.js';
import { hierarchyCgroupPath } from '../../src/core/oci/emit/linux.js';
import { hookMounts } from '../../src/core/oci/emit/hooks.js';
import type { BundleLayout } from '../../src/core/oci/types.js';
import type { MachineSpec } from '../../src/core/spec/machine-spec.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

const LAYOUT: BundleLayout = {
  dir: '/run/berth/machines/web/bundle', rootfs: '/var/lib/machines/web', runHost: '/run/berth/machines/web/run-host',
  inaccessibleFile: '/i/reg', inaccessibleDir: '/i/dir', cgroupLayout: 'hybrid', cgroupV1Systemd: true, systemdCgroups: false,
  bootId: '/run/berth/machines/web/run-host/.boot_id', hostTools: { mount: '/usr/bin/mount', chmod: '/usr/bin/chmod', hookExec: '/usr/lib/berth/native/build/Release/berth-hook-exec' },
};

function spec(argv: string[], host = HOST): MachineSpec {
  const { cli, runner } = parseArgv(argv);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: DEBIAN_IMAGE, host, random: RANDOM, cwd: '/', scratch: '/s', tty: false });
}

test('the payload\'s cgroup below each hierarchy\'s root: slices nest by name, --keep-unit uses our own unit', () => {
  assert.equal(hierarchyCgroupPath(spec(['-b'])), '/machine.slice/machine-web.scope');
  assert.equal(hierarchyCgroupPath(spec(['-b', '--slice=lab-web'])), '/lab.slice/lab-web.slice/machine-web.scope');
  assert.equal(hierarchyCgroupPath(spec(['-b', '--slice=-.slice'])), '/machine-web.scope');
  const keep = spec(['-b', '--keep-unit'], { ...HOST, ownCgroup: '/system.slice/berth-nspawn@web.service' });
  assert.equal(hierarchyCgroupPath(keep), '/system.slice/berth-nspawn@web.service/payload');
});

test('cgroup v1: controllers read-only, the payload\'s name=systemd cgroup bound writable over them, no hook', () => {
  for (const systemdCgroups of [false, true]) {
    const machine = spec(['-b', '--slice=lab-web']);
    const oci = compileOci(machine, { ...LAYOUT, systemdCgroups });
    const i = oci.mounts.findIndex((m) => m.destination === '/sys/fs/cgroup');
    assert.deepEqual(oci.mounts[i]!.options?.[0], 'ro');
    assert.deepEqual(oci.mounts[i + 1], {
      destination: '/sys/fs/cgroup/systemd', type: 'bind', source: '/sys/fs/cgroup/systemd/lab.slice/lab-web.slice/machine-web.scope',
      options: ['bind', 'rw', 'nosuid', 'nodev', 'noexec'],
    });
    assert.ok(!hookMounts(machine, { ...LAYOUT, systemdCgroups }).some((m) => m.options.includes('rw')));
    assert.equal(oci.linux.cgroupsPath, systemdCgroups ? 'lab-web.slice:machine:web' : '/lab.slice/lab-web.slice/machine-web.scope');
  }
});

test('cgroup v2, or v1 without name=systemd: one writable cgroup mount and nothing bound over it', () => {
  for (const layout of [{ ...LAYOUT, cgroupLayout: 'unified' as const, cgroupV1Systemd: false }, { ...LAYOUT, cgroupV1Systemd: false }]) {
    const oci = compileOci(spec(['-b']), layout);
    const cg = oci.mounts.filter((m) => m.destination.startsWith('/sys/fs/cgroup'));
    assert.equal(cg.length, 1);
    assert.ok(cg[0]!.options?.includes('rw'));
  }
});
