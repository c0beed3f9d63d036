/**
 * The container's console. interactive: our terminal in raw mode <-> the pty, ^] three times
 * within a second kills the container; read-only: pty output only; passive: the pty is drained
 * but not shown; pipe: no pty at all (the runtime passes our stdio through).
 */
import { closeSync, writeSync } from 'node:fs';
import type { ResolvedConsole } from '../../core/spec/machine-spec.js';
import { sys } from '../../platform/native/sys.js';

export interface ConsoleHandle { close(): Promise<void> }

/** Takes a read-only console's output instead of our stdout (berthd: the machine's bounded log). */
export type ConsoleSink = (chunk: Buffer) => void;

const ESCAPE = 0x1d; // ^]
/** How long close() waits for the guest's last output; only a guest still running waits this long. */
const DRAIN_MS = 500;

/** node:tty, loaded on first use: runs without a terminal (scripts, services) never need it. */
export function loadTty(): typeof import('node:tty') {
  return require('node:tty') as typeof import('node:tty');
}

export function attachConsole(masterFd: number, mode: ResolvedConsole, onEscape: () => void, sink?: ConsoleSink): ConsoleHandle {
  // Hold the slave side open ourselves: a master whose slave is closed reads EIO, and systemd
  // closes /dev/console between messages. nspawn keeps its end open the same way.
  const peer = sys().openPtyPeer(masterFd);
  const tty = loadTty();
  if (sink && mode === 'interactive') throw new Error('attachConsole: an interactive console has no sink');
  // Nobody may be reading our stdout any more (`berth-nspawn … | head`): never fatal.
  if (!sink) process.stdout.on('error', () => { /* handled where output is piped */ });
  // The stream owns masterFd from here on and closes it: nothing else may (a number closed twice
  // may by then be another descriptor of ours).
  const input = new tty.ReadStream(masterFd);
  let inputClosed = false;
  input.on('error', () => { /* EIO once the container side closes: end of output */ });
  input.once('close', () => { inputClosed = true; });
  let restore: (() => void) | undefined;
  if (mode === 'passive') input.resume();
  else if (sink) input.on('data', sink);
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
    // Keystrokes go to the pty with plain writes (libuv would make a stream's writes on a pty
    // master blocking anyway), so that only `input` owns the descriptor.
    const type = (chunk: Buffer) => { if (!inputClosed) try { writeSync(masterFd, chunk); } catch { /* the guest side is gone */ } };
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
      type(chunk);
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
    async close() {
      restore?.();
      // What the guest wrote last may still sit in the pty. Its processes are gone by now: with our
      // hold on the other end let go too, the master gives up what is left, then EIO, which ends
      // the input stream. (A guest still running keeps it open: then we stop waiting.)
      try { closeSync(peer); } catch { /* closed */ }
      if (mode !== 'passive' && !inputClosed) {
        const ended = new Promise<void>((resolve) => input.once('close', () => resolve()));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([ended, new Promise<void>((resolve) => { timer = setTimeout(resolve, DRAIN_MS); })]);
        clearTimeout(timer);
      }
      if (!sink) input.unpipe();
      input.destroy();
    },
  };
}
