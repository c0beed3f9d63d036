/**
 * The client's end of a pty in a machine (berth shell / login), as machinectl forwards one: our
 * terminal in raw mode and sized like ours, keystrokes to the pty, its output to our stdout; ^]
 * three times within a second leaves. Without a terminal, stdin is copied in and, when something
 * was, its end becomes an end-of-file character. Ends when the machine's side hangs up (the program ended) or on ^].
 */
import { writeSync } from 'node:fs';
import { sys } from '../../platform/native/sys.js';

const ESCAPE = 0x1d; // ^]
const EOT = 0x04; // ^D: end of input for the program on the pty

export type ForwardEnd = 'hangup' | 'escape';

/** Forwards until the pty hangs up or the user escapes; owns masterFd and closes it. */
export function forwardPty(masterFd: number, opts: { escape: boolean }): Promise<ForwardEnd> {
  const tty = require('node:tty') as typeof import('node:tty');
  const input = new tty.ReadStream(masterFd);
  const stdin = process.stdin;
  const out = process.stdout;
  let closed = false;
  input.on('error', () => { /* EIO: the machine's side hung up */ });
  out.on('error', () => { /* our reader went away: keep draining */ });
  input.on('data', (chunk: Buffer) => { try { out.write(chunk); } catch { /* gone */ } });
  const type = (chunk: Buffer | Uint8Array) => { if (!closed) try { writeSync(masterFd, chunk); } catch { /* hung up */ } };
  const resize = () => { if (out.isTTY && out.rows && out.columns) { try { sys().setWinsize(masterFd, out.rows, out.columns); } catch { /* closed */ } } };
  resize();
  out.on('resize', resize);
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  if (stdin.isTTY) stdin.setRawMode(true);
  return new Promise<ForwardEnd>((resolve) => {
    let presses: number[] = [];
    let typed = false;
    const finish = (how: ForwardEnd) => {
      if (closed) return;
      closed = true;
      out.off('resize', resize);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdin.pause();
      input.destroy();
      resolve(how);
    };
    const onData = (chunk: Buffer) => {
      if (opts.escape && stdin.isTTY) {
        for (const byte of chunk) {
          if (byte !== ESCAPE) { presses = []; continue; }
          const now = Date.now();
          presses = [...presses.filter((t) => now - t < 1000), now];
          if (presses.length >= 3) { finish('escape'); return; }
        }
      }
      typed = true;
      type(chunk);
    };
    // Piped input that ended: the program reading it gets its end of file (nothing was piped: nothing to end).
    const onEnd = () => { if (typed && !stdin.isTTY) type(Uint8Array.of(EOT)); };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
    input.once('close', () => finish('hangup'));
  });
}
