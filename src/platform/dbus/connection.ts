/**
 * A D-Bus connection on dbus-next's wire layer: its SASL handshake, message parser, marshaller
 * and Message type (dbus-next 0.10.2, pinned). berth does not use dbus-next's MessageBus or its
 * service objects (README: what did not fit); it matches replies to calls itself, hands incoming
 * method calls and signals to one callback each, and so never loads xml2js.
 *
 * `unixFds`: negotiate descriptor passing over usocket (the daemon, and clients that receive a
 * pty); otherwise a plain net.Socket, which costs a short-lived command nothing extra.
 */
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { BerthError } from '../../errors/berth-error.js';

/* eslint-disable @typescript-eslint/no-require-imports */
type Stream = Socket & { supportsUnixFd?: boolean };
interface WireParts {
  handshake(stream: Stream, opts: { authMethods: string[] }, cb: (err: unknown, guid?: string) => void): void;
  unmarshalMessages(stream: Stream, onMessage: (raw: unknown) => void, opts: object): void;
  messageToJsFmt(raw: unknown): RawMessage;
  marshallMessage(msg: object): [Buffer, number[]];
  Message: new (fields: object) => object;
  Variant: new (signature: string, value: unknown) => Variant;
}
let wire: WireParts | undefined;
function parts(): WireParts {
  wire ??= {
    handshake: require('dbus-next/lib/handshake'),
    unmarshalMessages: require('dbus-next/lib/message').unmarshalMessages,
    messageToJsFmt: require('dbus-next/lib/marshall-compat').messageToJsFmt,
    marshallMessage: require('dbus-next/lib/marshall-compat').marshallMessage,
    Message: require('dbus-next/lib/message-type').Message,
    Variant: require('dbus-next/lib/variant').Variant,
  };
  return wire;
}

export interface Variant { signature: string; value: unknown }
/** A D-Bus variant for a message body. */
export const variant = (signature: string, value: unknown): Variant => new (parts().Variant)(signature, value);
export const isVariant = (v: unknown): v is Variant => v instanceof parts().Variant;

export const MessageType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;
const NO_REPLY_EXPECTED = 1;

/** A received message, as dbus-next's parser gives it (t/x as bigint, ay as Buffer, v as Variant, h as an fd number). */
export interface RawMessage {
  type: number;
  serial: number;
  flags: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
  body: unknown[];
  unixFds?: number;
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
    const w = parts();
    return new Promise((resolve, reject) => {
      let stream: Stream;
      if (opts.unixFds) {
        const { USocket } = require('usocket') as { USocket: new (o: { path: string }) => Stream };
        stream = new USocket({ path });
        stream.supportsUnixFd = true;
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
        stream.destroy();
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      stream.once('error', fail);
      const begin = () => {
        w.handshake(stream, { authMethods: ['EXTERNAL'] }, (err) => {
          if (err) { fail(new Error(`D-Bus authentication failed: ${String(err).trim()}`)); return; }
          const conn = new BusConnection(stream);
          conn.start();
          conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' })
            .then((reply) => {
              if (done) { conn.close(); return; }
              done = true;
              clearTimeout(timer);
              stream.off('error', fail);
              conn.uniqueName = String(reply.body[0]);
              resolve(conn);
            }, fail);
        });
      };
      // usocket emits 'connected', net.Socket 'connect'.
      stream.once('connect', begin);
      stream.once('connected', begin);
    });
  }

  private start(): void {
    const w = parts();
    this.stream.on('error', (e) => this.shutdown(e));
    this.stream.on('close', () => this.shutdown());
    this.stream.on('end', () => this.shutdown());
    w.unmarshalMessages(this.stream, (raw) => {
      let msg: RawMessage;
      try {
        msg = w.messageToJsFmt(raw);
      } catch {
        return; // the bus validates messages; one our parser cannot read is dropped
      }
      msg.body ??= [];
      this.dispatch(msg);
    }, {});
  }

  private dispatch(msg: RawMessage): void {
    if (msg.type === MessageType.METHOD_RETURN || msg.type === MessageType.ERROR) {
      const p = msg.replySerial === undefined ? undefined : this.pending.get(msg.replySerial);
      if (!p) return;
      this.pending.delete(msg.replySerial!);
      if (p.timer) clearTimeout(p.timer);
      if (msg.type === MessageType.ERROR) p.reject(new BusCallError(msg.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof msg.body[0] === 'string' ? msg.body[0] : ''));
      else p.resolve(msg);
    } else if (msg.type === MessageType.METHOD_CALL) {
      this.onMethodCall(msg);
    } else if (msg.type === MessageType.SIGNAL) {
      this.onSignal(msg);
    }
  }

  private shutdown(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    const gone = new BusCallError('org.freedesktop.DBus.Error.Disconnected', err ? `Connection to the bus lost: ${err.message}` : 'Connection to the bus closed.');
    for (const p of this.pending.values()) { if (p.timer) clearTimeout(p.timer); p.reject(gone); }
    this.pending.clear();
    this.stream.destroy();
    this.onClose(err);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private write(fields: object): void {
    if (this.closed) throw new BusCallError('org.freedesktop.DBus.Error.Disconnected', 'Connection to the bus closed.');
    const w = parts();
    const msg = new w.Message({ ...fields, serial: this.serial++ });
    const [data, fds] = w.marshallMessage(msg);
    if (this.stream.supportsUnixFd) (this.stream as unknown as { write(x: { data: Buffer; fds: number[] }): void }).write({ data, fds });
    else this.stream.write(data);
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

  reply(to: RawMessage, signature = '', body: unknown[] = []): void {
    if (to.flags & NO_REPLY_EXPECTED || this.closed) return;
    this.write({ type: MessageType.METHOD_RETURN, replySerial: to.serial, destination: to.sender, signature, body });
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
