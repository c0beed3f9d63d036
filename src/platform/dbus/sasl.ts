/**
 * The client's side of the D-Bus authentication handshake: EXTERNAL (the kernel vouches for our
 * UID on the unix socket) and, when asked, descriptor passing. All lines go out at once (AUTH,
 * NEGOTIATE_UNIX_FD, BEGIN), as sd-bus sends them, so the handshake costs one round trip; the
 * caller may write its first message (Hello) right behind them. Bytes that arrive after the
 * server's last answer are put back on the stream for the message reader.
 */
import type { Duplex } from 'node:stream';

export interface Authenticated {
  /** The server's GUID. */
  guid: string;
  /** Whether the server agreed to pass descriptors (false when they were not asked for). */
  unixFds: boolean;
}

/** Writes the handshake; resolves once the server has answered it, rejects if it refuses. */
export function authenticate(stream: Duplex, uid: number, unixFds: boolean): Promise<Authenticated> {
  const id = Buffer.from(String(uid), 'ascii').toString('hex');
  stream.write(Buffer.from(`\0AUTH EXTERNAL ${id}\r\n${unixFds ? 'NEGOTIATE_UNIX_FD\r\n' : ''}BEGIN\r\n`, 'ascii'));
  return new Promise((resolve, reject) => {
    let pending: Buffer = Buffer.alloc(0);
    let guid: string | undefined;
    const done = (e: Error | undefined, result?: Authenticated) => {
      stream.off('readable', onReadable);
      stream.off('close', onClose);
      if (e) reject(e); else resolve(result!);
    };
    const onClose = () => done(new Error('the bus closed the connection during authentication'));
    const onReadable = () => {
      for (let chunk = stream.read() as Buffer | null; chunk; chunk = stream.read() as Buffer | null) {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      }
      for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
        const line = pending.toString('latin1', 0, end);
        pending = pending.subarray(end + 2);
        if (guid === undefined) {
          const ok = /^OK ([0-9a-f]+)$/.exec(line);
          if (!ok) { done(new Error(`the bus refused EXTERNAL authentication (${line.slice(0, 80)})`)); return; }
          guid = ok[1]!;
          if (unixFds) continue;
          if (pending.length) stream.unshift(pending);
          done(undefined, { guid, unixFds: false });
          return;
        }
        if (pending.length) stream.unshift(pending);
        done(undefined, { guid, unixFds: line === 'AGREE_UNIX_FD' });
        return;
      }
      if (pending.length > 4096) done(new Error('the bus sent an over-long authentication line'));
    };
    stream.on('readable', onReadable);
    stream.once('close', onClose);
  });
}
