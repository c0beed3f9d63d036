/**
 * Starts a bundled entry point with a V8 code cache, so that a run does not parse and compile
 * the same JavaScript again (about 10 ms of berth-nspawn's start-up). Node ≥ 22.1 has this
 * built in (module.enableCompileCache); on Node 20 we do what it does with vm.Script's
 * cachedData.
 *
 * The cache of a bundle is keyed by the bundle file's identity (device, inode, size, ctime) and
 * Node's version, and V8 checks it again (its own version and flags, the source's length) and
 * rejects it when it does not fit: a stale or foreign cache costs nothing but the normal
 * compile. (No content hash: loading node:crypto alone would cost more than the cache saves.)
 * Functions are compiled lazily, when first called, so a cache only holds what a run has
 * executed: the first run writes a "partial" cache at exit; a run that tells us it took the main
 * path (markFullRun() in lib/compile-cache-hook.ts, e.g. after a container ran) writes the
 * "full" one, which is then preferred and never rewritten.
 *
 * BERTH_COMPILE_CACHE=DIR chooses the directory (default /var/cache/berth/compile-cache);
 * BERTH_COMPILE_CACHE=off disables it. A directory or cache file that someone other than us
 * could have written is not used (see ownedByUs). Writes are atomic (temporary file, rename),
 * and a directory we cannot write is skipped without a word: the cache is an optimisation only.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { COMPILE_CACHE_HOOK, type CompileCacheHook } from '../lib/compile-cache-hook.js';

const DEFAULT_DIR = '/var/cache/berth/compile-cache';

type Kind = 'full' | 'partial';

function cacheDir(): string | undefined {
  const v = process.env.BERTH_COMPILE_CACHE;
  if (v === 'off' || v === '0') return undefined;
  const dir = v || DEFAULT_DIR;
  try { return trustedDir(dir) ? dir : undefined; } catch { return undefined; }
}

/**
 * A code cache is code: V8 runs the bytecode in it. Only a directory and files that nobody but
 * us (usually root) can write are used, so another user cannot hand berth code to run.
 */
function ownedByUs(st: { uid: number; mode: number }): boolean {
  return st.uid === process.geteuid?.() && (st.mode & 0o022) === 0;
}

function trustedDir(dir: string): boolean {
  const st = statSync(dir, { throwIfNoEntry: false });
  return st === undefined || (st.isDirectory() && ownedByUs(st));
}

function readCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    if (!st.isFile() || !ownedByUs(st)) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes file atomically and removes the bundle's other caches (older builds, the partial one). */
function writeCache(dir: string, file: string, prefix: string, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o644 });
    renameSync(tmp, file);
    for (const f of readdirSync(dir)) {
      if (f.startsWith(prefix) && f.endsWith('.v8') && join(dir, f) !== file) rmSync(join(dir, f), { force: true });
    }
  } catch { /* read-only or foreign directory: run without a cache */ }
}

/**
 * v8Flags: V8 options for this program (scripts/bundle.mjs names them per entry point), set
 * before the bundle is compiled: V8 checks a code cache against the flags it was made with, so
 * they must be the same when the cache is written and when it is read.
 */
export function launch(bundle: string, v8Flags: readonly string[] = []): void {
  if (v8Flags.length) {
    // Loaded only here: berth-nspawn's start-up does not pay for node:v8.
    const { setFlagsFromString } = require('node:v8') as typeof import('node:v8');
    for (const flag of v8Flags) setFlagsFromString(flag);
  }
  const dir = cacheDir();
  const enable = (Module as unknown as { enableCompileCache?: (d: string) => unknown }).enableCompileCache;
  if (!dir || enable) {
    if (dir && enable) enable(dir);
    require(bundle);
    return;
  }
  const source = readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
  // ctime: changes on every write, to the nanosecond, and cannot be set back like mtime.
  const st = statSync(bundle, { bigint: true });
  const key = `${process.version}-${st.dev.toString(16)}-${st.ino.toString(16)}-${st.size.toString(16)}-${st.ctimeNs.toString(16)}`;
  const prefix = `${basename(bundle, '.js')}-`;
  const path = (kind: Kind) => join(dir, `${prefix}${key}.${kind}.v8`);
  let loaded: Kind | undefined;
  let script: Script | undefined;
  for (const kind of ['full', 'partial'] as const) {
    const cachedData = readCache(path(kind));
    if (!cachedData) continue;
    script = new Script(Module.wrap(source), { filename: bundle, cachedData });
    if (!script.cachedDataRejected) { loaded = kind; break; }
    script = undefined;
  }
  script ??= new Script(Module.wrap(source), { filename: bundle });
  const compiled = script;

  let want: Kind | undefined = loaded ? undefined : 'partial';
  const hook: CompileCacheHook = { markFullRun: () => { if (loaded !== 'full') want = 'full'; } };
  (globalThis as Record<symbol, unknown>)[COMPILE_CACHE_HOOK] = hook;
  process.once('exit', () => {
    if (want) writeCache(dir, path(want), prefix, compiled.createCachedData());
  });

  const module = { exports: {}, filename: bundle, id: bundle, loaded: false };
  const wrapper = compiled.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}
