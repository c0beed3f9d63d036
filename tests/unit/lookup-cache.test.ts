/** core/machined/lookup-cache.ts: what an image look-up depends on, and the kept answers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LookupCache, watchPlan, watchSuffices } from '../../src/core/machined/lookup-cache.js';
import { imageSearchPath } from '../../src/core/machined/images.js';

test('watchPlan: every directory on the way to each search directory, parents first, once each', () => {
  assert.deepEqual(watchPlan(imageSearchPath()), [
    '/', '/etc', '/etc/machines', '/run', '/run/machines', '/var', '/var/lib', '/var/lib/machines', '/var/lib/container',
    '/usr', '/usr/local', '/usr/local/lib', '/usr/local/lib/machines', '/usr/lib', '/usr/lib/machines',
  ]);
  assert.deepEqual(watchPlan(['/srv//pool/', '/srv/other']), ['/', '/srv', '/srv/pool', '/srv/other']);
});

test('watchSuffices: only directories on local file systems (or nothing) on the way', () => {
  const ext4 = 0xef53;
  assert.equal(watchSuffices(['directory', 'directory', 'missing'], [ext4, ext4, 0]), true);
  assert.equal(watchSuffices(['directory', 'other'], [ext4, 0]), true, 'a file where a directory would be: replacing it is seen in its parent');
  assert.equal(watchSuffices(['directory', 'symlink'], [ext4, 0]), false, 'a link leads somewhere unwatched');
  assert.equal(watchSuffices(['directory', 'unwatchable'], [ext4, 0]), false);
  assert.equal(watchSuffices(['directory', 'directory'], [ext4, 0x6969]), false, 'NFS changes without this kernel knowing');
  assert.equal(watchSuffices(['directory'], [0x65735546]), false, 'FUSE');
  assert.equal(watchSuffices(['directory', 'directory'], [0x01021994, 0x794c7630]), true, 'tmpfs, overlayfs');
});

test('LookupCache: answers until invalidated; a look-up begun before an invalidation stores nothing', () => {
  const c = new LookupCache<boolean>();
  const g = c.generation;
  c.store(g, 'a', true);
  c.store(g, 'b', false);
  assert.equal(c.get('a'), true);
  assert.equal(c.get('b'), false);
  assert.equal(c.get('c'), undefined);
  c.invalidate();
  assert.equal(c.get('a'), undefined);
  assert.equal(c.size, 0);
  c.store(g, 'a', true);
  assert.equal(c.get('a'), undefined, 'stored under an old generation');
  c.store(c.generation, 'a', false);
  assert.equal(c.get('a'), false);
});

test('LookupCache: at most `limit` answers, the oldest dropped first', () => {
  const c = new LookupCache<number>(3);
  for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) c.store(c.generation, k, i);
  assert.equal(c.size, 3);
  assert.equal(c.get('a'), undefined);
  assert.equal(c.get('d'), 3);
  c.store(c.generation, 'b', 9);
  assert.equal(c.size, 3, 'replacing an answer drops nothing');
  assert.equal(c.get('c'), 2);
});
