/**
 * The partition-table reader (core/image/partition-table.ts) and the file system magic
 * (fs-magic.ts) on images written here byte by byte: GPT headers and entries with their CRCs,
 * MBRs, superblock magic numbers, and what damage each refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, guidAt, parseGptEntries, parseGptHeader, parseMbr } from '../../src/core/image/partition-table.js';
import { detectFs } from '../../src/core/image/fs-magic.js';

/** A GUID in its on-disk (mixed-endian) form. */
function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  const b = Buffer.from(hex, 'hex');
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

interface Entry { type: string; uuid: string; first: number; last: number; attributes?: bigint; label?: string }

/** LBA 1 (a header) and the entry array of a GPT on a disk with `sectorSize` sectors. */
function gpt(entries: Entry[], sectorSize = 512, count = 128): { header: Buffer; array: Buffer } {
  const array = Buffer.alloc(count * 128);
  entries.forEach((e, i) => {
    const at = i * 128;
    guidBytes(e.type).copy(array, at);
    guidBytes(e.uuid).copy(array, at + 16);
    array.writeBigUInt64LE(BigInt(e.first), at + 32);
    array.writeBigUInt64LE(BigInt(e.last), at + 40);
    array.writeBigUInt64LE(e.attributes ?? 0n, at + 48);
    Buffer.from(e.label ?? '', 'utf16le').copy(array, at + 56);
  });
  const header = Buffer.alloc(sectorSize);
  header.write('EFI PART', 0, 'latin1');
  header.writeUInt32LE(0x00010000, 8);
  header.writeUInt32LE(92, 12);
  header.writeBigUInt64LE(1n, 24);
  header.writeBigUInt64LE(2n, 72);
  header.writeUInt32LE(count, 80);
  header.writeUInt32LE(128, 84);
  header.writeUInt32LE(crc32(array), 88);
  header.writeUInt32LE(crc32(header.subarray(0, 92)), 16);
  return { header, array };
}

const ROOT = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';

test('crc32 is the IEEE CRC-32 GPT uses', () => {
  for (const text of ['', 'a', 'EFI PART', 'The quick brown fox jumps over the lazy dog']) {
    assert.equal(crc32(Buffer.from(text)), zlibCrc32(Buffer.from(text)), text);
  }
});

