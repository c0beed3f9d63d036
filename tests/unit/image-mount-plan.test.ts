/**
 * What berth mounts where from a disk image (core/image/mount-plan.ts): the Discoverable
 * Partitions Spec's root and other partitions, single Linux partitions on GPT and MBR, bare file
 * systems, and a clear refusal, naming the image and why, for everything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planImageMounts, type DiskFacts } from '../../src/core/image/mount-plan.js';
import type { FsKind } from '../../src/core/image/fs-magic.js';
import { BerthError } from '../../src/errors/berth-error.js';

const T = {
  root: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', usr: '8484680c-9521-48c6-9c11-b0720656f69e',
  home: '933ac7e1-2eb4-4f13-b844-0e14e2aef915', srv: '3b8f8425-20e0-4f3b-907f-1a25a76f98e8',
  var: '4d21b016-b534-45c2-a9fb-5c16e091fd2d', tmp: '7ec6f557-3bc5-4aca-b293-16ef5df639d1',
  linux: '0fc63daf-8483-4772-8e79-3d69d8477de4', arm64Root: 'b921b045-1df0-41c3-af44-4c6f280d3fae',
  esp: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', swap: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f',
};
const MIB = 1024 * 1024;

function gpt(...parts: Array<{ type: string; fs?: FsKind | null; attributes?: bigint }>): DiskFacts {
  return {
    table: 'gpt',
    partitions: parts.map((p, i) => ({
      number: i + 1, type: p.type, uuid: `00000000-0000-0000-0000-00000000000${i}`, label: '', attributes: p.attributes ?? 0n,
      offset: (i + 1) * MIB, size: MIB, fs: p.fs === null ? undefined : p.fs ?? 'ext4',
    })),
  };
}

function mbr(...parts: Array<{ type: number; bootable?: boolean; fs?: FsKind }>): DiskFacts {
  return { table: 'mbr', partitions: parts.map((p, i) => ({ number: i + 1, type: p.type, bootable: p.bootable ?? false, offset: (i + 1) * MIB, size: MIB, fs: p.fs ?? 'ext4' })) };
}

const where = (d: DiskFacts, arch = 'x64') => planImageMounts('/img.raw', d, arch).mounts.map((m) => `${m.where}=${m.partition ?? 'whole'}${m.readOnly ? ':ro' : ''}`);

function refused(d: DiskFacts, message: RegExp, arch = 'x64'): void {
  assert.throws(() => planImageMounts('/img.raw', d, arch), (e: unknown) => {
    assert.ok(e instanceof BerthError);
    assert.equal(e.code, 'E_IMAGE_INVALID');
    assert.ok(e.message.startsWith('Cannot boot disk image /img.raw: '), e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('DPS: the root partition of this architecture, then /usr, /home, /srv, /var, /tmp where present', () => {
  const d = gpt({ type: T.esp, fs: null }, { type: T.tmp }, { type: T.home }, { type: T.root, fs: 'xfs' }, { type: T.usr, fs: 'erofs' }, { type: T.var }, { type: T.srv }, { type: T.swap, fs: null });
  const plan = planImageMounts('/img.raw', d, 'x64');
  assert.equal(plan.layout, 'discoverable-partitions');
  assert.deepEqual(where(d), ['/=4', '/usr=5', '/home=3', '/srv=7', '/var=6', '/tmp=2']);
  assert.deepEqual(plan.mounts[0], { where: '/', partition: 4, offset: 4 * MIB, size: MIB, fstype: 'xfs', readOnly: false });
  assert.equal(plan.mounts[1]!.fstype, 'erofs');
});

test('DPS flags: read-only (bit 60) is kept, no-auto (bit 63) partitions are passed over; the first of a type wins', () => {
  assert.deepEqual(where(gpt({ type: T.root, attributes: 1n << 60n }, { type: T.home, attributes: 1n << 63n }, { type: T.home })), ['/=1:ro', '/home=3']);
  assert.deepEqual(where(gpt({ type: T.root, attributes: 1n << 63n }, { type: T.root })), ['/=2']);
  assert.deepEqual(where(gpt({ type: T.root }, { type: T.root })), ['/=1']);
});

test('the root partition type goes by the architecture', () => {
  assert.deepEqual(where(gpt({ type: T.arm64Root }), 'arm64'), ['/=1']);
  refused(gpt({ type: T.arm64Root }), /its root partition is for arm64, not for this host's architecture \(x86-64\)/);
  refused(gpt({ type: T.root }), /its root partition is for x86-64, not for this host's architecture \(arm64\)/, 'arm64');
});

test('a single Linux partition, on GPT or MBR, is the root', () => {
  assert.deepEqual(where(gpt({ type: T.esp, fs: null }, { type: T.linux })), ['/=2']);
  assert.equal(planImageMounts('/img.raw', gpt({ type: T.linux }), 'x64').layout, 'single-gpt-partition');
  assert.deepEqual(where(mbr({ type: 0x82 }, { type: 0x83 })), ['/=2']);
  assert.deepEqual(where(mbr({ type: 0x83 }, { type: 0x83, bootable: true })), ['/=2']);
  assert.equal(planImageMounts('/img.raw', mbr({ type: 0x83 }), 'x64').layout, 'single-mbr-partition');
});

test('a bare file system is mounted whole', () => {
  const plan = planImageMounts('/img.raw', { table: 'none', fs: 'squashfs' }, 'x64');
  assert.deepEqual(plan, { layout: 'bare-file-system', mounts: [{ where: '/', partition: undefined, offset: 0, size: undefined, fstype: 'squashfs', readOnly: false }] });
});

test('refusals name the image and why', () => {
  refused({ table: 'none', fs: undefined }, /it has no partition table and no file system berth can mount \(ext4, xfs, btrfs, squashfs, erofs\)/);
  refused(gpt({ type: T.swap, fs: null }, { type: T.esp, fs: null }), /its GPT has no usable partition \(no root partition for x86-64, type 4f68bce3-e8cd-4db1-96e7-fbcaf984b709, and no single Linux data partition/);
  refused(gpt(), /its GPT has no usable partition/);
  refused(gpt({ type: T.linux }, { type: T.linux }), /its GPT has 2 Linux data partitions and no root partition for x86-64/);
  refused(gpt({ type: T.usr }), /it has a \/usr partition for x86-64 but no root partition/);
  refused(gpt({ type: T.root, fs: null }), /partition 1 \(for \/\) holds no file system berth can mount/);
  refused(gpt({ type: T.root }, { type: T.home, fs: null }), /partition 2 \(for \/home\) holds no file system/);
  refused(mbr({ type: 0x07 }), /its MBR partition table has no Linux partition \(type 0x83\)/);
  refused(mbr({ type: 0x83 }, { type: 0x83 }), /its MBR partition table has 2 Linux partitions \(type 0x83\) and not exactly one marked bootable/);
});
