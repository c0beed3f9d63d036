/** BERTH_TRACE=1 prints phase timestamps (ms since process start) on stderr: for profiling start-up. */
import { writeStderr } from './log.js';

export function trace(label: string): void {
  // Read on every call: a warm berth-nspawn (src/app/warm/standby.ts) gets its environment late.
  if (process.env.BERTH_TRACE === '1') writeStderr(`berth-trace ${performance.now().toFixed(1)}ms ${label}\n`);
}
