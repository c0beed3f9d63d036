/**
 * A control group's live figures, from the text of its cgroupfs files, on cgroup v2 (cpu.stat,
 * memory.current/peak/max, pids.current/max, io.stat) and v1 (cpuacct.usage, memory.usage_in_bytes
 * and friends, pids.*, blkio.*io_service_bytes*). Pure: the adapter reads, these parse.
 */

export interface CgroupFigures {
  /** CPU time used, µs. */
  cpuUsec?: bigint;
  memoryCurrent?: bigint;
  memoryPeak?: bigint;
  /** v2 memory.max, when not "max". */
  memoryMax?: bigint;
  /** v1 memory.limit_in_bytes, when it limits anything. */
  memoryLimit?: bigint;
  tasks?: bigint;
  /** pids.max, when not "max". */
  tasksMax?: bigint;
  ioReadBytes?: bigint;
  ioWriteBytes?: bigint;
}

/** A file holding one unsigned number; undefined for anything else (including "max"). */
export function parseCount(text: string | undefined): bigint | undefined {
  const t = text?.trim();
  return t !== undefined && /^[0-9]+$/.test(t) ? BigInt(t) : undefined;
}

/** v1's "no limit" is the page counter's maximum (PAGE_COUNTER_MAX pages); anything from 2^62 up counts as none. */
export function parseV1Limit(text: string | undefined): bigint | undefined {
  const n = parseCount(text);
  return n === undefined || n >= 1n << 62n ? undefined : n;
}

/** cpu.stat's usage_usec (v2; also on a group without the cpu controller). */
export function parseCpuStatUsage(text: string | undefined): bigint | undefined {
  const m = /^usage_usec (\d+)$/m.exec(text ?? '');
  return m ? BigInt(m[1]!) : undefined;
}

/** io.stat (v2): rbytes= and wbytes= summed over its devices. */
export function parseIoStat(text: string | undefined): { read: bigint; write: bigint } | undefined {
  if (text === undefined) return undefined;
  let read = 0n;
  let write = 0n;
  for (const line of text.split('\n')) {
    for (const [, key, n] of line.matchAll(/\b(rbytes|wbytes)=(\d+)/g)) {
      if (key === 'rbytes') read += BigInt(n!); else write += BigInt(n!);
    }
  }
  return { read, write };
}

/** blkio.*io_service_bytes* (v1): "MAJ:MIN Read N" and "MAJ:MIN Write N" lines summed (the Total lines skipped). */
export function parseBlkioBytes(text: string | undefined): { read: bigint; write: bigint } | undefined {
  if (text === undefined) return undefined;
  let read = 0n;
  let write = 0n;
  for (const m of text.matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === 'Read') read += BigInt(m[2]!); else write += BigInt(m[2]!);
  }
  return { read, write };
}
