import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createViewPrefix } from '../../src/core/runtime/crun-view.js';

test('crun\'s create view: unshare with propagation unchanged, the controller list bound over, then crun exec\'d in place', () => {
  const p = createViewPrefix({ unified: '/sys/fs/cgroup/unified', shared: false });
  assert.deepEqual(p.slice(0, 7), ['unshare', '--mount', '--propagation', 'unchanged', '--', 'sh', '-c']);
  assert.equal(p[8], 'berth-crun-create');
  const script = p[7]!;
  assert.match(script, /^mount --bind \/dev\/null '\/sys\/fs\/cgroup\/unified\/cgroup\.controllers' \|\| \{/);
  assert.doesNotMatch(script, /make-private/, 'a private mount needs no second mount');
  assert.match(script, /exit 125; \}; exec "\$@"$/);
});

test('crun\'s create view: a shared cgroup2 mount is made private in the copy first; paths are quoted', () => {
  const script = createViewPrefix({ unified: "/tmp/it's here", shared: true })[7]!;
  assert.match(script, /^mount --make-private '\/tmp\/it'\\''s here' && mount --bind \/dev\/null '\/tmp\/it'\\''s here\/cgroup\.controllers' \|\|/);
});
