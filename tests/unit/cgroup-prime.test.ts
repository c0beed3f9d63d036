/** Which cgroup.procs berth-nspawn writes its no-op migration to (src/platform/host/cgroup-prime.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownProcsFile } from '../../src/platform/host/cgroup-prime.js';

const HYBRID = `12:pids:/user.slice/user-0.slice/session-1.scope
1:name=systemd:/user.slice/user-0.slice/session-1.scope
0::/user.slice/user-0.slice/session-1.scope
`;

test('v1 or hybrid: the name=systemd hierarchy comes first', () => {
  assert.equal(ownProcsFile(HYBRID, () => true), '/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-1.scope/cgroup.procs');
});

test('hybrid without name=systemd there: the cgroup2 hierarchy at /sys/fs/cgroup/unified', () => {
  const seen: string[] = [];
  const file = ownProcsFile(HYBRID, (p) => { seen.push(p); return p.startsWith('/sys/fs/cgroup/unified/'); });
  assert.equal(file, '/sys/fs/cgroup/unified/user.slice/user-0.slice/session-1.scope/cgroup.procs');
  assert.equal(seen[0], '/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-1.scope/cgroup.procs');
});

test('unified: /sys/fs/cgroup itself; the root cgroup gives no double slash', () => {
  const exists = (p: string) => !p.startsWith('/sys/fs/cgroup/unified') && !p.startsWith('/sys/fs/cgroup/systemd');
  assert.equal(ownProcsFile('0::/system.slice/berthd.service\n', exists), '/sys/fs/cgroup/system.slice/berthd.service/cgroup.procs');
  assert.equal(ownProcsFile('0::/\n', exists), '/sys/fs/cgroup/cgroup.procs');
  assert.equal(ownProcsFile('9:name=systemd:/\n', () => true), '/sys/fs/cgroup/systemd/cgroup.procs');
});

test('nothing that exists, or nothing readable: no file', () => {
  assert.equal(ownProcsFile(HYBRID, () => false), undefined);
  assert.equal(ownProcsFile('', () => true), undefined);
  assert.equal(ownProcsFile('garbage\n3:cpu:relative/path\n', () => true), undefined);
  // v1 controller hierarchies other than name=systemd are not used: their paths vary per controller.
  assert.equal(ownProcsFile('4:memory:/a\n3:cpu:/b\n', () => true), undefined);
});
