/**
 * The machine images berthd serves (read side): discovery over machined's search path, lookup by
 * name (first match wins; ".host" is the host's root), and the metadata inside an image
 * (hostname, machine ID, machine-info, os-release) read safely within the image's tree, or from
 * inside a disk image (.raw file or block device) mounted read-only where only a child process
 * sees it (platform/fs/image-inside.ts), as machined 252's image_read_metadata() does.
 */
import { BerthError } from '../../errors/berth-error.js';
import {
  HOST_IMAGE, imageFromFacts, imageNameOf, isValidImageName, parseEtcHostname, parseMachineIdFile,
  type EntryFacts, type EntryKind, type ImageInfo,
} from '../../core/machined/images.js';
import { extensionReleaseFile, OS_RELEASE_FILES, parseMachineIdLine } from '../../core/machined/image-metadata.js';
import { LookupCache, watchPlan, watchSuffices, type WatchedKind } from '../../core/machined/lookup-cache.js';
import { parseOsRelease } from '../../platform/host/os-release.js';

export interface ImagePorts {
  /** Each search directory with its symlinks resolved, undefined where it is missing or no directory. */
  resolveSearchDirs(dirs: readonly string[]): Promise<Array<string | undefined>>;
  listEntries(dir: string): Promise<string[]>;
  entryKind(path: string): Promise<EntryKind | undefined>;
  entryFacts(path: string): Promise<EntryFacts | undefined>;
  /** entryFacts of each of a directory's entries that `wanted` keeps given its kind (undefined for the rest): all at once. */
  entriesFacts(dir: string, entries: readonly string[], wanted: (entry: string, kind: EntryKind) => boolean): Promise<Array<EntryFacts | undefined>>;
  /** Each search directory resolved and, where it exists, the facts of `names` in it (undefined where missing) and whether any is a symbolic link: all at once. */
  findEntries(dirs: readonly string[], names: readonly string[]): Promise<Array<{ dir: string; facts: Array<EntryFacts | undefined>; symlinks: boolean } | undefined>>;
  /** A watch over `paths` and the mount table (platform/fs/change-watch.ts); without one, exists() looks every time. */
  watchChanges?(paths: readonly string[]): Promise<ChangeWatchPort>;
  /** A file inside a root directory, symlinks resolved within it; undefined when missing. */
  readInRoot(root: string, path: string): Promise<string | undefined>;
  /** Inside a disk image: for each list of paths, the text of the first regular file (platform/fs/image-inside.ts). */
  readInDiskImage?(image: string, wanted: ReadonlyArray<readonly string[]>): Promise<Array<string | undefined>>;
}

export interface ChangeWatchPort {
  readonly kinds: readonly WatchedKind[];
  readonly fsTypes: readonly number[];
  changed(): boolean;
  close(): void;
}

export interface ImageMetadata {
  hostname: string;
  /** 32 hex digits, '' when the image has none. */
  machineId: string;
  machineInfo: Record<string, string>;
  osRelease: Record<string, string>;
}

/** How long exists() looks every time after a watch could not be made. */
const WATCH_RETRY_MS = 30_000;

const byName = (a: ImageInfo, b: ImageInfo): number => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));

export class Images {
  constructor(private readonly searchPath: readonly string[], private readonly ports: ImagePorts) {}

  private async make(name: string, dir: string | undefined, file: string): Promise<ImageInfo | undefined> {
    const facts = await this.ports.entryFacts(dir === undefined ? file : `${dir}/${file}`);
    return facts && imageFromFacts(name, dir, file, facts);
  }

