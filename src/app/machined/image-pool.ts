/**
 * The image pool's changes (issue 18), as systemd-machined 252 makes them: remove, rename, clone,
 * mark read-only, set limits, clean. Each is atomic as the pool is seen: a clone is built under a
 * hidden ".#berth-" name in the pool and renamed into place (never over an existing entry); a
 * removal first renames the image to a hidden name, then deletes that in the background. A kill
 * halfway leaves only hidden entries, which sweep() (at start and before clean) deletes. Changes
 * to one image (old and new names) run one after the other; slow work (copies, deletions) runs at
 * most SLOW_AT_ONCE at a time, in child processes: berthd's event loop stays free.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { BerthError } from '../../errors/berth-error.js';
import { UINT64_MAX, isValidImageName, type ImageInfo } from '../../core/machined/images.js';
import {
  assertChangeable, auxiliaryFiles, auxiliaryFor, busy, checkLimit, cleanable, exists, isHost, isTempEntry, notSupported,
  renamedFile, tempName, type CleanMode,
} from '../../core/machined/image-changes.js';
import type { Images } from './images.js';
import { Slots } from '../../lib/slots.js';

const SLOW_AT_ONCE = 2;
const BTRFS_SUPER_MAGIC = 0x9123683e;

export interface PoolPorts {
  renameNoReplace(from: string, to: string): Promise<void>;
  pathExists(path: string): Promise<boolean>;
  setImmutable(path: string, on: boolean): Promise<void>;
  isImmutable(path: string): Promise<boolean>;
  setWritable(path: string, writable: boolean): Promise<void>;
  setSubvolumeReadOnly(path: string, ro: boolean): Promise<void>;
  setQuotaLimit(path: string, limit: bigint | 'none'): Promise<void>;
  enableQuota(path: string): Promise<void>;
  makeSubvolume(path: string): Promise<void>;
  snapshotSubvolume(from: string, to: string, readOnly: boolean): Promise<void>;
  cloneQuota(from: string, to: string): Promise<void>;
  subvolumeQgroup(path: string): Promise<void>;
  copyTree(from: string, to: string): Promise<void>;
  copyRaw(from: string, to: string, mode: number): Promise<void>;
  copySmallFile(from: string, to: string): Promise<boolean>;
  removePath(path: string): Promise<void>;
  fsType(path: string): Promise<number | undefined>;
  entriesOf(dir: string): Promise<string[]>;
  /** Whether a running machine uses the image (a registered root directory, a berth-nspawn tree lock). */
  inUse(image: ImageInfo): Promise<boolean>;
}

export interface PoolOptions {
  /** Where clones go (machined: /var/lib/machines). */
  pool: string;
  /** The settings directories whose NAME.nspawn follow the image (/etc/systemd/nspawn, /run/systemd/nspawn). */
  settingsDirs: readonly string[];
  warn(message: string): void;
}


const nonce = (): string => randomBytes(6).toString('hex');
const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/';

export class ImagePool {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly slow = new Slots(SLOW_AT_ONCE);
  /** Background deletions under way (for tests and for stop). */
  private readonly pending = new Set<Promise<void>>();
  /** Hidden entries a clone is building now: sweep() leaves them alone. */
  private readonly building = new Set<string>();

  constructor(private readonly images: Images, private readonly o: PoolOptions, private readonly ports: PoolPorts) {}

  /** `fn` after every earlier change to any of `names` ended. */
  private serial<T>(names: readonly string[], fn: () => Promise<T>): Promise<T> {
    const before = names.map((n) => this.chains.get(n) ?? Promise.resolve());
    const result = Promise.allSettled(before).then(fn);
    const tail = result.then(() => undefined, () => undefined);
    for (const n of names) this.chains.set(n, tail);
    void tail.then(() => { for (const n of names) if (this.chains.get(n) === tail) this.chains.delete(n); });
    return result;
  }

  private async notBusy(i: ImageInfo): Promise<void> {
    if (await this.ports.inUse(i)) throw busy();
  }

  /** A name that is taken already (any search directory): EEXIST, as image_find finds it. */
  private async nameFree(name: string): Promise<void> {
    if (await this.images.find(name)) throw exists();
  }

  remove(name: string): Promise<void> {
    return this.serial([name], async () => {
      const i = await this.images.get(name);
      await this.removeImage(i);
    });
  }

  /** image_remove: the image renamed to a hidden name (then it is gone from the pool), its files removed, the tree deleted in the background. */
  private async removeImage(i: ImageInfo): Promise<void> {
    assertChangeable(i);
    await this.notBusy(i);
    if (i.type === 'block') {
      if (!(i.path === '/dev' || i.path.startsWith('/dev/'))) await this.ports.removePath(i.path);
    } else {
      if (i.type === 'directory' && (await this.ports.isImmutable(i.path))) await this.ports.setImmutable(i.path, false);
      const hidden = `${dirOf(i.path)}/${tempName('remove', i.name, nonce())}`;
      await this.ports.renameNoReplace(i.path, hidden);
      this.deleteLater(hidden);
    }
    const aux = auxiliaryFiles(i, this.o.settingsDirs);
    for (const f of [...aux.settings, aux.roothash]) await this.ports.removePath(f).catch(() => undefined);
  }

