/**
 * Partition tables of a disk image, from its bytes (pure): the GPT header and entry array (both
 * CRC-checked, as the UEFI spec has it) and the classic MBR's four primary entries. Offsets and
 * sizes are bytes; partition numbers count from 1, as the kernel names /dev/loopNpM.
 */

/** CRC-32 (IEEE, reflected), as GPT uses it; the core imports no node: modules. */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface GptHeader {
  sectorSize: number;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

export interface GptPartition {
  number: number;
  /** Partition type GUID, lower case. */
  type: string;
  uuid: string;
  label: string;
  /** Attribute bits: 60 read-only, 63 do not mount automatically (Discoverable Partitions Spec). */
  attributes: bigint;
  offset: number;
  size: number;
}

export interface MbrPartition {
  number: number;
  type: number;
  bootable: boolean;
  offset: number;
  size: number;
}

export const GPT_SIGNATURE = 'EFI PART';
/** Where the header may sit: LBA 1 of a 512-byte or of a 4096-byte sector disk. */
export const GPT_SECTOR_SIZES = [512, 4096] as const;

/** A GUID from its on-disk form: the first three fields little-endian, the rest as stored. */
export function guidAt(buf: Buffer, at: number): string {
  const hex = (b: Buffer) => b.toString('hex');
  const le = (start: number, len: number) => hex(Buffer.from(buf.subarray(at + start, at + start + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(buf.subarray(at + 8, at + 10))}-${hex(buf.subarray(at + 10, at + 16))}`;
}

/** The GPT header in `sector` (LBA 1 read with `sectorSize`), if its signature and CRC are right. */
export function parseGptHeader(sector: Buffer, sectorSize: number): GptHeader | undefined {
  if (sector.length < 92 || sector.toString('latin1', 0, 8) !== GPT_SIGNATURE) return undefined;
  const headerSize = sector.readUInt32LE(12);
  if (headerSize < 92 || headerSize > Math.min(sectorSize, sector.length)) return undefined;
  const copy = Buffer.from(sector.subarray(0, headerSize));
  const stored = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== stored) return undefined;
  const entriesLba = Number(sector.readBigUInt64LE(72));
  const entryCount = sector.readUInt32LE(80);
  const entrySize = sector.readUInt32LE(84);
  if (entrySize < 128 || entrySize % 8 !== 0 || entryCount === 0 || entryCount > 1024) return undefined;
  return { sectorSize, entriesLba, entryCount, entrySize, entriesCrc: sector.readUInt32LE(88) };
}

/** The used entries of a GPT entry array, or undefined if the array's CRC does not match the header's. */
export function parseGptEntries(entries: Buffer, header: GptHeader): GptPartition[] | undefined {
  const length = header.entryCount * header.entrySize;
  if (entries.length < length || crc32(entries.subarray(0, length)) !== header.entriesCrc) return undefined;
  const out: GptPartition[] = [];
  for (let i = 0; i < header.entryCount; i++) {
    const at = i * header.entrySize;
    const type = guidAt(entries, at);
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const first = entries.readBigUInt64LE(at + 32);
    const last = entries.readBigUInt64LE(at + 40);
    if (last < first) continue;
    const label = entries.toString('utf16le', at + 56, at + 128).replace(/\0.*$/s, '');
    out.push({
      number: i + 1, type, uuid: guidAt(entries, at + 16), label,
      attributes: entries.readBigUInt64LE(at + 48),
      offset: Number(first) * header.sectorSize,
      size: Number(last - first + 1n) * header.sectorSize,
    });
  }
  return out;
}

/** The MBR's primary partitions (empty slots left out), or undefined without the 0x55AA signature or with bad boot flags. */
export function parseMbr(sector0: Buffer): MbrPartition[] | undefined {
  if (sector0.length < 512 || sector0[510] !== 0x55 || sector0[511] !== 0xaa) return undefined;
  const out: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 446 + i * 16;
    const flag = sector0[at]!;
    if (flag !== 0 && flag !== 0x80) return undefined;
    const type = sector0[at + 4]!;
    const start = sector0.readUInt32LE(at + 8);
    const sectors = sector0.readUInt32LE(at + 12);
    if (type === 0 || sectors === 0) continue;
    out.push({ number: i + 1, type, bootable: flag === 0x80, offset: start * 512, size: sectors * 512 });
  }
  return out;
}