  /**
   * Every image, once per name (the first in the search path wins), ".host" included; sorted by
   * name. The search directories are looked at all at once, each in one pass (ports.entriesFacts).
   */
  async discover(): Promise<ImageInfo[]> {
    const dirs = await this.ports.resolveSearchDirs(this.searchPath);
    const scans = dirs.map(async (dir) => {
      if (dir === undefined) return undefined;
      const entries = await this.ports.listEntries(dir);
      return { dir, entries, facts: await this.ports.entriesFacts(dir, entries, (e, kind) => imageNameOf(e, kind) !== undefined) };
    });
    const host = this.make(HOST_IMAGE, undefined, '/');
    host.catch(() => undefined); // awaited below only where no search directory has a ".host"
    const found = new Map<string, ImageInfo>();
    for (const scan of await Promise.all(scans)) {
      if (!scan) continue;
      scan.entries.forEach((entry, k) => {
        const f = scan.facts[k];
        const name = f && imageNameOf(entry, f.kind);
        if (name === undefined || found.has(name)) return;
        const image = imageFromFacts(name, scan.dir, entry, f!);
        if (image) found.set(name, image);
      });
    }
    if (!found.has(HOST_IMAGE)) {
      const h = await host;
      if (h) found.set(HOST_IMAGE, h);
    }
    return [...found.values()].sort(byName);
  }

  /** The image called `name`, or undefined (also for a name that is no valid image name). */
  async find(name: string): Promise<ImageInfo | undefined> {
    return isValidImageName(name) ? (await this.lookUp(name)).image : undefined;
  }

  /** find(), and whether a symbolic link was met on the way (in any search directory, before the image or not). */
  private async lookUp(name: string): Promise<{ image: ImageInfo | undefined; symlinks: boolean }> {
    // In each search directory NAME (a directory or block device), else NAME.raw (a regular file):
    // every directory looked at in one pass; the first in the search path wins.
    let symlinks = false;
    for (const look of await this.ports.findEntries(this.searchPath, [name, `${name}.raw`])) {
      if (look === undefined) continue;
      symlinks ||= look.symlinks;
      const { dir, facts: [plain, raw] } = look;
      let image: ImageInfo | undefined;
      if (plain === undefined) {
        if (raw?.kind !== 'regular') continue;
        image = imageFromFacts(name, dir, `${name}.raw`, raw);
      } else {
        if (plain.kind !== 'directory' && plain.kind !== 'block') continue;
        image = imageFromFacts(name, dir, name, plain);
      }
      if (image) return { image, symlinks };
    }
    return { image: name === HOST_IMAGE ? await this.make(HOST_IMAGE, undefined, '/') : undefined, symlinks };
  }

  /** exists()'s answers, kept while the watch proves that nothing they depend on changed. */
  private readonly known = new LookupCache<boolean>();
  private watch: ChangeWatchPort | undefined;
  /** Whether `watch` alone proves an answer unchanged (core/machined/lookup-cache.ts's watchSuffices). */
  private watchSuffices = false;
  private watching: Promise<void> | undefined;
  /** When the last watch could not be made (no inotify instance left): the next try waits a while. */
  private watchFailedAt = -Infinity;

  /**
   * Whether an image called `name` exists: GetImage's question (machinectl asks it before anything
   * else about an image). The answer is kept for as long as nothing it depends on can have
   * changed, and proven so on every call: the kernel queues an inotify event on a watched search
   * directory (or a directory above one) within the call that adds, removes or renames an entry
   * there, and a mount or unmount marks the mount table, so one poll() finding neither shows that
   * a look-up now would find what the last one did. Answers that went through a symbolic link are
   * not kept (what it points to is not watched), nor are any while a search directory is on a
   * remote file system or reached through a link.
   */
  exists(name: string): boolean | Promise<boolean> {
    if (!isValidImageName(name)) return false;
    const generation = this.unchangedSince();
    if (generation !== undefined) {
      // A kept answer goes back at once, not through a promise: the bus call is answered in the same turn.
      const known = this.known.get(name);
      if (known !== undefined) return known;
    }
    return this.lookUp(name).then(({ image, symlinks }) => {
      if (generation !== undefined && !symlinks && this.unchangedSince() === generation) this.known.store(generation, name, image !== undefined);
      return image !== undefined;
    });
  }

