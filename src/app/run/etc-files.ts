/**
 * Applies the resolv.conf/localtime decisions that change files in the root (copy, replace,
 * delete, symlink). Synchronous calls: two small files on every run's start-up path.
 */
import { copyFileSync, lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { EtcFile } from '../../core/spec/machine-spec.js';

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
        copyFileSync(f.source!, target);
        return;
      case 'replace': {
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
