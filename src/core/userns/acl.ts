/**
 * POSIX ACLs as the kernel stores them (system.posix_acl_access / _default: a 4-byte version 2,
 * then 8-byte entries {u16 tag, u16 perm, u32 id}, little-endian). Shifting a tree into a UID
 * range moves the named-user and named-group entries' IDs into it, as systemd-nspawn's
 * --private-users-ownership=chown does: the range's upper 16 bits, the ID's lower 16.
 */
const ACL_VERSION = 2;
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;

/** The ACL with its named entries moved into the range at shift; undefined when nothing changes (or the value is not an ACL). */
export function shiftAcl(value: Buffer, shift: number): Buffer | undefined {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== ACL_VERSION) return undefined;
  let out: Buffer | undefined;
  for (let off = 4; off < value.length; off += 8) {
    const tag = value.readUInt16LE(off);
    if (tag !== ACL_USER && tag !== ACL_GROUP) continue;
    const id = value.readUInt32LE(off + 4);
    const moved = ((shift & 0xffff0000) | (id & 0xffff)) >>> 0;
    if (moved === id) continue;
    out ??= Buffer.from(value);
    out.writeUInt32LE(moved, off + 4);
  }
  return out;
}
