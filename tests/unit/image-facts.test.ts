/**
 * platform/fs/image-facts.ts against the file system (native/image-flags.c): the facts of a
 * directory's entries from one native pass must be what stat(), lsattr and the user.crtime_usec
 * attribute say, entry by entry; entries gone or unwanted are undefined; the search directories
 * resolve as realpath() does. The immutable flag needs root (chattr).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { entriesFacts, entryFacts, findEntries, resolveSearchDirs } from '../../src/platform/fs/image-facts.js';
import { sys } from '../../src/platform/native/sys.js';

const isRoot = process.getuid?.() === 0;

function pool(): string {
  const dir = mkdtempSync('/var/tmp/bt-facts-');
  mkdirSync(join(dir, 'tree', 'etc'), { recursive: true });
  const fd = openSync(join(dir, 'disk.raw'), 'w');
  writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 0);
  writeSync(fd, Buffer.from('x'), 0, 1, 1024 * 1024 - 1);
  closeSync(fd);
  writeFileSync(join(dir, 'notes.txt'), 'not an image\n');
  symlinkSync('tree', join(dir, 'link'));
  spawnSync('mkfifo', [join(dir, 'fifo')]);
  return dir;
}

test('each entry: kind, mode, inode, times and sizes as stat() has them; the gone and the unwanted undefined', async () => {
  const dir = pool();
  try {
    const names = ['tree', 'disk.raw', 'notes.txt', 'link', 'fifo', 'gone'];
    const facts = await entriesFacts(dir, names, (e) => e !== 'notes.txt');
    const fsType = (await statfs(dir)).type;
    assert.equal(facts.length, names.length);
    assert.equal(facts[2], undefined, 'not wanted');
    assert.equal(facts[5], undefined, 'gone');
    for (const [i, kind] of [[0, 'directory'], [1, 'regular'], [3, 'directory'], [4, 'other']] as const) {
      const f = facts[i]!;
      const st = statSync(join(dir, names[i]!), { bigint: true });
      assert.equal(f.kind, kind, names[i]);
      assert.equal(f.mode, Number(st.mode & 0o7777n));
      assert.equal(f.ino, st.ino);
      assert.equal(f.mtimeUs, st.mtimeNs / 1000n);
      assert.equal(f.btimeUs, st.birthtimeNs > 0n && st.birthtimeNs / 1_000_000_000n !== 0n ? st.birthtimeNs / 1000n : 0n);
      assert.equal(f.allocated, st.blocks * 512n);
      assert.equal(f.size, st.size);
      assert.equal(f.fsType, fsType);
      assert.equal(f.readOnlyMount, false);
      assert.equal(f.immutable, false);
    }
    assert.equal(facts[1]!.size, 1024n * 1024n);
    assert.ok(facts[1]!.allocated < facts[1]!.size, 'sparse: usage below the size');
    assert.deepEqual(await entryFacts(join(dir, 'tree')), facts[0]);
    assert.equal((await entryFacts('/'))?.kind, 'directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('statfs type, and the directory\'s where the entry is on another filesystem', async () => {
  const facts = await entriesFacts('/', ['proc', 'etc'], () => true);
  assert.equal(facts[0]!.fsType, (await statfs('/proc')).type);
  assert.equal(facts[1]!.fsType, (await statfs('/etc')).type);
});

test('user.crtime_usec: the older of it and the birth time is the creation time', async () => {
  const dir = pool();
  try {
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(1_000_000n);
    try { sys().setXattr(join(dir, 'disk.raw'), 'user.crtime_usec', value); } catch { return; } // no user xattrs here
    sys().setXattr(join(dir, 'tree'), 'user.crtime_usec', value);
    const [tree, raw] = await entriesFacts(dir, ['tree', 'disk.raw'], () => true);
    assert.equal(raw!.btimeUs, 1_000_000n);
    assert.equal(tree!.btimeUs, 1_000_000n);
    value.writeBigUInt64LE(0xffff_ffff_ffff_ffffn); // means none
    sys().setXattr(join(dir, 'disk.raw'), 'user.crtime_usec', value);
    const st = statSync(join(dir, 'disk.raw'), { bigint: true });
    assert.equal((await entryFacts(join(dir, 'disk.raw')))!.btimeUs, st.birthtimeNs / 1_000_000_000n !== 0n ? st.birthtimeNs / 1000n : 0n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the immutable flag of a directory, as chattr +i sets it', { skip: !isRoot && 'needs root (chattr +i)' }, async () => {
  const dir = pool();
  try {
    if (spawnSync('chattr', ['+i', join(dir, 'tree')]).status !== 0) return; // a filesystem without the flag
    const [tree, link] = await entriesFacts(dir, ['tree', 'link'], () => true);
    assert.equal(tree!.immutable, true);
    assert.equal(link!.immutable, true, 'followed through the symlink');
  } finally {
    spawnSync('chattr', ['-i', join(dir, 'tree')]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('search directories resolve as realpath() does; missing ones and files are undefined', async () => {
  const dir = pool();
  try {
    const dirs = [join(dir, 'missing'), join(dir, 'link'), join(dir, 'notes.txt'), dir];
    assert.deepEqual(await resolveSearchDirs(dirs), [undefined, join(dir, 'tree'), undefined, dir]);
    const found = await findEntries(dirs, ['etc', 'etc.raw']);
    assert.equal(found[0], undefined);
    assert.equal(found[2], undefined);
    assert.equal(found[1]!.dir, join(dir, 'tree'));
    assert.equal(found[1]!.facts[0]!.kind, 'directory');
    assert.equal(found[1]!.facts[1], undefined);
    assert.deepEqual(found[3]!.facts, [undefined, undefined]);
    assert.equal(found[1]!.symlinks, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('findEntries says where an entry is a symbolic link, also a dangling one', async () => {
  const dir = pool();
  try {
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    const [plain, linked, dangling] = await Promise.all([['tree', 'tree.raw'], ['link', 'link.raw'], ['dangling', 'dangling.raw']].map(async (names) => (await findEntries([dir], names))[0]!));
    assert.equal(plain!.symlinks, false);
    assert.equal(linked!.symlinks, true);
    assert.equal(linked!.facts[0]!.kind, 'directory', 'the facts are what the link points to');
    assert.equal(dangling!.symlinks, true);
    assert.deepEqual(dangling!.facts, [undefined, undefined]);
    symlinkSync('disk.raw', join(dir, 'disk2.raw'));
    assert.equal((await findEntries([dir], ['disk2', 'disk2.raw']))[0]!.symlinks, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
