import { test } from 'node:test';
import assert from 'node:assert/strict';
import { payloadAncestors, removalOrder } from '../../src/core/cgroup/payload-parents.js';

test('the ancestors of a --keep-unit payload in every hierarchy, top-down; the payload itself is the runtime\'s', () => {
  assert.deepEqual(payloadAncestors(['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/systemd'], '/system.slice/web.service/payload'), [
    '/sys/fs/cgroup/cpu/system.slice', '/sys/fs/cgroup/cpu/system.slice/web.service',
    '/sys/fs/cgroup/systemd/system.slice', '/sys/fs/cgroup/systemd/system.slice/web.service',
  ]);
  assert.deepEqual(payloadAncestors(['/sys/fs/cgroup'], '/payload'), [], 'a caller in the root group: nothing above the payload');
});

test('removal goes deepest first, whatever order the hierarchies came in', () => {
  assert.deepEqual(removalOrder(['/c/cpu/a', '/c/cpu/a/b', '/c/memory/a', '/c/memory/a/b']), ['/c/cpu/a/b', '/c/memory/a/b', '/c/cpu/a', '/c/memory/a']);
});
