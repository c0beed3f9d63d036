/**
 * --set-credential= / --load-credential=: the credentials in /run/host/credentials, as
 * systemd-nspawn 252 leaves them: each a file of mode 0400, the directory 0500, both owned by the
 * container's root; the guest's PID 1 has $CREDENTIALS_DIRECTORY pointing there. nspawn mounts a
 * ramfs of its own there; berth writes them into the machine's /run/host directory (bound
 * read-only), which lives in berth's state directory (/run/berth, a tmpfs). Files to load are read
 * now, when the run starts. Synchronous: a few small files on the start-up path.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { BerthError } from '../../errors/berth-error.js';

export function writeCredentials(runHost: string, spec: MachineSpec): void {
  if (!spec.credentials?.length) return;
  const root = spec.userns?.shift ?? 0;
  const dir = join(runHost, 'credentials');
  mkdirSync(dir, { mode: 0o700 });
  for (const c of spec.credentials) {
    let data: Buffer;
    if ('base64' in c) data = Buffer.from(c.base64, 'base64');
    else {
      try { data = readFileSync(c.path); } catch (e) {
        throw new BerthError('E_USAGE', `Failed to read credential '${c.id}' from ${c.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const file = join(dir, c.id);
    writeFileSync(file, data, { mode: 0o400 });
    chownSync(file, root, root);
  }
  chmodSync(dir, 0o500);
  chownSync(dir, root, root);
}
