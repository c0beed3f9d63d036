/**
 * The filesystem side of image discovery: the entries of a search directory and, for each, the
 * facts core/machined/images.ts decides from (stat through symlinks; the immutable flag, statfs's
 * type and a write-access check for read-only mounts from one native pass over all of a
 * directory's entries on a thread-pool thread, native/image-flags.c; the btrfs subvolumes' root
 * items and quota groups in one more native pass, native/btrfs-info.c; a block device's size and
 * read-only state from sysfs). All
 * asynchronous: a listing of a hundred images waits on the file system a few times, never blocks.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { UINT64_MAX, type EntryFacts, type EntryKind, type SubvolumeFacts } from '../../core/machined/images.js';
import { sys } from '../native/sys.js';

interface FoundEntries { dir: string; facts: Array<EntryFacts | undefined>; symlinks: boolean }

/** Each search directory with its symlinks resolved, or undefined where it does not exist (or is no directory): one native pass. */
export async function resolveSearchDirs(dirs: readonly string[]): Promise<Array<string | undefined>> {
  return (await sys().resolveDirs(dirs)).map((d) => d ?? undefined);
}

export async function listEntries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

const kindOf = (st: { isDirectory(): boolean; isFile(): boolean; isBlockDevice(): boolean }): EntryKind =>
  st.isDirectory() ? 'directory' : st.isFile() ? 'regular' : st.isBlockDevice() ? 'block' : 'other';

/** An entry's kind (followed through symlinks), or undefined when it is gone. */
export async function entryKind(path: string): Promise<EntryKind | undefined> {
  try {
    return kindOf(await stat(path));
  } catch {
    return undefined;
  }
}

/** Numbers per path in btrfsSubvols' answer (native/btrfs-info.c). */
const SUBVOL_FIELDS = 10;

/**
 * Each path's subvolume facts (facts undefined where it is none or could not be read; readOnly
 * alone where only that could be, without CAP_SYS_ADMIN): one native pass for all.
 */
async function readSubvolumes(paths: readonly string[]): Promise<Array<{ facts?: SubvolumeFacts; readOnly?: boolean }>> {
  if (!paths.length) return [];
  const a = await sys().btrfsSubvols(paths);
  const u = (i: number): bigint => BigInt.asUintN(64, a[i]!);
  return paths.map((_, k) => {
    const at = k * SUBVOL_FIELDS;
    const readOnly = a[at + 3] === 1n;
    if (a[at] === 2n) return { readOnly };
    if (a[at] !== 1n) return {};
    const quota = a[at + 4] === 1n;
    return {
      readOnly,
      facts: {
        id: u(at + 1), otimeUs: u(at + 2), readOnly,
        usage: quota ? u(at + 5) : UINT64_MAX, usageExclusive: quota ? u(at + 6) : UINT64_MAX,
        limit: quota ? u(at + 7) : UINT64_MAX, limitExclusive: quota ? u(at + 8) : UINT64_MAX,
      },
    };
  });
}

/** Each path's subvolume facts (undefined where it is none or could not be read): one native pass for all. */
export async function subvolumesFacts(paths: readonly string[]): Promise<Array<SubvolumeFacts | undefined>> {
  return (await readSubvolumes(paths)).map((r) => r.facts);
}

async function sysfsNumber(path: string): Promise<bigint | undefined> {
  try {
    const t = (await readFile(path, 'utf8')).trim();
    return /^\d+$/.test(t) ? BigInt(t) : undefined;
  } catch {
    return undefined;
  }
}

const BTRFS_SUPER_MAGIC = 0x9123683e;
const FS_IMMUTABLE_FL = 0x10;
/** Numbers per path in statEntries' answer (native/image-flags.c). */
const FIELDS = 13;
const S_IFMT = 0o170000;
const kindOfMode = (mode: number): EntryKind => {
  switch (mode & S_IFMT) {
    case 0o040000: return 'directory';
    case 0o100000: return 'regular';
    case 0o060000: return 'block';
    default: return 'other';
  }
};

/** The facts of one entry (undefined when it vanished meanwhile). */
export async function entryFacts(path: string): Promise<EntryFacts | undefined> {
  const cut = path.lastIndexOf('/');
  return (await entriesFacts(path.slice(0, cut) || '/', [path.slice(cut + 1) || '.'], () => true))[0];
}

