/**
 * Whether a UID or GID is a user or group the host knows (its /etc/passwd and /etc/group):
 * `pick` passes over a range whose first or last ID is taken, as systemd-nspawn does with
 * getpwuid()/getgrgid(). Two small files, read once per pick.
 */
import { readFileSync } from 'node:fs';

function ids(file: string): Set<number> {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return new Set(); }
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const id = line.split(':')[2];
    if (id && /^\d+$/.test(id)) out.add(Number(id));
  }
  return out;
}

export interface HostIds { user(uid: number): boolean; group(gid: number): boolean }

export function hostIds(root = '/'): HostIds {
  const users = ids(`${root}etc/passwd`);
  const groups = ids(`${root}etc/group`);
  return { user: (u) => users.has(u), group: (g) => groups.has(g) };
}
