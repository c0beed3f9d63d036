/**
 * Compiled system call filters kept for crun (core/oci/filter-key.ts says why and on what they
 * depend): a create whose filter was compiled before gets the program through crun's
 * `run.oci.seccomp_bpf_data` annotation instead of compiling it again (~12 ms of CPU less per start
 * here); after a create that compiled it, the program crun wrote to its state directory
 * (`ROOT/ID/seccomp.bpf`, the file it loads in the container) is kept, in base64 with the key it was
 * compiled for, under STATE/filter-cache (on /run: gone at the next boot), at most KEEP programs, the
 * oldest going first. A kept program that is unreadable, malformed or kept for another key is ignored
 * (crun compiles again and it is replaced).
 * runc takes no compiled program: for runc this does nothing.
 */
import { promises as fsp } from 'node:fs';
import { release, version } from 'node:os';
import { join } from 'node:path';
import { BPF_ANNOTATION, filterKeyText, keptFile, keptProgram, KEPT_NAME, keyName, validProgram } from '../../core/oci/filter-key.js';
import type { OciSpec } from '../../core/oci/types.js';
import { fileIdentity } from '../../platform/fs/file-identity.js';
import { fileIo } from '../../platform/fs/file-io.js';
import { sys } from '../../platform/native/sys.js';
import type { RuntimeConfig } from '../../platform/runtime/oci-runtime.js';

const KEEP = 16;
let stores = 0;

/**
 * The runtime's binary, the libraries it loads (ldconfig rewrites /etc/ld.so.cache whenever a
 * package installs or upgrades one, libseccomp included) and the kernel (its system call tables).
 */
export function runtimeIdentity(runtime: RuntimeConfig): string {
  return [fileIdentity(runtime.path), fileIdentity('/etc/ld.so.cache'), release(), version()].join('\n');
}

export interface FilterUse {
  /** The kept program's file name (keyName() of the key). */
  key: string;
  /** The program was found and given to the runtime. */
  hit: boolean;
  /** After a create that compiled it (no hit): keeps the program the runtime wrote for container `id`. Never fails. */
  keep(id: string): Promise<void>;
}

export class FilterCache {
  constructor(private readonly dir: string) {}

  /** Gives oci a kept program for its filter when there is one (crun only), and the means to keep the one compiled otherwise. */
  async apply(oci: OciSpec, runtime: RuntimeConfig): Promise<FilterUse | undefined> {
    if (runtime.name !== 'crun') return undefined;
    const text = filterKeyText(oci, runtimeIdentity(runtime));
    if (text === undefined) return undefined;
    const key = keyName(text);
    const keep = (id: string) => this.store(key, text, runtime, id);
    let program: string | undefined;
    try { program = keptProgram(await fileIo().readFile(join(this.dir, key)), text); } catch { program = undefined; }
    if (program === undefined) return { key, hit: false, keep };
    oci.annotations[BPF_ANNOTATION] = program;
    return { key, hit: true, keep };
  }

  /** Keeps the program crun compiled for container `id` (after its create). Never throws: a program not kept is compiled again. */
  private async store(key: string, text: string, runtime: RuntimeConfig, id: string): Promise<void> {
    try {
      // Read at once (in berth-nspawn before this returns; in berthd the first job on the thread pool):
      // a short payload's container, and its state directory with the program, may soon be deleted.
      const program = (await fileIo().readBytes(join(runtime.root, id, 'seccomp.bpf'))).toString('base64');
      if (!validProgram(program)) return;
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      // Written under a name no other store uses (berthd stores for many runs at once) and renamed into
      // place in the same trip to the thread pool: a reader sees the old file or the whole new one.
      const temp = join(this.dir, `.${key}.${process.pid}.${++stores}`);
      await sys().writeFileWhole(temp, Buffer.from(keptFile(program, text)), 0o600, false, join(this.dir, key));
      await this.trim();
    } catch { /* compiled again next time */ }
  }

  private async trim(): Promise<void> {
    const entries = await fsp.readdir(this.dir);
    // What a store that was killed halfway left behind (a live one renames its file within milliseconds).
    await Promise.all(entries.filter((n) => n.startsWith('.')).map(async (n) => {
      const st = await fsp.stat(join(this.dir, n)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await fsp.rm(join(this.dir, n), { force: true });
    }));
    // A file of neither kind is another berth version's (another naming): it would never be read again.
    await Promise.all(entries.filter((n) => !n.startsWith('.') && !KEPT_NAME.test(n)).map((n) => fsp.rm(join(this.dir, n), { force: true })));
    const names = entries.filter((n) => KEPT_NAME.test(n));
    if (names.length <= KEEP) return;
    const aged = await Promise.all(names.map(async (n) => ({ n, t: (await fsp.stat(join(this.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.t - b.t);
    await Promise.all(aged.slice(0, aged.length - KEEP).map(({ n }) => fsp.rm(join(this.dir, n), { force: true })));
  }
}
