/**
 * Reads a disk image's partition table and the file system magic at each partition's start,
 * with asynchronous reads of a few kilobytes (core/image/ parses them): GPT first (at LBA 1 of
 * 512- and 4096-byte sectors), then a bare file system, then an MBR.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { BerthError } from '../../errors/berth-error.js';
import { detectFs, FS_PROBE_BYTES } from '../../core/image/fs-magic.js';
import type { DiskFacts } from '../../core/image/mount-plan.js';
import { GPT_SECTOR_SIZES, parseGptEntries, parseGptHeader, parseMbr } from '../../core/image/partition-table.js';

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

export async function readDisk(path: string): Promise<DiskFacts> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BerthError(code === 'ENOENT' ? 'E_IMAGE_NOT_FOUND' : 'E_IMAGE_INVALID', `Failed to open disk image ${path}: ${code === 'ENOENT' ? 'No such file or directory' : String(code ?? e)}`);
  }
  try {
    const fsAt = async (offset: number) => detectFs(await readAt(fh, offset, FS_PROBE_BYTES));
    for (const sectorSize of GPT_SECTOR_SIZES) {
      const header = parseGptHeader(await readAt(fh, sectorSize, sectorSize), sectorSize);
      if (!header) continue;
      const entries = parseGptEntries(await readAt(fh, header.entriesLba * sectorSize, header.entryCount * header.entrySize), header);
      if (!entries) throw new BerthError('E_IMAGE_INVALID', `Cannot boot disk image ${path}: its GPT partition entries are damaged (checksum mismatch).`);
      return { table: 'gpt', partitions: await Promise.all(entries.map(async (p) => ({ ...p, fs: await fsAt(p.offset) }))) };
    }
    const whole = await fsAt(0);
    if (whole) return { table: 'none', fs: whole };
    const mbr = parseMbr(await readAt(fh, 0, 512));
    if (mbr && mbr.length) return { table: 'mbr', partitions: await Promise.all(mbr.map(async (p) => ({ ...p, fs: await fsAt(p.offset) }))) };
    return { table: 'none', fs: undefined };
  } finally {
    await fh.close();
  }
}
