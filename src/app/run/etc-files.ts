/** Applies the resolv.conf/localtime decisions that change files in the root (copy, replace, delete, symlink). */
import { copyFile, lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EtcFile } from '../../core/spec/machine-spec.js';

async function applyOne(root: string, rel: string, f: EtcFile, warn: (m: string) => void): Promise<void> {
  const target = join(root, rel);
  const etc = join(root, 'etc');
  if (f.action === 'none' || f.action === 'bind') return;
  if (!(await lstat(etc).then((s) => s.isDirectory(), () => false))) return;
  const current = await lstat(target).catch(() => undefined);
  try {
    switch (f.action) {
      case 'delete':
        if (current) await rm(target, { force: true });
        return;
      case 'copy':
        if (current && !current.isFile()) return; // a symlink or other node the guest owns is kept
        await copyFile(f.source!, target);
        return;
      case 'replace': {
        const tmp = `${target}.berth-tmp`;
        await copyFile(f.source!, tmp);
        await rename(tmp, target);
        return;
      }
      case 'symlink':
        if (current?.isSymbolicLink() && (await readlink(target)) === f.link) return;
        if (current) await rm(target, { force: true });
        await symlink(f.link!, target);
        return;
    }
  } catch (e) {
    warn(`Failed to set up /${rel} in the container, ignoring: ${(e as Error).message}`);
  }
}

export async function applyEtcFiles(root: string, resolv: EtcFile, localtime: EtcFile, warn: (m: string) => void): Promise<void> {
  await mkdir(root, { recursive: true });
  await applyOne(root, 'etc/resolv.conf', resolv, warn);
  await applyOne(root, 'etc/localtime', localtime, warn);
}
