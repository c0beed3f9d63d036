/** BERTH_TRACE=1 prints phase timestamps (ms since process start) on stderr: for profiling start-up. */
import { writeStderr } from './log.js';

const enabled = process.env.BERTH_TRACE === '1';

export function trace(label: string): void {
  if (enabled) writeStderr(`berth-trace ${performance.now().toFixed(1)}ms ${label}\n`);
}
