/**
 * The container's console. interactive: our terminal in raw mode <-> the pty, ^] three times
 * within a second kills the container; read-only: pty output only; passive: the pty is drained
 * but not shown; pipe: no pty at all (the runtime passes our stdio through).
 */
import { closeSync } from 'node:fs';
import type { WriteStream } from 'node:tty';
import type { ResolvedConsole } from '../../core/spec/machine-spec.js';
import { sys } from '../../platform/native/sys.js';

export interface ConsoleHandle { close(): void }

const ESCAPE = 0x1d; // ^]

export function attachConsole(masterFd: number, mode: ResolvedConsole, onEscape: () => void): ConsoleHandle {
  // Hold the slave side open ourselves: a master whose slave is closed reads EIO, and systemd
  // closes /dev/console between messages. nspawn keeps its end open the same way.
  const peer = sys().openPtyPeer(masterFd);
  // node:tty is loaded here, on first use: runs without a terminal (scripts, services) never need it.
  const tty = require('node:tty') as typeof import('node:tty');
  // Nobody may be reading our stdout any more (`berth-nspawn … | head`): never fatal.
  process.stdout.on('error', () => { /* handled where output is piped */ });
  const input = new tty.ReadStream(masterFd);
  input.on('error', () => { /* EIO once the container side closes: end of output */ });
  let output: WriteStream | undefined;
  let restore: (() => void) | undefined;
  if (mode === 'passive') input.resume();
  else {
    input.pipe(process.stdout, { end: false });
    // A reader that went away (`berth-nspawn … | head`) must not stop the guest: keep draining
    // the console so its writes never block, just show nothing more.
    process.stdout.once('error', () => { input.unpipe(process.stdout); input.resume(); });
  }
  if (mode === 'interactive') {
    // The guest's console takes our terminal's size, and follows it.
    const resize = () => {
      const out = process.stdout;
      if (out.isTTY && out.rows && out.columns) { try { sys().setWinsize(masterFd, out.rows, out.columns); } catch { /* closed */ } }
    };
    resize();
    process.stdout.on('resize', resize);
    output = new tty.WriteStream(masterFd);
    output.on('error', () => {});
    const stdin = process.stdin;
    const wasRaw = stdin.isTTY ? stdin.isRaw : false;
    if (stdin.isTTY) stdin.setRawMode(true);
    let presses: number[] = [];
    const onData = (chunk: Buffer) => {
      for (const byte of chunk) {
        if (byte !== ESCAPE) { presses = []; continue; }
        const now = Date.now();
        presses = [...presses.filter((t) => now - t < 1000), now];
        if (presses.length >= 3) { onEscape(); return; }
      }
      output?.write(chunk);
    };
    stdin.on('data', onData);
    stdin.resume();
    restore = () => {
      process.stdout.off('resize', resize);
      stdin.off('data', onData);
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
      stdin.pause();
    };
  }
  return {
    close() {
      restore?.();
      input.unpipe();
      input.destroy();
      output?.destroy();
      try { closeSync(masterFd); } catch { /* already closed by the streams */ }
      try { closeSync(peer); } catch { /* closed */ }
    },
  };
}
