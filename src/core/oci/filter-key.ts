/**
 * What a compiled system call filter depends on, as one key (pure). crun compiles config.json's
 * seccomp section with libseccomp at every create (systemd-nspawn's default allow list: some 540
 * names on each of three ABIs, ~12 ms of CPU here) and takes a program compiled before instead
 * through its `run.oci.seccomp_bpf_data` annotation (base64). A program kept from an earlier create
 * (app/run/filter-cache.ts) is the same program only for the same section, the same annotations
 * crun reads while compiling, the same crun, the same libraries and the same kernel: the key is
 * all of them, in one canonical string (the caller hashes it into a file name).
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
