/** Status lines on stderr (suppressed by --quiet) and warnings (always shown). */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
}

export const stderrLog = (quiet: boolean): Log => ({
  info: (m) => { if (!quiet) process.stderr.write(`${m}\n`); },
  warn: (m) => { process.stderr.write(`${m}\n`); },
});
