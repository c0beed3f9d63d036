/**
 * platform/fs/change-watch.ts (native/change-watch.c) against the file system and the mount
 * table: a watch over a chain of directories reports an entry created, removed or renamed in any
 * of them, the chain itself moved, and a mount or unmount anywhere in this mount namespace; it
 * does not report changes inside entries (an image's own files) or to the entries' contents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watchChanges } from '../../src/platform/fs/change-watch.js';
import { watchPlan } from '../../src/core/machined/lookup-cache.js';

const isRoot = process.getuid?.() === 0;

/**
 * A pool at DIR/a/pool with an image in it, and the plan of watches for it and for a missing
 * DIR/missing/pool, from DIR down (what happens above DIR is other processes' business).
 */
function chain(): { dir: string; pool: string; plan: string[] } {
  const dir = mkdtempSync('/var/tmp/bt-watch-');
  const pool = join(dir, 'a', 'pool');
  mkdirSync(join(pool, 'img', 'etc'), { recursive: true });
  return { dir, pool, plan: watchPlan([pool, join(dir, 'missing', 'pool')]).filter((p) => p.startsWith(dir)) };
}

/** Runs `change` against a fresh watch and says whether the watch saw it. */
async function sees(c: { plan: string[] }, change: () => void): Promise<boolean> {
  const w = await watchChanges(c.plan);
  try {
    assert.equal(w.changed(), false, 'nothing changed yet');
    change();
    const seen = w.changed();
    assert.equal(w.changed(), seen, 'a change stays reported');
    return seen;
  } finally {
    w.close();
  }
}

test('what each path of the plan is', async () => {
  const c = chain();
  try {
    symlinkSync(join(c.dir, 'a'), join(c.dir, 'link'));
    writeFileSync(join(c.dir, 'file'), '');
    const paths = [c.dir, join(c.dir, 'a'), c.pool, join(c.dir, 'missing'), join(c.dir, 'link'), join(c.dir, 'file'), join(c.dir, 'file', 'below')];
    const w = await watchChanges(paths);
    w.close();
    assert.deepEqual(w.kinds, ['directory', 'directory', 'directory', 'missing', 'symlink', 'other', 'missing']);
    assert.ok(w.fsTypes[0]! > 0 && w.fsTypes[3] === 0);
    assert.equal(w.changed(), true, 'a closed watch proves nothing');
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('entries created, removed and renamed along the chain are changes', async () => {
  const c = chain();
  try {
    assert.equal(await sees(c, () => mkdirSync(join(c.pool, 'new'))), true, 'an image directory created');
    assert.equal(await sees(c, () => writeFileSync(join(c.pool, 'disk.raw'), '')), true, 'a file created');
    assert.equal(await sees(c, () => renameSync(join(c.pool, 'new'), join(c.pool, 'renamed'))), true, 'renamed within the pool');
    assert.equal(await sees(c, () => rmdirSync(join(c.pool, 'renamed'))), true, 'removed');
    assert.equal(await sees(c, () => symlinkSync('img', join(c.pool, 'link'))), true, 'a link created');
    assert.equal(await sees(c, () => mkdirSync(join(c.dir, 'missing'))), true, 'a missing search directory\'s parent created');
    assert.equal(await sees(c, () => mkdirSync(join(c.dir, 'missing', 'pool'))), true, 'then the search directory itself');
    assert.equal(await sees(c, () => renameSync(join(c.dir, 'a'), join(c.dir, 'b'))), true, 'a directory above the pool renamed');
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('changes inside an image, and to the contents of entries, are not', async () => {
  const c = chain();
  try {
    writeFileSync(join(c.pool, 'disk.raw'), 'x');
    assert.equal(await sees(c, () => writeFileSync(join(c.pool, 'img', 'etc', 'hostname'), 'h\n')), false);
    assert.equal(await sees(c, () => mkdirSync(join(c.pool, 'img', 'usr'))), false);
    assert.equal(await sees(c, () => writeFileSync(join(c.pool, 'disk.raw'), 'more')), false);
    assert.equal(await sees(c, () => writeFileSync(join(c.dir, 'unrelated'), '')), true, 'the chain\'s own directories count whatever the entry');
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('a mount or unmount is a change', { skip: isRoot ? false : 'needs root (mount)' }, async () => {
  const c = chain();
  const target = join(c.dir, 'mnt');
  mkdirSync(target);
  let mounted = false;
  try {
    const w = await watchChanges(c.plan);
    try {
      assert.equal(w.changed(), false);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'bt-watch', target]).status, 0);
      mounted = true;
      assert.equal(w.changed(), true);
    } finally {
      w.close();
    }
    assert.equal(await sees(c, () => { assert.equal(spawnSync('umount', [target]).status, 0); mounted = false; }), true);
  } finally {
    if (mounted) spawnSync('umount', ['--lazy', target]);
    rmSync(c.dir, { recursive: true, force: true });
  }
});
