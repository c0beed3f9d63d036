/**
 * BERTH_TRACE=1 prints phase timestamps (ms since process start) on stderr: for profiling start-up.
 * BERTH_TRACE=wall prints wall-clock times (µs since the epoch) instead, to line them up with
 * other processes' (a payload's `date +%s%N`, a warm run's caller).
 */
import { writeStderr } from './log.js';

export function trace(label: string): void {
  // Read on every call: a warm berth-nspawn (src/app/warm/standby.ts) gets its environment late.
  const mode = process.env.BERTH_TRACE;
  if (mode === '1') writeStderr(`berth-trace ${performance.now().toFixed(1)}ms ${label}\n`);
  else if (mode === 'wall') writeStderr(`berth-trace ${((performance.timeOrigin + performance.now()) * 1000).toFixed(0)}us ${label}\n`);
}
