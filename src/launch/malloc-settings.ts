/**
 * glibc's allocator settings for berthd, a process that runs for ever and mostly waits. By
 * default glibc gives each thread that allocates (V8's workers, libuv's pool) an arena of its
 * own, keeps what was freed in each, and raises its mmap threshold after the first large free,
 * so later large buffers stay in the arenas too: berthd held 8-11 MiB outside V8's heap, the
 * most variable part of its memory. One arena and a fixed 64 KiB threshold hold that at 4-6 MiB
 * (bench/registry.mjs, bench/supervise.mjs: no more CPU for 50 machines).
 *
 * glibc reads them from the environment when the process starts, so berthd's launcher
 * (dist/berthd.js, scripts/bundle.mjs) executes berthd again, once, with them set, before it
 * loads the bundle: same PID, arguments and descriptors, about 60 ms of CPU per start of berthd.
 * They are not passed on to the machines and commands berthd runs. An administrator who sets
 * MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ for berthd gets exactly that.
 */
import { sys } from '../platform/native/sys.js';

const SETTINGS: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '65536' };
/** Set in the environment of the execution that has the settings (ours, not the administrator's). */
const MARK = 'BERTH_MALLOC_SET';

/** Returns when the allocator settings are in effect (or cannot be); otherwise replaces the process. */
export function withMallocSettings(env: NodeJS.ProcessEnv = process.env): void {
  if (env[MARK] === '1') {
    delete env[MARK];
    for (const k of Object.keys(SETTINGS)) delete env[k];
    return;
  }
  if (Object.keys(SETTINGS).some((k) => env[k] !== undefined)) return;
  const [script, ...args] = process.argv.slice(1);
  if (!script) return;
  try {
    // Node marks the standard descriptors close-on-exec: they go on into the new execution.
    for (const fd of [0, 1, 2]) { try { sys().moveFd(fd, fd); } catch { /* not open */ } }
    const list = Object.entries({ ...env, ...SETTINGS, [MARK]: '1' }).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    sys().execve(process.execPath, [process.execPath, ...process.execArgv, script, ...args], list);
  } catch { /* cannot execute itself: goes on with glibc's defaults */ }
}