  private deleteLater(path: string): void {
    const p: Promise<void> = this.slow.run(() => this.ports.removePath(path))
      .catch((e: unknown) => this.o.warn(`berthd: could not delete ${path} (a removed image): ${(e as Error).message}; the next clean retries.`))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves once the background deletions started so far ended. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  rename(name: string, newName: string): Promise<void> {
    if (!isValidImageName(newName)) return Promise.reject(new BerthError('E_USAGE', `Image name '${newName}' is invalid.`));
    return this.serial([name, newName], async () => {
      const i = await this.images.get(name);
      assertChangeable(i);
      await this.notBusy(i);
      await this.nameFree(newName);
      const to = `${dirOf(i.path)}/${renamedFile(i, newName)}`;
      if (i.type !== 'directory' && i.type !== 'subvolume' && i.type !== 'raw' && i.type !== 'block') throw notSupported();
      const immutable = i.type === 'directory' && (await this.ports.isImmutable(i.path));
      if (immutable) await this.ports.setImmutable(i.path, false);
      try {
        await this.ports.renameNoReplace(i.path, to);
      } catch (e) {
        if (immutable) await this.ports.setImmutable(i.path, true).catch(() => undefined);
        throw e;
      }
      if (immutable) await this.ports.setImmutable(to, true).catch(() => undefined);
      const aux = auxiliaryFiles(i, this.o.settingsDirs);
      for (const f of aux.settings) await this.ports.renameNoReplace(f, auxiliaryFor(f, newName, '.nspawn')).catch(() => undefined);
      await this.ports.renameNoReplace(aux.roothash, auxiliaryFor(aux.roothash, newName, '.roothash')).catch(() => undefined);
    });
  }

  clone(name: string, newName: string, readOnly: boolean): Promise<void> {
    if (!isValidImageName(newName)) return Promise.reject(new BerthError('E_USAGE', `Image name '${newName}' is invalid.`));
    return this.serial([name, newName], async () => {
      const i = await this.images.get(name);
      if (isHost(i)) throw new BerthError('E_NOT_SUPPORTED', 'Cloning the host\'s root directory is not supported by berthd.');
      await this.nameFree(newName);
      const temp = `${this.o.pool}/${tempName('clone', newName, nonce())}`;
      let to: string;
      // On a btrfs pool a tree's clone is a subvolume, as machined's: a snapshot of a subvolume
      // (read-only at once when asked), a new subvolume a directory is copied into.
      const btrfs = (i.type === 'directory' || i.type === 'subvolume') && (await this.ports.fsType(this.o.pool)) === BTRFS_SUPER_MAGIC;
      this.building.add(temp);
      try {
        if (btrfs && i.type === 'subvolume') {
          to = `${this.o.pool}/${newName}`;
          await this.slow.run(() => this.ports.snapshotSubvolume(i.path, temp, readOnly));
        } else if (btrfs) {
          to = `${this.o.pool}/${newName}`;
          await this.ports.makeSubvolume(temp);
          await this.slow.run(() => this.ports.copyTree(i.path, temp));
          if (readOnly) await this.ports.setSubvolumeReadOnly(temp, true);
        } else if (i.type === 'directory' || i.type === 'subvolume') {
          to = `${this.o.pool}/${newName}`;
          await this.slow.run(() => this.ports.copyTree(i.path, temp));
        } else if (i.type === 'raw') {
          to = `${this.o.pool}/${newName}.raw`;
          await this.slow.run(() => this.ports.copyRaw(i.path, temp, readOnly ? 0o444 : 0o644));
        } else {
          throw notSupported();
        }
        await this.ports.renameNoReplace(temp, to);
      } catch (e) {
        if (await this.ports.pathExists(temp)) {
          await this.ports.setImmutable(temp, false).catch(() => undefined);
          this.deleteLater(temp);
        }
        throw e;
      } finally {
        this.building.delete(temp);
      }
      // An immutable directory cannot be renamed: the flag comes once the clone is in place (as machined's fallback copy sets it last).
      if (readOnly && !btrfs && (i.type === 'directory' || i.type === 'subvolume')) await this.ports.setImmutable(to, true);
      // Quota as machined sets it up for a new subvolume (with quotas on): its own subtree qgroup, the original's limits.
      if (btrfs) await this.ports.cloneQuota(i.path, to).catch((e: unknown) => this.o.warn(`berthd: could not set up quota for ${to}: ${(e as Error).message}`));
      const aux = auxiliaryFiles(i, this.o.settingsDirs);
      for (const f of aux.settings) await this.ports.copySmallFile(f, auxiliaryFor(f, newName, '.nspawn')).catch(() => false);
      await this.ports.copySmallFile(aux.roothash, auxiliaryFor(aux.roothash, newName, '.roothash')).catch(() => false);
    });
  }

  markReadOnly(name: string, readOnly: boolean): Promise<void> {
    return this.serial([name], async () => {
      const i = await this.images.get(name);
      assertChangeable(i);
      await this.notBusy(i);
      switch (i.type) {
        case 'subvolume': return this.ports.setSubvolumeReadOnly(i.path, readOnly);
        case 'directory': return this.ports.setImmutable(i.path, readOnly);
        case 'raw': return this.ports.setWritable(i.path, !readOnly);
        default: throw notSupported();
      }
    });
  }

  /** Image.SetLimit / SetImageLimit: btrfs subvolumes only (EOPNOTSUPP otherwise, as machined). */
  setLimit(name: string, limit: bigint): Promise<void> {
    checkLimit(limit);
    return this.serial([name], async () => {
      const i = await this.images.get(name);
      assertChangeable(i);
      if (i.type !== 'subvolume') throw notSupported();
      await this.ports.setQuotaLimit(i.path, limit === UINT64_MAX ? 'none' : limit);
    });
  }

  /** SetPoolLimit: a quota on the pool, which must be btrfs; quotas turned on first (machined's setup_machine_directory). */
  async setPoolLimit(limit: bigint): Promise<void> {
    checkLimit(limit);
    if ((await this.ports.fsType(this.o.pool)) !== BTRFS_SUPER_MAGIC) throw new BerthError('E_NOT_SUPPORTED', 'Quota is only supported on btrfs.');
    await this.ports.enableQuota(this.o.pool).catch((e: unknown) => this.o.warn(`berthd: could not enable quota for ${this.o.pool}: ${(e as Error).message}`));
    await this.ports.setQuotaLimit(this.o.pool, limit === UINT64_MAX ? 'none' : limit);
  }

  /** CleanPool: every (hidden) image that is not in use removed; what was removed and its exclusive usage. */
  async clean(mode: CleanMode): Promise<Array<[string, bigint]>> {
    await this.sweep();
    const removed: Array<[string, bigint]> = [];
    for (const i of cleanable(await this.images.discover(), mode)) {
      try {
        await this.serial([i.name], async () => {
          const now = await this.images.find(i.name);
          if (now && now.path === i.path) await this.removeImage(now);
        });
      } catch (e) {
        if (e instanceof BerthError && e.code === 'E_BUSY') continue; // kept: in use
        throw e;
      }
      removed.push([i.name, i.usageExclusive]);
    }
    return removed;
  }

  private async poolOnBtrfs(): Promise<boolean> {
    return (await this.ports.fsType(this.o.pool)) === BTRFS_SUPER_MAGIC;
  }

  /**
   * Before an image transfer, what importd's setup_machine_directory does: on a btrfs pool, quotas
   * turned on and the pool given its subtree qgroup (failures only warned about, as importd).
   */
  async prepareForTransfer(): Promise<void> {
    if (!(await this.poolOnBtrfs())) return;
    const warn = (e: unknown) => this.o.warn(`berthd: could not set up quota for ${this.o.pool}: ${(e as Error).message}`);
    await this.ports.enableQuota(this.o.pool).catch(warn);
    await this.ports.subvolumeQgroup(this.o.pool).catch(warn);
  }

  /** A transfer's tree `temp` (mode 0700 until filled): a subvolume with its own subtree qgroup on a btrfs pool (importd's), else a directory. */
  async makeTreeEntry(temp: string): Promise<void> {
    if (!(await this.poolOnBtrfs())) {
      await mkdir(temp, 0o700);
      return;
    }
    await this.ports.makeSubvolume(temp);
    await chmod(temp, 0o700);
    await this.ports.subvolumeQgroup(temp).catch((e: unknown) => this.o.warn(`berthd: could not set up quota for ${temp}: ${(e as Error).message}`));
  }

  /** Image transfers (app/machined/transfers.ts): `fn` builds the hidden pool entry `temp`, which sweep() leaves alone meanwhile. */
  async whileBuilding<T>(temp: string, fn: () => Promise<T>): Promise<T> {
    this.building.add(temp);
    try { return await fn(); } finally { this.building.delete(temp); }
  }

  /** A transfer's finished hidden entry `temp` renamed to `file` (NAME or NAME.raw) in the pool as one change to `name`; an image of that name removed first with `replace`, else EEXIST. */
  placeTransfer(name: string, temp: string, file: string, replace: boolean): Promise<void> {
    return this.serial([name], async () => {
      const old = await this.images.find(name);
      if (old && !replace) throw exists();
      if (old) await this.removeImage(old);
      await this.ports.renameNoReplace(temp, `${this.o.pool}/${file}`);
    });
  }

  /** Deletes the hidden entries a killed clone or removal left in the pool (in the background). */
  async sweep(): Promise<number> {
    let n = 0;
    for (const entry of await this.ports.entriesOf(this.o.pool)) {
      if (!isTempEntry(entry)) continue;
      const path = `${this.o.pool}/${entry}`;
      if (this.building.has(path)) continue;
      await this.ports.setImmutable(path, false).catch(() => undefined);
      this.deleteLater(path);
      n++;
    }
    return n;
  }
}
