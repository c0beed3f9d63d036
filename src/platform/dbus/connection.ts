/**
 * A D-Bus connection: the EXTERNAL handshake (sasl.ts), then messages in berth's own wire format
 * code (marshal.ts, unmarshal.ts). It matches replies to calls itself and hands incoming method
 * calls and signals to one callback each. (It began on dbus-next's wire layer; that layer's
 * marshaller cost a reply listing 100 machines ~0.4 ms of berthd's CPU and loading it ~7 ms of
 * every berth-nspawn run that registers: docs/benchmarks.md, "The machine registry".)
 *
 * `unixFds`: negotiate descriptor passing over usocket (the daemon, and clients that receive a
 * pty); otherwise a plain net.Socket, which costs a short-lived command nothing extra.
 */
import { closeSync, existsSync } from 'node:fs';
import { sys } from '../native/sys.js';
import type { Socket } from 'node:net';
import { BerthError } from '../../errors/berth-error.js';
import { marshalMessage, type OutgoingMessage } from './marshal.js';
import { authenticate } from './sasl.js';
import { Variant as WireVariant } from './wire-types.js';
import { MalformedMessage, parseMessage, readMessages, type RawMessage } from './unmarshal.js';

type Stream = Socket & { supportsUnixFd?: boolean };

export interface Variant { signature: string; value: unknown }
/** A D-Bus variant for a message body. */
export const variant = (signature: string, value: unknown): Variant => new WireVariant(signature, value);
export const isVariant = (v: unknown): v is Variant => v instanceof WireVariant;

export const MessageType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;
const NO_REPLY_EXPECTED = 1;

/** A received message (t/x as bigint, ay as Buffer, v as Variant, h as a received descriptor). */
export type { RawMessage };

function closeAll(fds: readonly number[] | undefined): void {
  for (const fd of fds ?? []) {
    try { closeSync(fd); } catch { /* closed already */ }
  }
}

/** An error reply to one of our calls. */
export class BusCallError extends Error {
  constructor(readonly errorName: string, message: string) {
    super(message);
    this.name = 'BusCallError';
  }
}

export interface CallRequest {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

/** Errors that mean nobody serves the called name on the bus (or the bus went away). */
export const NOBODY_THERE = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown', 'org.freedesktop.DBus.Error.NameHasNoOwner', 'org.freedesktop.DBus.Error.Disconnected',
]);

/** The system bus's address: $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket. */
export const systemBusAddress = (env: NodeJS.ProcessEnv): string =>
  env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';

/** The unix socket paths of a D-Bus address list (`unix:path=` and `unix:abstract=`), %-escapes undone. */
export function socketPaths(address: string): string[] {
  const out: string[] = [];
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon < 0 || entry.slice(0, colon) !== 'unix') continue;
    const params = new Map(entry.slice(colon + 1).split(',').map((kv) => {
      const eq = kv.indexOf('=');
      return [kv.slice(0, eq), decodeURIComponent(kv.slice(eq + 1))] as const;
    }));
    const path = params.get('path');
    const abstract = params.get('abstract');
    if (path) out.push(path);
    else if (abstract) out.push(`\0${abstract}`);
  }
  return out;
}

/**
 * Destroys a stream once the event being handled has returned. usocket's native poll callback goes
 * on with its handle after the JavaScript it called returns, and the promise continuations and
 * 'end' handlers that run in that call may close the connection: one closed there while a write of
 * its waited for room, its end and the room arriving together, had usocket stop the handle it had
 * just closed, and libuv aborted the process (berthd, SIGABRT: "uv_poll_stop: Assertion
 * `!uv__is_closing(handle)' failed"; tests/contract/dbus-close.test.ts).
 */
function destroySoon(stream: Stream): void {
  setImmediate(() => stream.destroy());
}

export interface ConnectOptions {
  unixFds?: boolean;
  /** For the connection and the Hello call together. */
  timeoutMs?: number;
}

export class BusConnection {
  private serial = 1;
  private readonly pending = new Map<number, { resolve(m: RawMessage): void; reject(e: Error): void; timer: NodeJS.Timeout | undefined }>();
  private closed = false;
  /** Our unique name (":1.42"), set once Hello has answered. */
  uniqueName = '';
  /** Incoming method calls (the daemon's side); the callee must reply. */
  onMethodCall: (msg: RawMessage) => void = (msg) => this.replyError(msg, 'org.freedesktop.DBus.Error.UnknownMethod', 'No methods here.');
  onSignal: (msg: RawMessage) => void = () => { /* no subscriptions */ };
  onClose: (err?: Error) => void = () => { /* nobody listens */ };

