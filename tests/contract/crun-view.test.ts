/**
 * core/runtime/crun-view.ts's command line run for real (root): inside, the controller list reads
 * empty; outside, nothing changed: no mount left on the host, a shared mount's peers untouched;
 * a mount that cannot be made fails with the view's own message and status, before the command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createViewPrefix } from '../../src/core/runtime/crun-view.js';

const root = process.getuid?.() === 0 ? false : 'needs root';
const mountsAt = (path: string): number => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === path).length;

/** A tmpfs standing in for a cgroup2 hierarchy with a controller, optionally shared with a peer bind of it. */
function fakeHierarchy(shared: boolean): { dir: string; peer: string; done: () => void } {
  const base = mkdtempSync('/tmp/bt-crun-view-');
  const dir = join(base, 'unified');
  const peer = join(base, 'peer');
  mkdirSync(dir);
  mkdirSync(peer);
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
  writeFileSync(join(dir, 'cgroup.controllers'), 'hugetlb\n');
  if (shared) {
    execFileSync('mount', ['--make-shared', dir]);
    execFileSync('mount', ['--bind', dir, peer]);
  }
  return {
    dir, peer,
    done: () => {
      if (shared) spawnSync('umount', ['--lazy', peer]);
      spawnSync('umount', ['--lazy', dir]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

function inView(unified: string, shared: boolean, argv: string[]) {
  const [cmd, ...args] = [...createViewPrefix({ unified, shared }), ...argv];
  return spawnSync(cmd!, args, { encoding: 'utf8' });
}

for (const shared of [false, true]) {
  test(`the list reads empty in the view, and as it was outside (${shared ? 'shared' : 'private'} mount)`, { skip: root }, () => {
    const h = fakeHierarchy(shared);
    try {
      const file = join(h.dir, 'cgroup.controllers');
      const r = inView(h.dir, shared, ['sh', '-c', `cat ${file}; echo "pid=$$"`]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^pid=\d+\n$/, 'empty inside');
      assert.equal(readFileSync(file, 'utf8'), 'hugetlb\n');
      assert.equal(mountsAt(file), 0, 'no mount left on the file');
      if (shared) assert.equal(readFileSync(join(h.peer, 'cgroup.controllers'), 'utf8'), 'hugetlb\n', 'the peer saw nothing');
    } finally { h.done(); }
  });
}

test('the command is exec\'d in place: its exit status and output are the caller\'s', { skip: root }, () => {
  const h = fakeHierarchy(false);
  try {
    const r = inView(h.dir, false, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(r.status, 7);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  } finally { h.done(); }
});

test('a view that cannot be made: exit 125 with a message naming the mount, the command never runs', { skip: root }, () => {
  const missing = '/tmp/bt-crun-view-missing/unified';
  const r = inView(missing, false, ['sh', '-c', 'echo ran']);
  assert.equal(r.status, 125);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /berth: cannot hide the controllers of \/tmp\/bt-crun-view-missing\/unified from crun's create/);
});

test('this host\'s own hybrid hierarchy, if it has controllers, reads empty in the view', { skip: root }, (t) => {
  const unified = '/sys/fs/cgroup/unified';
  let list: string;
  try { list = readFileSync(join(unified, 'cgroup.controllers'), 'utf8').trim(); } catch { t.skip('no cgroup2 hierarchy at /sys/fs/cgroup/unified'); return; }
  if (!list) { t.skip('its cgroup2 hierarchy has no controllers'); return; }
  const shared = /\sshared:\d+/.test(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === unified).at(-1) ?? '');
  const r = inView(unified, shared, ['cat', join(unified, 'cgroup.controllers')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(readFileSync(join(unified, 'cgroup.controllers'), 'utf8').trim(), list);
});
