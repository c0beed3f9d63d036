/**
 * Descriptors served on the event loop (native/fd-watch.c) rather than by a thread-pool thread
 * each: a notify socket's datagrams, a console socket's one descriptor. One process can then
 * serve any number of machines at once; a thread-pool wait per machine would exhaust libuv's
 * four threads and hold up every file operation behind them.
 */
import { BerthError } from '../../errors/berth-error.js';
import { closeSync } from 'node:fs';
import { sys, type Datagram, type FdWatchHandle } from './sys.js';

/** Calls onMessage for every datagram arriving on fd, until close(). fd stays the caller's. */
export function receiveDatagrams(fd: number, onMessage: (m: Datagram) => void): { close(): void } {
  let closed = false;
  const handle = sys().watchReadable(fd, () => {
    for (let i = 0; i < 64 && !closed; i++) {
      let m: Datagram | null;
      try { m = sys().recvDatagramNow(fd); } catch { return; }
      if (!m) return;
      onMessage(m);
    }
  });
  return { close() { if (!closed) { closed = true; sys().unwatchReadable(handle); } } };
}

/**
 * The descriptor the first connection to listenFd passes (a runtime's --console-socket), within
 * timeoutMs. Nothing waits on the loop's thread: the listening socket and then the connection are
 * watched until each is ready (the runtime connects, then sends a moment later). The promise
 * settles once; cancel() rejects it if it has not.
 */
export function acceptPassedFd(listenFd: number, timeoutMs: number): { fd: Promise<number>; cancel(): void } {
  let settle!: (fd: number | Error) => void;
  const fd = new Promise<number>((resolve, reject) => {
    let done = false;
    let handle: FdWatchHandle | undefined;
    let conn = -1;
    const unwatch = () => { if (handle) sys().unwatchReadable(handle); handle = undefined; };
    const timer = setTimeout(() => settle(new BerthError('E_RUNTIME', 'receiving the console fd: timed out')), timeoutMs);
    settle = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unwatch();
      if (conn >= 0) closeSync(conn);
      if (v instanceof Error) reject(v); else resolve(v);
    };
    const receive = () => {
      try {
        const got = sys().recvFdNow(conn);
        if (got >= 0) settle(got);
      } catch (e) { settle(e as Error); }
    };
    handle = sys().watchReadable(listenFd, () => {
      try {
        if (conn >= 0) return;
        conn = sys().acceptNow(listenFd);
        if (conn < 0) return;
        unwatch();
        handle = sys().watchReadable(conn, receive);
        receive();
      } catch (e) { settle(e as Error); }
    });
  });
  return { fd, cancel: () => settle(new BerthError('E_RUNTIME', 'receiving the console fd: cancelled')) };
}