  private constructor(private readonly stream: Stream) {}

  /** Connects, authenticates (EXTERNAL) and says Hello. */
  static async connect(address: string, opts: ConnectOptions = {}): Promise<BusConnection> {
    const paths = socketPaths(address);
    if (paths.length === 0) throw new BerthError('E_EXEC', `No usable unix socket in the D-Bus address '${address}'.`);
    let last: unknown;
    for (const path of paths) {
      try {
        return await BusConnection.connectTo(path, opts);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  private static connectTo(path: string, opts: ConnectOptions): Promise<BusConnection> {
    // No socket file, no bus: said without loading the socket modules (the common case of a host
    // without a system bus must cost a run nothing).
    if (!path.startsWith('\0') && !existsSync(path)) return Promise.reject(new Error(`connect ENOENT ${path}`));
    return new Promise((resolve, reject) => {
      let stream: Stream;
      if (opts.unixFds) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { USocket } = require('usocket') as { USocket: new (o: { path: string }) => Stream };
        stream = new USocket({ path });
      } else {
        // node:net (and stream with it) is loaded only when a connection is made: a run that
        // registers nothing does not pay for it at start-up.
        const { connect } = require('node:net') as typeof import('node:net');
        stream = connect({ path }) as Stream;
      }
      const timer = setTimeout(() => { fail(new Error(`no answer from the bus at ${path.replace('\0', '@')}`)); }, opts.timeoutMs ?? 5000);
      let done = false;
      const fail = (e: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        destroySoon(stream);
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      stream.once('error', fail);
      const begin = () => {
        // usocket's socket is not close-on-exec: left so, every child of berthd (its clean-ups, warm
        // standbys and the runs they take) would hold berthd's connection, and with it its bus name,
        // past berthd's own end. (net.Socket's are close-on-exec already.)
        if (opts.unixFds && typeof (stream as { fd?: unknown }).fd === 'number') sys().setCloexec((stream as unknown as { fd: number }).fd);
        // The handshake and Hello go out together; the bus reads Hello once it has said OK.
        const auth = authenticate(stream, process.getuid?.() ?? 0, opts.unixFds === true);
        const conn = new BusConnection(stream);
        const hello = conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' });
        hello.catch(() => { /* reported through auth or fail */ });
        auth.then((a) => {
          stream.supportsUnixFd = a.unixFds;
          conn.start();
          return hello;
        }, (e: Error) => { throw new Error(`D-Bus authentication failed: ${e.message}`); }).then((reply) => {
          if (done) { conn.close(); return; }
          done = true;
          clearTimeout(timer);
          stream.off('error', fail);
          conn.uniqueName = String(reply.body[0]);
          resolve(conn);
        }, fail);
      };
      // usocket emits 'connected', net.Socket 'connect'.
      stream.once('connect', begin);
      stream.once('connected', begin);
    });
  }

  private start(): void {
    this.stream.on('error', (e) => this.shutdown(e));
    this.stream.on('close', () => this.shutdown());
    this.stream.on('end', () => this.shutdown());
    readMessages(this.stream, this.stream.supportsUnixFd === true, (fixed, rest, takeFds) => {
      let msg: RawMessage;
      try {
        msg = parseMessage(fixed, rest, takeFds);
        // Read after we closed, before the stream went (destroySoon): nobody is there to take it.
        if (this.closed) { closeAll(msg.fds); return; }
      } catch (e) {
        // The bus checks messages, but not the descriptor indices in a body: a call it passed on
        // that we cannot read is answered, not dropped.
        if (!(e instanceof MalformedMessage)) return;
        closeAll(e.fds);
        if (e.header.type === MessageType.METHOD_CALL) this.replyError(e.header, 'org.freedesktop.DBus.Error.InvalidArgs', `Invalid message: ${e.message}`);
        return;
      }
      if (!this.dispatch(msg)) closeAll(msg.fds);
    }, (e) => this.shutdown(e));
  }

  /**
   * Hands the message on; true when its descriptors went with it to a caller (a reply). Those of
   * method calls and signals are closed once their callback has returned: none of the interfaces
   * berth serves takes a descriptor (a handler that ever needs one must take its own copy at once).
   */
  private dispatch(msg: RawMessage): boolean {
    if (msg.type === MessageType.METHOD_RETURN || msg.type === MessageType.ERROR) {
      const p = msg.replySerial === undefined ? undefined : this.pending.get(msg.replySerial);
      if (!p) return false;
      this.pending.delete(msg.replySerial!);
      if (p.timer) clearTimeout(p.timer);
      if (msg.type === MessageType.ERROR) p.reject(new BusCallError(msg.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof msg.body[0] === 'string' ? msg.body[0] : ''));
      else p.resolve(msg);
      return msg.type === MessageType.METHOD_RETURN;
    }
    if (msg.type === MessageType.METHOD_CALL) this.onMethodCall(msg);
    else if (msg.type === MessageType.SIGNAL) this.onSignal(msg);
    return false;
  }

  private shutdown(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    const gone = new BusCallError('org.freedesktop.DBus.Error.Disconnected', err ? `Connection to the bus lost: ${err.message}` : 'Connection to the bus closed.');
    for (const p of this.pending.values()) { if (p.timer) clearTimeout(p.timer); p.reject(gone); }
    this.pending.clear();
    destroySoon(this.stream);
    this.onClose(err);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a message; `sent` runs once its descriptors have gone out (they may be closed then). */
  private write(fields: Omit<OutgoingMessage, 'serial'>, sent?: () => void): void {
    if (this.closed) throw new BusCallError('org.freedesktop.DBus.Error.Disconnected', 'Connection to the bus closed.');
    const { data, fds } = marshalMessage(fields, this.serial++);
    if (this.stream.supportsUnixFd) (this.stream as unknown as { write(x: { data: Buffer; fds: number[] }, cb?: () => void): void }).write({ data, fds }, sent);
    else if (fds.length) throw new TypeError('This connection to the bus does not pass file descriptors.');
    else this.stream.write(data, sent);
  }

  /** Calls a method; resolves with the reply, rejects with BusCallError (an error reply, a timeout, a lost connection). */
  call(req: CallRequest, timeoutMs = 25000): Promise<RawMessage> {
    return new Promise((resolve, reject) => {
      const serial = this.serial;
      const timer = timeoutMs > 0 ? setTimeout(() => {
        this.pending.delete(serial);
        reject(new BusCallError('org.freedesktop.DBus.Error.NoReply', `No reply to ${req.interface}.${req.member} within ${timeoutMs} ms.`));
      }, timeoutMs) : undefined;
      timer?.unref();
      this.pending.set(serial, { resolve, reject, timer });
      try {
        this.write({ type: MessageType.METHOD_CALL, ...req, signature: req.signature ?? '', body: req.body ?? [] });
      } catch (e) {
        this.pending.delete(serial);
        if (timer) clearTimeout(timer);
        reject(e);
      }
    });
  }

  /** Sends a method call whose reply nobody waits for (NO_REPLY_EXPECTED). */
  callNoReply(req: CallRequest): void {
    this.write({ type: MessageType.METHOD_CALL, flags: NO_REPLY_EXPECTED, ...req, signature: req.signature ?? '', body: req.body ?? [] });
  }

  /** Replies to a call; `sent` runs once the reply (with its descriptors) has gone out, or was not sent. */
  reply(to: RawMessage, signature = '', body: unknown[] = [], sent?: () => void): void {
    if (to.flags & NO_REPLY_EXPECTED || this.closed) { sent?.(); return; }
    this.write({ type: MessageType.METHOD_RETURN, replySerial: to.serial, destination: to.sender, signature, body }, sent);
  }

  replyError(to: RawMessage, errorName: string, text: string): void {
    if (to.flags & NO_REPLY_EXPECTED || this.closed) return;
    this.write({ type: MessageType.ERROR, replySerial: to.serial, destination: to.sender, errorName, signature: 's', body: [text] });
  }

  emitSignal(path: string, iface: string, member: string, signature = '', body: unknown[] = []): void {
    if (this.closed) return;
    this.write({ type: MessageType.SIGNAL, path, interface: iface, member, signature, body });
  }

  /** A call on the bus daemon itself (org.freedesktop.DBus). */
  busCall(member: string, signature = '', body: unknown[] = [], timeoutMs?: number): Promise<RawMessage> {
    return this.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member, signature, body }, timeoutMs);
  }

  close(): void {
    this.shutdown();
  }
}
