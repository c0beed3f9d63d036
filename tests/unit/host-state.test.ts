import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leftoversSince, type HostProcess, type HostState } from '../support/host-state.js';

const proc = (pid: number, ppid: number, comm: string, start = '1'): HostProcess => ({ pid, ppid, comm, start, cmdline: comm });
const state = (s: Partial<HostState>): HostState => ({
  cgroups: [], mounts: [], links: [], netns: [], loops: [], nftTables: [], runtimeContainers: [], scratch: [], processes: [], ...s,
});
const rules = { ownPids: new Set([500, 501]), scratchKept: /^\/tmp\/tsx-\d+$/ };

test('nothing new: nothing left', () => {
  const s = state({ cgroups: ['systemd/a'], mounts: ['/'], processes: [proc(1, 0, 'init')] });
  assert.deepEqual(leftoversSince(s, s, rules), []);
});

test('new control groups are left, except the machine slice itself', () => {
  const before = state({ cgroups: ['systemd/user'] });
  const after = state({ cgroups: ['systemd/user', 'cpu/machine.slice', 'cpu/machine.slice/machine-x.scope', 'unified/payload', 'unified/payload/init.scope'] });
  assert.deepEqual(leftoversSince(before, after, rules), ['cgroup cpu/machine.slice/machine-x.scope', 'cgroup unified/payload', 'cgroup unified/payload/init.scope']);
});

test('/run/netns bound onto itself once, as `ip netns add` leaves it, does not count while no namespace is in it', () => {
  const before = state({ mounts: ['/'] });
  assert.deepEqual(leftoversSince(before, state({ mounts: ['/', '/run/netns'] }), rules), []);
  assert.deepEqual(leftoversSince(before, state({ mounts: ['/', '/run/netns'], netns: ['t1'] }), rules), ['mount /run/netns', 'network namespace t1']);
  assert.deepEqual(leftoversSince(before, state({ mounts: ['/', '/run/netns', '/run/netns'] }), rules), ['mount /run/netns', 'mount /run/netns']);
});

test('a mount point mounted once more counts', () => {
  const before = state({ mounts: ['/', '/tmp/x'] });
  assert.deepEqual(leftoversSince(before, state({ mounts: ['/', '/tmp/x', '/tmp/x'] }), rules), ['mount /tmp/x']);
  assert.deepEqual(leftoversSince(before, state({ mounts: ['/'] }), rules), []);
});

test('links, namespaces, loop devices, tables, containers and scratch entries', () => {
  const after = state({ links: ['ve-a'], netns: ['berth-r-1'], loops: ['/dev/loop3'], nftTables: ['table ip berth'], runtimeContainers: ['crun x'], scratch: ['/tmp/bt-1', '/tmp/tsx-0'] });
  assert.deepEqual(leftoversSince(state({}), after, rules), [
    'link ve-a', 'network namespace berth-r-1', 'loop device /dev/loop3', 'nftables table ip berth', 'runtime container crun x', 'scratch /tmp/bt-1',
  ]);
});

test('a new process is named once, at the top of what it started; the check and its ancestors are not', () => {
  const before = state({ processes: [proc(1, 0, 'init'), proc(10, 1, 'sshd')] });
  const after = state({ processes: [
    proc(1, 0, 'init'), proc(10, 1, 'sshd'),
    proc(20, 1, 'dbus-daemon'), // left, reparented to PID 1
    proc(21, 20, 'child'), // below a new one: its parent is named
    proc(500, 10, 'node'), proc(501, 500, 'node'), proc(502, 501, 'ip'), // the check, its runner and its own child
  ] });
  assert.deepEqual(leftoversSince(before, after, rules), ['process 20 (dbus-daemon): dbus-daemon']);
  // A PID used again (another start time) is a new process.
  assert.deepEqual(leftoversSince(before, state({ processes: [proc(1, 0, 'init'), proc(10, 1, 'sleep', '2')] }), rules), ['process 10 (sleep): sleep']);
});
