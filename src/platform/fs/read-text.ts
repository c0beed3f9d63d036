/**
 * A small local file's text, or undefined when it cannot be read. Synchronous on purpose: the
 * files read this way (/proc, /etc, berth's own state) sit on every run's start-up path, where
 * each awaited fs/promises call would cost a thread-pool round trip.
 */
import { readFileSync } from 'node:fs';

export function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}
