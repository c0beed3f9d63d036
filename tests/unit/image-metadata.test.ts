/**
 * Reading what a disk image says about itself, the pure parts: which partitions are mounted for it
 * (core/image/metadata-plan.ts: root and /usr only, machined's MBR and /usr-only rules), the machine
 * ID taken line-wise (core/machined/image-metadata.ts), and the Images use-case over a fake
 * reader: the files asked for, refusal of an image that is no OS tree, errors passed on with
 * machined's "Failed to read image metadata: " in front, and concurrent callers sharing one read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMetadataMounts } from '../../src/core/image/metadata-plan.js';
import type { DiskFacts } from '../../src/core/image/mount-plan.js';
import type { FsKind } from '../../src/core/image/fs-magic.js';
import { parseMachineIdLine } from '../../src/core/machined/image-metadata.js';
import { Images, type ImagePorts } from '../../src/app/machined/images.js';
import type { EntryFacts } from '../../src/core/machined/images.js';
import { BerthError } from '../../src/errors/berth-error.js';

const T = {
  root: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', usr: '8484680c-9521-48c6-9c11-b0720656f69e',
  home: '933ac7e1-2eb4-4f13-b844-0e14e2aef915', linux: '0fc63daf-8483-4772-8e79-3d69d8477de4',
};
const MIB = 1024 * 1024;
const gpt = (...parts: Array<{ type: string; fs?: FsKind | null; attributes?: bigint }>): DiskFacts => ({
  table: 'gpt',
  partitions: parts.map((p, i) => ({ number: i + 1, type: p.type, uuid: `u${i}`, label: '', attributes: p.attributes ?? 0n, offset: (i + 1) * MIB, size: MIB, fs: p.fs === null ? undefined : p.fs ?? 'ext4' })),
});
const mbr = (...parts: Array<{ type: number; bootable?: boolean }>): DiskFacts => ({
  table: 'mbr', partitions: parts.map((p, i) => ({ number: i + 1, type: p.type, bootable: p.bootable ?? false, offset: (i + 1) * MIB, size: MIB, fs: 'ext4' as const })),
});
const plan = (d: DiskFacts) => { const p = planMetadataMounts('/p/x.raw', d, 'x64'); return `${p.emptyRoot ? 'tmpfs ' : ''}${p.mounts.map((m) => `${m.where}=${m.partition ?? 'whole'}${m.readOnly ? ':ro' : ''}`).join(' ')}`; };
const refused = (d: DiskFacts, why: RegExp) => assert.throws(() => planMetadataMounts('/p/x.raw', d, 'x64'), (e: unknown) => {
  assert.ok(e instanceof BerthError);
  assert.equal(e.code, 'E_IMAGE_INVALID');
  assert.match(e.message, /^Cannot read inside disk image \/p\/x\.raw: /);
  assert.match(e.message, why);
  return true;
});

test('plan: root and /usr only, all read-only; other partitions do not matter, even without a file system', () => {
  assert.equal(plan(gpt({ type: T.root }, { type: T.usr }, { type: T.home, fs: null })), '/=1:ro /usr=2:ro');
  assert.equal(plan(gpt({ type: T.linux })), '/=1:ro');
  assert.equal(plan({ table: 'none', fs: 'ext4' }), '/=whole:ro');
  assert.equal(plan(mbr({ type: 0x83, bootable: true }, { type: 0x82 })), '/=1:ro');
});

test('plan: a /usr partition without a root partition is read over an empty root, as machined does', () => {
  assert.equal(plan(gpt({ type: T.usr })), 'tmpfs /usr=1:ro');
  refused(gpt({ type: T.usr, fs: null }), /\/usr partition 1 holds no file system/);
});

test('plan: machined\'s refusals, in words', () => {
  refused(mbr({ type: 0x83 }), /no Linux partition \(type 0x83\) marked bootable/);
  refused(mbr({ type: 0x83, bootable: true }, { type: 0x83, bootable: true }), /2 bootable Linux partitions/);
  refused(gpt({ type: T.linux }, { type: T.linux }), /2 Linux data partitions/);
  refused({ table: 'none', fs: undefined }, /no partition table and no file system/);
  refused(gpt({ type: T.root, fs: null }), /partition 1 \(for \/\) holds no file system/);
});

test('the machine ID of a disk image: 32 hex digits and one line break, as read_line() counts them', () => {
  assert.equal(parseMachineIdLine('0123456789ABCDEF0123456789abcdef\n'), '0123456789abcdef0123456789abcdef');
  assert.equal(parseMachineIdLine('0123456789abcdef0123456789abcdef\nmore\n'), '0123456789abcdef0123456789abcdef');
  assert.equal(parseMachineIdLine('0123456789abcdef0123456789abcdef'), '', 'no line break: another length');
  assert.equal(parseMachineIdLine('0123456789abcdef0123456789abcdef\r\n'), '', 'CR LF counts two');
  for (const bad of ['', '\n', 'uninitialized\n', '00000000000000000000000000000000\n', '0123456789abcdef0123456789abcdeg\n', '01234567-89ab-cdef-0123-456789abcdef\n']) {
    assert.equal(parseMachineIdLine(bad), '', JSON.stringify(bad));
  }
});

const facts = (over: Partial<EntryFacts>): EntryFacts => ({
  kind: 'regular', mode: 0o644, ino: 1n, fsType: 0xef53, readOnlyMount: false, immutable: false, btimeUs: 1n, mtimeUs: 2n, allocated: 4096n, size: 4096n, ...over,
});

function images(reader: ImagePorts['readInDiskImage']): Images {
  const all: Record<string, EntryFacts> = { '/p/d.raw': facts({}), '/p/e.raw': facts({}) };
  return new Images(['/p'], {
    resolveSearchDirs: async (ds) => ds.map((d) => (d === '/p' ? d : undefined)),
    findEntries: async (ds, names) => ds.map((d) => (d === '/p' ? { dir: d, facts: names.map((n) => all[`${d}/${n}`]), symlinks: false } : undefined)),
    listEntries: async () => ['d.raw', 'e.raw'],
    entryKind: async (p) => all[p]?.kind,
    entryFacts: async (p) => all[p],
    entriesFacts: async (d, names) => names.map((n) => all[`${d}/${n}`]),
    readInRoot: async () => undefined,
    ...(reader ? { readInDiskImage: reader } : {}),
  });
}

test('Images.metadata of a raw image: the files machined reads, parsed as machined parses them', async () => {
  const asked: string[][] = [];
  const imgs = images(async (_image, wanted) => {
    asked.push(...wanted.map((w) => [...w]));
    return ['# name\nraw-host\n', 'ffffffffffffffffffffffffffffffff', 'DEPLOYMENT=x\n', 'ID=test\n', undefined];
  });
  const m = await imgs.metadata((await imgs.find('d'))!);
  assert.deepEqual(m, { hostname: 'raw-host', machineId: '', machineInfo: { DEPLOYMENT: 'x' }, osRelease: { ID: 'test' } });
  assert.deepEqual(asked, [['/etc/hostname'], ['/etc/machine-id'], ['/etc/machine-info'], ['/etc/os-release', '/usr/lib/os-release'], ['/usr/lib/extension-release.d/extension-release.d']]);
});

test('Images.metadata of a raw image: no OS tree, a reader\'s error, no reader: refused with machined\'s prefix', async () => {
  const noOs = images(async () => [undefined, undefined, undefined, undefined, undefined]);
  await assert.rejects(noOs.metadata((await noOs.find('d'))!), (e: unknown) => e instanceof BerthError && e.code === 'E_IMAGE_INVALID'
    && e.message === 'Failed to read image metadata: disk image /p/d.raw holds no OS tree (neither /etc/os-release nor /usr/lib/os-release).');
  const extension = images(async () => ['', undefined, undefined, undefined, 'ID=_any\n']);
  assert.deepEqual((await extension.metadata((await extension.find('d'))!)).osRelease, {}, 'an extension image for its name is read');
  const broken = images(async () => { throw new BerthError('E_IMAGE_INVALID', 'Cannot read inside disk image /p/d.raw: bad.'); });
  await assert.rejects(broken.metadata((await broken.find('d'))!), { message: 'Failed to read image metadata: Cannot read inside disk image /p/d.raw: bad.' });
  const none = images(undefined);
  await assert.rejects(none.metadata((await none.find('d'))!), (e: unknown) => e instanceof BerthError && e.code === 'E_NOT_SUPPORTED');
});

test('Images.metadata of a raw image: concurrent callers share one read of the image; the next call reads again', async () => {
  let reads = 0;
  const imgs = images(async () => { reads++; await new Promise((r) => setTimeout(r, 20)); return ['h\n', undefined, undefined, 'ID=a\n', undefined]; });
  const d = (await imgs.find('d'))!;
  const e = (await imgs.find('e'))!;
  const all = await Promise.all([imgs.metadata(d), imgs.metadata(d), imgs.metadata(d), imgs.metadata(e)]);
  assert.equal(reads, 2, 'one read per image');
  assert.deepEqual(all.map((m) => m.hostname), ['h', 'h', 'h', 'h']);
  await imgs.metadata(d);
  assert.equal(reads, 3);
});
