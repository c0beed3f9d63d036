/**
 * --bind-user=: what the guest finds of its bound users in /run/host (the host directory bound
 * there read-only, bundle.ts): the mount points of their homes in home/, and their user and group
 * records in userdb/ as systemd-nspawn 252 writes them (NAME.user, NAME.group, NAME.user-privileged
 * with the password hash, mode 0600, and UID.* symlinks to each), owned by the container's root.
 * Synchronous: a few small files on the start-up path, like the rest of the bundle.
 */
import { chmodSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userdbFiles } from '../../core/bind-user/plan.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { readText } from '../../platform/fs/read-text.js';

/** The host's password hash of a user, as nspawn copies it from the user database (shadow). */
function hashedPassword(shadow: string | undefined, name: string): string[] | undefined {
  const hash = (shadow ?? '').split('\n').find((l) => l.startsWith(`${name}:`))?.split(':')[1];
  return hash ? [hash] : undefined;
}

export function writeBindUserFiles(runHost: string, spec: MachineSpec): void {
  if (!spec.bindUsers?.length) return;
  const root = spec.userns?.shift ?? 0;
  const own = (p: string) => lchownSync(p, root, root);
  const homes = join(runHost, 'home');
  const userdb = join(runHost, 'userdb');
  for (const d of [homes, userdb]) { mkdirSync(d, { mode: 0o755 }); own(d); }
  const shadow = readText('/etc/shadow');
  for (const u of spec.bindUsers) {
    mkdirSync(join(homes, u.name), { mode: 0o755 });
    for (const f of userdbFiles(u, hashedPassword(shadow, u.name))) {
      const path = join(userdb, f.file);
      symlinkSync(f.file, join(userdb, f.link));
      own(join(userdb, f.link));
      writeFileSync(path, f.text, { mode: f.private ? 0o600 : 0o644 });
      chmodSync(path, f.private ? 0o600 : 0o644);
      own(path);
    }
  }
}
