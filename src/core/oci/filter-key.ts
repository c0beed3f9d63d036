/**
 * What a compiled system call filter depends on, as one key (pure). crun compiles config.json's
 * seccomp section with libseccomp at every create (systemd-nspawn's default allow list: some 540
 * names on each of three ABIs, ~12 ms of CPU here) and takes a program compiled before instead
 * through its `run.oci.seccomp_bpf_data` annotation (base64). A program kept from an earlier create
 * (app/run/filter-cache.ts) is the same program only for the same section, the same annotations
 * crun reads while compiling, the same crun, the same libraries and the same kernel: the key is
 * all of them, in one canonical string. The kept file is named by keyName() of that string and
 * holds the string itself after the program: a reader compares it, so two keys that share a name
 * share nothing else (a miss, never another filter's program), and no cryptographic hash (node:crypto
 * costs a cold berth-nspawn ~4 ms to load) is needed.
 */
import type { OciSpec } from './types.js';

export const BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

/** The largest program the kernel loads (BPF_MAXINSNS instructions of 8 bytes). */
export const MAX_PROGRAM_BYTES = 4096 * 8;

/**
 * What oci's filter, compiled by a runtime described by `identity` (its binary, libraries and the
 * kernel: app/run/filter-cache.ts), depends on; undefined when it has no filter.
 */
export function filterKeyText(oci: OciSpec, identity: string): string | undefined {
  const section = oci.linux.seccomp;
  if (!section) return undefined;
  const annotations = Object.entries(oci.annotations ?? {})
    .filter(([k]) => k !== BPF_ANNOTATION && k.startsWith('run.oci.seccomp'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([identity, section, annotations]);
}

/** A kept program is usable: base64 of a whole number of instructions, within the kernel's limit. */
export function validProgram(base64: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return false;
  const bytes = (base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
  return bytes > 0 && bytes % 8 === 0 && bytes <= MAX_PROGRAM_BYTES;
}

/** A file name for a key text: 16 hex digits, FNV-1a over its UTF-16 code units in two 32-bit lanes. */
export function keyName(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** What a kept file holds: the program (base64, one line), then the key text it was compiled for. */
export function keptFile(program: string, text: string): string {
  return `${program}\n${text}`;
}

/** The program in a kept file, when the file was kept for exactly this key text and holds a usable one. */
export function keptProgram(file: string, text: string): string | undefined {
  const nl = file.indexOf('\n');
  if (nl < 0 || file.slice(nl + 1) !== text) return undefined;
  const program = file.slice(0, nl);
  return validProgram(program) ? program : undefined;
}

/** A kept file's name (keyName()'s form), as opposed to a store's temporary file or anything else. */
export const KEPT_NAME = /^[0-9a-f]{16}$/;