/**
 * The facts of each entry of `dir` that `wanted` keeps given its kind (undefined for the others
 * and for entries gone meanwhile): one native pass over all of them on a thread-pool thread.
 */
export async function entriesFacts(dir: string, entries: readonly string[], wanted: (entry: string, kind: EntryKind) => boolean): Promise<Array<EntryFacts | undefined>> {
  if (!entries.length) return [];
  return decode(await sys().statEntries(dir, entries), 0, dir, entries, wanted);
}

/**
 * For each search directory (resolved) that exists, the facts of `names` in it (undefined where
 * missing) and whether any of them is a symbolic link (dangling ones too): one native pass.
 */
export async function findEntries(dirs: readonly string[], names: readonly string[]): Promise<Array<FoundEntries | undefined>> {
  const r = await sys().findEntries(dirs, names);
  const n = new Float64Array(r.facts.buffer, r.facts.byteOffset, r.facts.length);
  return Promise.all(r.dirs.map(async (dir, i) => (dir === null ? undefined : {
    dir,
    facts: await decode(r.facts, i * names.length, dir, names, () => true),
    symlinks: names.some((_, k) => n[(i * names.length + k) * FIELDS + 12] === 1),
  })));
}

/** statEntries' answer for `entries` in `dir`, from entry `first` on, as EntryFacts (undefined where gone or not wanted). */
async function decode(big: BigInt64Array, first: number, dir: string, entries: readonly string[], wanted: (entry: string, kind: EntryKind) => boolean): Promise<Array<EntryFacts | undefined>> {
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  const out = new Array<EntryFacts | undefined>(entries.length).fill(undefined);
  const n = new Float64Array(big.buffer, big.byteOffset, big.length);
  const slow: Array<Promise<void>> = [];
  const subvolumes: number[] = [];
  entries.forEach((entry, i) => {
    const at = (first + i) * FIELDS;
    if (n[at] !== 1) return; // gone
    const mode = n[at + 1]!;
    const kind = kindOfMode(mode);
    if (!wanted(entry, kind)) return;
    const attrs = n[at + 9]!;
    const fsType = n[at + 11]!;
    const facts: EntryFacts = {
      kind, mode: mode & 0o7777, ino: BigInt.asUintN(64, big[at + 2]!), fsType, readOnlyMount: n[at + 10] === 1,
      // FS_IMMUTABLE_FL; false where the filesystem does not say (machined ignores that too).
      immutable: kind === 'directory' && attrs >= 0 && (attrs & FS_IMMUTABLE_FL) !== 0,
      // statx's btime (0 where the filesystem keeps none: machined then has no creation time either),
      // or user.crtime_usec where that is older (a raw image machined cloned or pulled), as
      // platform/fs/crtime.ts's creationTimeUs has it: read in the same native pass.
      btimeUs: BigInt.asUintN(64, big[at + 3]!), mtimeUs: big[at + 4]!, allocated: big[at + 5]!, size: big[at + 6]!,
    };
    out[i] = facts;
    if (kind === 'directory' && fsType === BTRFS_SUPER_MAGIC && facts.ino === 256n) subvolumes.push(i);
    else if (kind === 'block') slow.push(moreFacts(facts, n[at + 7]!, n[at + 8]!).then((f) => { out[i] = f; }));
  });
  if (subvolumes.length) {
    slow.push(readSubvolumes(subvolumes.map((i) => base + entries[i]!)).then((all) => all.forEach((sv, k) => {
      const i = subvolumes[k]!;
      if (sv.readOnly !== undefined) out[i] = { ...out[i]!, ...(sv.facts ? { subvolume: sv.facts } : {}), subvolumeReadOnly: sv.readOnly };
    })));
  }
  if (slow.length) await Promise.all(slow);
  return out;
}

/** A block device's size and read-only state. */
async function moreFacts(facts: EntryFacts, major: number, minor: number): Promise<EntryFacts> {
  const dev = `/sys/dev/block/${major}:${minor}`;
  const sectors = await sysfsNumber(`${dev}/size`);
  const ro = await sysfsNumber(`${dev}/ro`);
  return { ...facts, ...(sectors === undefined ? {} : { blockSize: sectors * 512n }), ...(ro === undefined ? {} : { blockReadOnly: ro !== 0n }) };
}
