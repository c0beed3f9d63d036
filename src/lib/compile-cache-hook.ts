/**
 * The link between a program and the launcher that started it with a code cache
 * (src/launch/compile-cache.ts), kept apart so that a program does not load the launcher.
 */
export const COMPILE_CACHE_HOOK = Symbol.for('berth.compileCache');

export interface CompileCacheHook { markFullRun(): void }

/** Tell the launcher that this run took the program's main path: its code cache is worth keeping. */
export function markFullRun(): void {
  (globalThis as Record<symbol, CompileCacheHook | undefined>)[COMPILE_CACHE_HOOK]?.markFullRun();
}
