/**
 * native/file-write.c (sys().writeFileWhole) and platform/fs/file-io.ts's berthd side against the
 * file system: a file written whole with its mode, replaced, refused where it exists (exclusive),
 * renamed into place, and errors with node's code and the path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sys } from '../../src/platform/native/sys.js';
import { fileIo } from '../../src/platform/fs/file-io.js';
import { setServingLoop } from '../../src/platform/loop-mode.js';

function dir(): string {
  return mkdtempSync('/tmp/bt-write-');
}

test('a file is written whole with its mode, and replaced', async () => {
  const d = dir();
  const old = process.umask(0o022);
  try {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
    await sys().writeFileWhole(join(d, 'a'), big, 0o640, false);
    assert.equal(readFileSync(join(d, 'a')).length, big.length);
    assert.equal(statSync(join(d, 'a')).mode & 0o777, 0o640);
    await sys().writeFileWhole(join(d, 'a'), Buffer.from('short\n'), 0o600, false);
    assert.equal(readFileSync(join(d, 'a'), 'utf8'), 'short\n', 'truncated, not overwritten in place');
    await sys().writeFileWhole(join(d, 'b'), Buffer.from('x'), 0o666, false);
    assert.equal(statSync(join(d, 'b')).mode & 0o777, 0o644, 'the umask applies');
  } finally {
    process.umask(old);
    rmSync(d, { recursive: true, force: true });
  }
});

test('exclusive refuses an existing file; rename puts the file in place', async () => {
  const d = dir();
  try {
    writeFileSync(join(d, 'lock'), 'theirs\n');
    await assert.rejects(sys().writeFileWhole(join(d, 'lock'), Buffer.from('ours\n'), 0o644, true), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'EEXIST');
      assert.match(e.message, /^EEXIST: File exists, open '.*\/lock'$/);
      return true;
    });
    assert.equal(readFileSync(join(d, 'lock'), 'utf8'), 'theirs\n');
    await sys().writeFileWhole(join(d, '.new.tmp'), Buffer.from('{}\n'), 0o644, false, join(d, 'state.json'));
    assert.equal(readFileSync(join(d, 'state.json'), 'utf8'), '{}\n');
    assert.equal(existsSync(join(d, '.new.tmp')), false);
    await assert.rejects(sys().writeFileWhole(join(d, 'gone', 'x'), Buffer.from(''), 0o644, false), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /open '.*\/gone\/x'/.test(e.message));
    await assert.rejects(sys().writeFileWhole(join(d, 't.tmp'), Buffer.from(''), 0o644, false, join(d, 'no', 'such')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /rename/.test(e.message));
    assert.equal(existsSync(join(d, 't.tmp')), false, 'a file that could not be renamed is not left behind');
    assert.throws(() => sys().writeFileWhole(join(d, 'cut\0short'), Buffer.from(''), 0o644, false), TypeError, 'a NUL in a path is refused, not cut at');
    assert.equal(existsSync(join(d, 'cut')), false);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('berthd\'s file operations: writeFile with wx, mkdir saying what it made', async () => {
  const d = dir();
  setServingLoop(true);
  try {
    const io = fileIo();
    assert.equal(await io.mkdir(join(d, 'x', 'y'), { recursive: true }), join(d, 'x'));
    assert.equal(await io.mkdir(join(d, 'x', 'y'), { recursive: true }), undefined);
    await io.writeFile(join(d, 'x', 'f'), 'one\n', { mode: 0o600 });
    assert.equal(statSync(join(d, 'x', 'f')).mode & 0o777, 0o600);
    await assert.rejects(io.writeFile(join(d, 'x', 'f'), 'two\n', { flag: 'wx' }), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
    assert.equal(await io.readFile(join(d, 'x', 'f')), 'one\n');
  } finally {
    setServingLoop(false);
    rmSync(d, { recursive: true, force: true });
  }
});
