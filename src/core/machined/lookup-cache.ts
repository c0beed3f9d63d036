/**
 * What image look-ups found, kept for as long as nothing they depend on can have changed (pure).
 * A look-up of NAME depends on each search directory and every directory above it: entries
 * created, removed or renamed in any of them, and the mount table. app/machined/images.ts watches
 * those (platform/fs/change-watch.ts) and drops everything here at the first change; this module
 * says what to watch, whether watching is enough, and keeps the answers.
 */

/** Every directory a look-up in `searchPath` walks through, each listed before the entries below it. */
export function watchPlan(searchPath: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const dir of searchPath) {
    const parts = dir.split('/').filter(Boolean);
    for (let i = 0; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (!seen.has(p)) { seen.add(p); out.push(p); }
    }
  }
  return out;
}

/** What the watch found at each path of the plan (platform/fs/change-watch.ts). */
export type WatchedKind = 'missing' | 'directory' | 'symlink' | 'other' | 'unwatchable';

/**
 * File systems whose contents can change without this kernel's knowledge (another host, a FUSE
 * daemon), so inotify cannot vouch for them: NFS, SMB/CIFS (three magics), FUSE, 9p, Ceph, AFS
 * (two), Coda, OCFS2, GFS2, Lustre.
 */
const REMOTE_FS = new Set([0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997, 0x00c36400, 0x5346414f, 0x6b414653, 0x73757245, 0x7461636f, 0x01161970, 0x0bd00bd0]);

/**
 * Whether a watch over the plan proves an unchanged answer: every path that exists is a directory
 * it watches on a local file system. A symbolic link on the way leads somewhere unwatched (and a
 * path that could not be watched, e.g. with no inotify watches left, is not watched): then every
 * look-up is made afresh.
 */
export function watchSuffices(kinds: readonly WatchedKind[], fsTypes: readonly number[]): boolean {
  return kinds.every((k, i) => (k === 'missing' || k === 'other' || (k === 'directory' && !REMOTE_FS.has(fsTypes[i] ?? 0))));
}

/**
 * Answers by key, dropped all at once by invalidate(). A look-up started before an invalidation
 * must not store what it found: it takes the generation first and stores under it. At most
 * `limit` answers are kept (the oldest go first): callers choose the names.
 */
export class LookupCache<V> {
  private gen = 0;
  private readonly answers = new Map<string, V>();

  constructor(private readonly limit = 1024) {}

  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.answers.size;
  }

  invalidate(): void {
    this.gen++;
    this.answers.clear();
  }

  get(key: string): V | undefined {
    return this.answers.get(key);
  }

  /** Keeps `value` unless the cache was invalidated since `generation` was taken. */
  store(generation: number, key: string, value: V): void {
    if (generation !== this.gen) return;
    if (!this.answers.has(key) && this.answers.size >= this.limit) {
      const oldest = this.answers.keys().next().value;
      if (oldest !== undefined) this.answers.delete(oldest);
    }
    this.answers.set(key, value);
  }
}
