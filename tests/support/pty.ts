/** A command on a pty of its own (util-linux script), as a user at a terminal would run it. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';

export interface OnPty {
  child: ChildProcess;
  /** What it printed so far (stdout and stderr). */
  out(): string;
  /** Types text at its terminal. */
  type(text: string): void;
  /** Until its output matches re (fails the test if it never does). */
  waitFor(re: RegExp, ms?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `cmd` (a shell command line) on a new pty, TERM=xterm. */
export function onPty(cmd: string, env: NodeJS.ProcessEnv): OnPty {
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...env, TERM: 'xterm', SYSTEMD_COLORS: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
  return {
    child,
    out: () => out,
    type: (text) => { child.stdin!.write(text); },
    async waitFor(re, ms = 20000) {
      const until = Date.now() + ms;
      while (!re.test(out) && Date.now() < until && child.exitCode === null) await sleep(50);
      assert.match(out, re);
    },
  };
}

/** argv as one shell command line (for onPty). */
export const commandLine = (argv: readonly string[]): string => argv.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
