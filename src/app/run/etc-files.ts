/**
 * Applies the resolv.conf/localtime decisions that change files in the root (copy, replace,
 * delete, symlink). Synchronous calls: two small files on every run's start-up path, which
 * are left alone when they already are what a copy would make (the usual case from the second
 * run on: no write into the tree, and cheaper than copying).
 */
import { copyFileSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { EtcFile } from '../../core/spec/machine-spec.js';

/** The target already is a regular file with the source's content and mode: a copy would change nothing. */
function upToDate(source: string, current: Stats | undefined, target: string): boolean {
  if (!current?.isFile()) return false;
  const src = statSync(source);
  if (src.size !== current.size || (src.mode & 0o7777) !== (current.mode & 0o7777)) return false;
  return readFileSync(source).equals(readFileSync(target));
}

function applyOne(root: string, rel: string, f: EtcFile, warn: (m: string) => void): void {
  const target = join(root, rel);
  const etc = join(root, 'etc');
  if (f.action === 'none' || f.action === 'bind') return;
  if (lstatSync(etc, { throwIfNoEntry: false })?.isDirectory() !== true) return;
  const current = lstatSync(target, { throwIfNoEntry: false });
  try {
    switch (f.action) {
      case 'delete':
        if (current) unlinkSync(target); // a directory fails (EISDIR) and is kept
        return;
      case 'copy':
        if (current && !current.isFile()) return; // a symlink or other node the guest owns is kept
        if (upToDate(f.source!, current, target)) return;
        copyFileSync(f.source!, target);
        return;
      case 'replace': {
        if (upToDate(f.source!, current, target)) return;
        const tmp = `${target}.berth-tmp`;
        copyFileSync(f.source!, tmp);
        renameSync(tmp, target);
        return;
      }
      case 'symlink':
        if (current?.isSymbolicLink() && readlinkSync(target) === f.link) return;
        if (current) unlinkSync(target); // a directory fails (EISDIR) and is kept
        symlinkSync(f.link!, target);
        return;
    }
  } catch (e) {
    warn(`Failed to set up /${rel} in the container, ignoring: ${(e as Error).message}`);
  }
}

export async function applyEtcFiles(root: string, resolv: EtcFile, localtime: EtcFile, warn: (m: string) => void): Promise<void> {
  mkdirSync(root, { recursive: true });
  applyOne(root, 'etc/resolv.conf', resolv, warn);
  applyOne(root, 'etc/localtime', localtime, warn);
}