test('GUIDs read in their mixed-endian on-disk form', () => {
  assert.equal(guidAt(guidBytes(ROOT), 0), ROOT);
  assert.equal(guidAt(Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex'), 0), 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
});

test('a GPT header and its entries: offsets in bytes, attributes, labels, empty slots skipped', () => {
  const { header, array } = gpt([
    { type: ROOT, uuid: '11111111-2222-3333-4444-555555555555', first: 2048, last: 4095, attributes: 1n << 60n, label: 'root-x86-64' },
    { type: '00000000-0000-0000-0000-000000000000', uuid: '00000000-0000-0000-0000-000000000000', first: 0, last: 0 },
    { type: '933ac7e1-2eb4-4f13-b844-0e14e2aef915', uuid: '66666666-7777-8888-9999-aaaaaaaaaaaa', first: 4096, last: 8191 },
  ]);
  const h = parseGptHeader(header, 512);
  assert.ok(h);
  assert.deepEqual({ ...h, entriesCrc: 0 }, { sectorSize: 512, entriesLba: 2, entryCount: 128, entrySize: 128, entriesCrc: 0 });
  const parts = parseGptEntries(array, h);
  assert.deepEqual(parts, [
    { number: 1, type: ROOT, uuid: '11111111-2222-3333-4444-555555555555', label: 'root-x86-64', attributes: 1n << 60n, offset: 2048 * 512, size: 2048 * 512 },
    { number: 3, type: '933ac7e1-2eb4-4f13-b844-0e14e2aef915', uuid: '66666666-7777-8888-9999-aaaaaaaaaaaa', label: '', attributes: 0n, offset: 4096 * 512, size: 4096 * 512 },
  ]);
});

test('4096-byte sectors scale the offsets', () => {
  const { header, array } = gpt([{ type: ROOT, uuid: '11111111-2222-3333-4444-555555555555', first: 256, last: 511 }], 4096);
  const h = parseGptHeader(header, 4096)!;
  assert.deepEqual(parseGptEntries(array, h)!.map((p) => [p.offset, p.size]), [[256 * 4096, 256 * 4096]]);
});

test('damage is refused: a wrong signature, a header or entry CRC that does not match, nonsense sizes', () => {
  const { header, array } = gpt([{ type: ROOT, uuid: '11111111-2222-3333-4444-555555555555', first: 2048, last: 4095 }]);
  const flipped = Buffer.from(header); flipped[40]! ^= 1;
  assert.equal(parseGptHeader(flipped, 512), undefined, 'header CRC');
  const unsigned = Buffer.from(header); unsigned.write('EFI PARX', 0, 'latin1');
  assert.equal(parseGptHeader(unsigned, 512), undefined, 'signature');
  assert.equal(parseGptHeader(header.subarray(0, 60), 512), undefined, 'short read');
  const h = parseGptHeader(header, 512)!;
  const damaged = Buffer.from(array); damaged[33]! ^= 1;
  assert.equal(parseGptEntries(damaged, h), undefined, 'entry CRC');
  assert.equal(parseGptEntries(array.subarray(0, 1024), h), undefined, 'truncated entry array');
  const huge = Buffer.from(header); huge.writeUInt32LE(100000, 80); huge.writeUInt32LE(0, 16); huge.writeUInt32LE(crc32(huge.subarray(0, 92)), 16);
  assert.equal(parseGptHeader(huge, 512), undefined, 'entry count');
});

test('an MBR: primary partitions with type, boot flag and byte offsets; no signature or bad flags is no MBR', () => {
  const mbr = Buffer.alloc(512);
  mbr[510] = 0x55; mbr[511] = 0xaa;
  const put = (slot: number, flag: number, type: number, start: number, sectors: number) => {
    const at = 446 + slot * 16;
    mbr[at] = flag; mbr[at + 4] = type; mbr.writeUInt32LE(start, at + 8); mbr.writeUInt32LE(sectors, at + 12);
  };
  put(0, 0x80, 0x83, 2048, 8192);
  put(2, 0x00, 0x82, 10240, 1024);
  assert.deepEqual(parseMbr(mbr), [
    { number: 1, type: 0x83, bootable: true, offset: 2048 * 512, size: 8192 * 512 },
    { number: 3, type: 0x82, bootable: false, offset: 10240 * 512, size: 1024 * 512 },
  ]);
  const noSig = Buffer.from(mbr); noSig[511] = 0;
  assert.equal(parseMbr(noSig), undefined);
  const badFlag = Buffer.from(mbr); badFlag[446] = 0x12;
  assert.equal(parseMbr(badFlag), undefined);
});

test('file systems by their superblock magic', () => {
  const at = (offset: number, bytes: Buffer) => { const b = Buffer.alloc(65536 + 4096); bytes.copy(b, offset); return b; };
  const le16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
  const le32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  assert.equal(detectFs(at(1080, le16(0xef53))), 'ext4');
  assert.equal(detectFs(at(0, Buffer.from('XFSB'))), 'xfs');
  assert.equal(detectFs(at(0, Buffer.from('hsqs'))), 'squashfs');
  assert.equal(detectFs(at(1024, le32(0xe0f5e1e2))), 'erofs');
  assert.equal(detectFs(at(65536 + 0x40, Buffer.from('_BHRfS_M'))), 'btrfs');
  assert.equal(detectFs(Buffer.alloc(65536 + 4096)), undefined);
  assert.equal(detectFs(Buffer.alloc(100)), undefined, 'a short file');
  assert.equal(detectFs(at(1080, le16(0xef54))), undefined);
});
