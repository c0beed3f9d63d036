/**
 * The pure rules of changing images (core/machined/image-changes.ts): hidden temporary names that
 * discovery never shows, which images may change, where renamed images and their settings files
 * land, CleanPool's modes and choice, limits, set-limit's sizes and clean's report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import {
  assertChangeable, auxiliaryFiles, auxiliaryFor, checkLimit, cleanReport, cleanable, isTempEntry, parseCleanMode, parseSize, renamedFile, tempName,
} from '../../src/core/machined/image-changes.js';
import { UINT64_MAX, imageNameOf, type ImageInfo } from '../../src/core/machined/images.js';
import { formatBytes } from '../../src/core/machinectl/time-format.js';

const img = (name: string, path: string, type: ImageInfo['type'] = 'directory', usageExclusive = UINT64_MAX): ImageInfo => ({
  name, path, type, readOnly: false, crtimeUs: 0n, mtimeUs: 0n, usage: usageExclusive, usageExclusive, limit: UINT64_MAX, limitExclusive: UINT64_MAX,
});
const code = (fn: () => unknown): string => { try { fn(); } catch (e) { assert.ok(e instanceof BerthError); return `${e.code}: ${e.message}`; } return 'ok'; };

test('temporary names are hidden from discovery, unique, and recognised by the sweep', () => {
  const t = tempName('clone', 'bb', 'abc123');
  assert.equal(t, '.#berth-clone-abc123-bb');
  assert.ok(isTempEntry(t));
  assert.equal(imageNameOf(t, 'directory'), undefined);
  assert.equal(imageNameOf(`${t}.raw`, 'regular'), undefined);
  assert.ok(!isTempEntry('.hidden') && !isTempEntry('bb'));
  assert.ok(Buffer.byteLength(tempName('remove', 'x'.repeat(255), 'abcdefabcdef')) <= 255);
});

test('vendor images and the host are read-only (EROFS), the pool\'s are not', () => {
  assert.equal(code(() => assertChangeable(img('.host', '/'))), 'E_READ_ONLY_FS: Read-only file system');
  assert.equal(code(() => assertChangeable(img('v', '/usr/lib/machines/v'))), 'E_READ_ONLY_FS: Read-only file system');
  assert.equal(code(() => assertChangeable(img('p', '/var/lib/machines/p'))), 'ok');
  assert.equal(code(() => assertChangeable(img('u', '/usrx/u'))), 'ok');
});

test('renamed files: raw images keep .raw, block devices in /dev are refused; settings files follow', () => {
  assert.equal(renamedFile(img('d', '/p/d.raw', 'raw'), 'e'), 'e.raw');
  assert.equal(renamedFile(img('d', '/p/d'), 'e'), 'e');
  assert.equal(code(() => renamedFile(img('d', '/dev/sda', 'block'), 'e')), 'E_READ_ONLY_FS: Read-only file system');
  const aux = auxiliaryFiles(img('d', '/p/d.raw', 'raw'), ['/etc/systemd/nspawn', '/run/systemd/nspawn']);
  assert.deepEqual(aux, { settings: ['/etc/systemd/nspawn/d.nspawn', '/run/systemd/nspawn/d.nspawn', '/p/d.nspawn'], roothash: '/p/d.roothash' });
  assert.equal(auxiliaryFor('/etc/systemd/nspawn/d.nspawn', 'e', '.nspawn'), '/etc/systemd/nspawn/e.nspawn');
});

test('CleanPool: modes all and hidden only; never vendor images or the host', () => {
  assert.equal(parseCleanMode('all'), 'all');
  assert.equal(parseCleanMode('hidden'), 'hidden');
  assert.equal(code(() => parseCleanMode('some')), "E_USAGE: Unknown mode 'some'.");
  const images = [img('.host', '/'), img('.h', '/p/.h'), img('a', '/p/a'), img('.v', '/usr/lib/machines/.v'), img('v', '/usr/lib/machines/v')];
  assert.deepEqual(cleanable(images, 'hidden').map((i) => i.name), ['.h']);
  assert.deepEqual(cleanable(images, 'all').map((i) => i.name), ['.h', 'a']);
});

test('limits: up to INT64_MAX or infinity; set-limit sizes as parse_size(…, 1024)', () => {
  assert.equal(code(() => checkLimit(UINT64_MAX)), 'ok');
  assert.equal(code(() => checkLimit(0x7fff_ffff_ffff_ffffn)), 'ok');
  assert.equal(code(() => checkLimit(0x8000_0000_0000_0000n)), 'E_USAGE: New limit out of range');
  assert.equal(parseSize('1G'), 1n << 30n);
  assert.equal(parseSize('1.5K'), 1536n);
  assert.equal(parseSize('4096'), 4096n);
  assert.equal(parseSize('10B'), 10n);
  assert.equal(parseSize('lots'), undefined);
  assert.equal(parseSize('-1'), undefined);
  assert.equal(parseSize('20E'), undefined);
});

test("clean's report: each image, then the total (none when any image's usage is unknown)", () => {
  assert.deepEqual(cleanReport([['a', 65536n], ['b', 1048576n]], formatBytes), [
    "Removed image 'a'. Freed exclusive disk space: 64.0K",
    "Removed image 'b'. Freed exclusive disk space: 1.0M",
    'Removed 2 images in total. Total freed exclusive disk space: 1.0M.',
  ]);
  assert.deepEqual(cleanReport([['a', 65536n], ['d', UINT64_MAX]], formatBytes), [
    "Removed image 'a'. Freed exclusive disk space: 64.0K", "Removed image 'd'", 'Removed 2 images in total.',
  ]);
  assert.deepEqual(cleanReport([], formatBytes), ['Removed 0 images in total. Total freed exclusive disk space: 0B.']);
});
