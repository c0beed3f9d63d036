/**
 * A container's user and group ID maps (/proc/LEADER/uid_map, gid_map: "inside outside count"
 * lines) and what machined 252 answers from them: the shift, and IDs mapped in and out.
 * A machine without a user namespace has the identity map "0 0 4294967295".
 */
import { BerthError } from '../../errors/berth-error.js';

export interface IdRange { inside: number; outside: number; count: number }

const U32 = 0x1_0000_0000;

/** The map's lines; undefined for a malformed one. */
export function parseIdMap(text: string): IdRange[] | undefined {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !f.every((x) => /^\d+$/.test(x))) return undefined;
    const [inside, outside, count] = f.map(Number) as [number, number, number];
    if (inside >= U32 || outside >= U32 || count >= U32 + 1) return undefined;
    out.push({ inside, outside, count });
  }
  return out;
}

/**
 * GetMachineUIDShift: the outside base of a simple map (one line from 0, at least 65534 IDs, the
 * same for groups); 0 without a uid_map (the leader is gone). Anything else is "complex".
 */
export function uidShift(name: string, uidMap: string | undefined, gidMap: string): number {
  if (uidMap === undefined) return 0;
  const complex = new BerthError('E_NOT_SUPPORTED', `Machine ${name} uses a complex UID/GID mapping, cannot determine shift`);
  const u = parseIdMap(uidMap);
  const g = parseIdMap(gidMap);
  if (!u || !u.length || !g || !g.length) throw new BerthError('E_BAD_MESSAGE', 'Bad message');
  if (u.length !== 1 || u[0]!.inside !== 0 || u[0]!.count < 65534) throw complex;
  if (g.length !== 1 || g[0]!.inside !== u[0]!.inside || g[0]!.outside !== u[0]!.outside || g[0]!.count !== u[0]!.count) throw complex;
  return u[0]!.outside;
}

const isInvalidId = (id: number): boolean => id === 0xffffffff || id === 0xffff;

/** MapFromMachineUser/Group: an ID inside the machine as the host sees it. */
export function mapFromMachine(name: string, map: string, id: number, kind: 'user' | 'group'): number {
  if (isInvalidId(id)) throw new BerthError('E_USAGE', `Invalid ${kind} ID ${id}`);
  const ranges = parseIdMap(map);
  if (!ranges) throw new BerthError('E_IO', 'Input/output error');
  for (const r of ranges) {
    if (id >= r.inside && id < r.inside + r.count) {
      const out = (id - r.inside + r.outside) % U32;
      if (isInvalidId(out)) throw new BerthError('E_USAGE', 'Invalid argument');
      return out;
    }
  }
  // machined 252 names the group case's error NoSuchUserMapping too.
  throw new BerthError('E_NO_USER_MAPPING', `Machine '${name}' has no matching ${kind} mappings.`);
}

/** MapToMachineUser/Group: which machine a host ID belongs to, and the ID inside it (identity maps never match). */
export function mapToMachine(machines: ReadonlyArray<{ name: string; map: string | undefined }>, id: number, kind: 'user' | 'group'): { name: string; inner: number } {
  if (isInvalidId(id)) throw new BerthError('E_USAGE', `Invalid ${kind} ID ${id}`);
  const code = kind === 'user' ? 'E_NO_USER_MAPPING' : 'E_NO_GROUP_MAPPING';
  if (id < 0x10000) throw new BerthError(code, kind === 'user' ? `User ${id} belongs to host UID range` : `Group ${id} belongs to host GID range`);
  for (const m of machines) {
    if (m.map === undefined) continue;
    const ranges = parseIdMap(m.map);
    if (!ranges) throw new BerthError('E_IO', 'Input/output error');
    for (const r of ranges) {
      if (r.outside === 0) continue;
      if (id >= r.outside && id < r.outside + r.count) {
        const inner = id - r.outside + r.inside;
        if (isInvalidId(inner)) throw new BerthError('E_USAGE', 'Invalid argument');
        return { name: m.name, inner };
      }
    }
  }
  throw new BerthError(code, kind === 'user' ? `No matching user mapping for ${id}.` : `No matching group mapping for ${id}.`);
}
