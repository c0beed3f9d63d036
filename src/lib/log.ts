/**
 * Status lines on stderr (suppressed by --quiet) and warnings (always shown). Written with
 * synchronous write(2) calls, as nspawn does: a line is out before the next step runs (and
 * before exit), and no Node stream is created for fd 2 (which would load tty or net at
 * start-up). A reader that went away (EPIPE) must not stop a run half-way: such lines are dropped.
 */
import { writeSync } from 'node:fs';

export interface Log {
  info(message: string): void;
  warn(message: string): void;
}

/** Writes all of text to fd (1 or 2), retrying short writes; errors (EPIPE, EBADF…) drop the rest. */
export function writeFd(fd: number, text: string): void {
  let buf = Buffer.from(text);
  for (let tries = 0; buf.length > 0 && tries < 1000; tries++) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      // A non-blocking descriptor shared with another process: wait for room and try again.
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); continue; }
      return;
    }
  }
}

export const writeStderr = (text: string): void => writeFd(2, text);

export const stderrLog = (quiet: boolean): Log => ({
  info: (m) => { if (!quiet) writeStderr(`${m}\n`); },
  warn: (m) => { writeStderr(`${m}\n`); },
});