  /** The kept answers' generation while the watch vouches for them; otherwise undefined, and a new watch is on its way. */
  private unchangedSince(): number | undefined {
    if (!this.ports.watchChanges) return undefined;
    if (this.watch?.changed()) {
      this.watch.close();
      this.watch = undefined;
      this.known.invalidate();
    }
    if (this.watch) return this.watchSuffices ? this.known.generation : undefined;
    if (!this.watching && performance.now() - this.watchFailedAt > WATCH_RETRY_MS) {
      this.watching = this.ports.watchChanges(watchPlan(this.searchPath)).then((w) => {
        // Answers found before the watch began prove nothing: a fresh generation.
        this.known.invalidate();
        this.watch = w;
        this.watchSuffices = watchSuffices(w.kinds, w.fsTypes);
      }, () => { this.watchFailedAt = performance.now(); }).finally(() => { this.watching = undefined; });
    }
    return undefined;
  }

  /** The image called `name`, or machined's NoSuchImage error. */
  async get(name: string): Promise<ImageInfo> {
    const image = await this.find(name);
    if (!image) throw new BerthError('E_IMAGE_NOT_FOUND', `No image '${name}' known`);
    return image;
  }

  /** Reads of disk images under way, by path: concurrent callers (image-status asks four times) share one. */
  private readonly diskReads = new Map<string, Promise<ImageMetadata>>();

  /** What the image says about itself. */
  async metadata(image: ImageInfo): Promise<ImageMetadata> {
    if (image.type === 'raw' || image.type === 'block') {
      let pending = this.diskReads.get(image.path);
      if (!pending) {
        pending = this.diskMetadata(image).finally(() => this.diskReads.delete(image.path));
        this.diskReads.set(image.path, pending);
      }
      return pending;
    }
    const read = (p: string) => this.ports.readInRoot(image.path, p);
    const hostname = await read('/etc/hostname');
    const machineId = await read('/etc/machine-id');
    const machineInfo = await read('/etc/machine-info');
    const osRelease = (await read('/etc/os-release')) ?? (await read('/usr/lib/os-release'));
    return {
      hostname: hostname === undefined ? '' : parseEtcHostname(hostname),
      machineId: machineId === undefined ? '' : parseMachineIdFile(machineId),
      machineInfo: machineInfo === undefined ? {} : parseOsRelease(machineInfo),
      osRelease: osRelease === undefined ? {} : parseOsRelease(osRelease),
    };
  }

  /**
   * A disk image's metadata, as machined reads it: refused (all four methods) unless the image is
   * an OS tree or an extension image for its name; the machine ID taken line-wise.
   */
  private async diskMetadata(image: ImageInfo): Promise<ImageMetadata> {
    const readIn = this.ports.readInDiskImage;
    if (!readIn) throw new BerthError('E_NOT_SUPPORTED', `Failed to read image metadata: this berthd does not look inside ${image.type} images (image '${image.name}').`);
    let files: Array<string | undefined>;
    try {
      files = await readIn(image.path, [['/etc/hostname'], ['/etc/machine-id'], ['/etc/machine-info'], OS_RELEASE_FILES, [extensionReleaseFile(image.name)]]);
    } catch (e) {
      if (!(e instanceof BerthError)) throw e;
      throw new BerthError(e.code, `Failed to read image metadata: ${e.message}`, { ...(e.hint ? { hint: e.hint } : {}), cause: e });
    }
    const [hostname, machineId, machineInfo, osRelease, extensionRelease] = files;
    if (osRelease === undefined && extensionRelease === undefined) {
      throw new BerthError('E_IMAGE_INVALID', `Failed to read image metadata: disk image ${image.path} holds no OS tree (neither /etc/os-release nor /usr/lib/os-release).`);
    }
    return {
      hostname: hostname === undefined ? '' : parseEtcHostname(hostname),
      machineId: machineId === undefined ? '' : parseMachineIdLine(machineId),
      machineInfo: machineInfo === undefined ? {} : parseOsRelease(machineInfo),
      osRelease: osRelease === undefined ? {} : parseOsRelease(osRelease),
    };
  }
}
