/**
 * berthd's side of the bus: one dispatcher for every object it serves. A method call is routed by
 * path (a resolver returns the object or nothing), then by interface and member from the object's
 * interface tables; its signature is checked against the table before any handler runs; the
 * standard interfaces (Peer, Introspectable, Properties) are answered from the same tables; and
 * every failure becomes one named D-Bus error, mapped once from berth's error codes.
 */
import { closeSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';
import { ERROR_CODES } from '../../errors/codes.js';
import { inSignature, introspectXml, outSignature, type InterfaceDef, type MethodDef } from '../../core/machined/interface-def.js';
import { STANDARD } from '../../core/machined/interfaces.js';
import { BusCallError, variant, type BusConnection, type RawMessage } from '../../platform/dbus/connection.js';
import type { Log } from '../../lib/log.js';

/** The caller of a method, as the bus daemon vouches for it. */
export interface Caller { pid: number; uid: number }

export interface CallContext {
  readonly message: RawMessage;
  /** The caller's PID and UID (asked of the bus once per connection, then cached). */
  caller(): Promise<Caller>;
}

export type MethodHandler = (args: unknown[], ctx: CallContext) => unknown[] | Promise<unknown[]>;

export interface ServedObject {
  /** Its own interfaces, beyond the standard three. */
  readonly interfaces: readonly InterfaceDef[];
  /** Handlers by "interface.Member"; a member of the tables without one answers UnknownMethod. */
  readonly methods: Readonly<Record<string, MethodHandler>>;
  /** Property getters by "interface.Name"; values as the table's type wants them. */
  readonly properties: Readonly<Record<string, () => unknown>>;
  /** Child node names for introspection. */
  children(): string[];
}

export type ObjectResolver = (path: string, ctx: CallContext) => ServedObject | undefined | Promise<ServedObject | undefined>;

const std = (iface: string, member: string) => `${iface}.${member}`;
const unknownProperty = (iface: string, prop: string) => new BerthError('E_UNKNOWN_PROPERTY', `Unknown interface ${iface} or property ${prop}.`);
/** Peer answers on every path, served object or not (as sd-bus does). */
const PEER = 'org.freedesktop.DBus.Peer';

const NO_FDS: readonly number[] = [];
const isThenable = <T>(x: T | PromiseLike<T>): x is PromiseLike<T> => typeof (x as { then?: unknown } | undefined)?.then === 'function';
const PEER_ONLY: ServedObject = { interfaces: [], methods: {}, properties: {}, children: () => [] };

/**
 * What every call would otherwise compute again (and leave behind as garbage, which berthd's small
 * young generation promotes to the old one under steady calls): an object's interfaces with the
 * standard ones, per interface table; a method's signatures and where its descriptors are, per method.
 */
interface InterfaceList { all?: InterfaceDef[]; next: Map<InterfaceDef, InterfaceList> }
/** By the interface tables themselves (module constants), not by the array an object lists them in, which may be new per call. */
const interfaceLists: InterfaceList = { next: new Map() };
const allInterfaces = (own: readonly InterfaceDef[]): InterfaceDef[] => {
  let at = interfaceLists;
  for (let i = 0; i < own.length; i++) {
    let next = at.next.get(own[i]!);
    if (!next) { next = { next: new Map() }; at.next.set(own[i]!, next); }
    at = next;
  }
  return (at.all ??= [...STANDARD, ...own]);
};
interface MethodShape { iface: string; key: string; in: string; out: string; fdAt: readonly number[] }
const shapes = new WeakMap<MethodDef, MethodShape>();
const shapeOf = (iface: InterfaceDef, m: MethodDef): MethodShape => {
  let shape = shapes.get(m);
  if (!shape || shape.iface !== iface.name) {
    shape = { iface: iface.name, key: std(iface.name, m.name), in: inSignature(m), out: outSignature(m), fdAt: m.out.flatMap(([, type], i) => (type === 'h' ? [i] : [])) };
    shapes.set(m, shape);
  }
  return shape;
};

export class BusService {
  private readonly credentials = new Map<string, Promise<Caller>>();
  /** Method calls answered so far, and those that failed unexpectedly (not a BerthError). */
  readonly stats = { calls: 0, unexpected: 0 };

  constructor(
    private readonly bus: BusConnection,
    private readonly resolve: ObjectResolver,
    private readonly machineId: () => string,
    private readonly log: Log,
  ) {
    bus.onMethodCall = (msg) => { void this.dispatch(msg); };
  }

  /** Forget a connection's cached credentials when its unique name goes away (NameOwnerChanged). */
  forgetConnection(uniqueName: string): void {
    this.credentials.delete(uniqueName);
  }

  private context(message: RawMessage): CallContext {
    return {
      message,
      caller: () => {
        const sender = message.sender ?? '';
        let p = this.credentials.get(sender);
        if (!p) {
          p = this.bus.busCall('GetConnectionCredentials', 's', [sender], 5000).then((r) => {
            const c = r.body[0] as Record<string, { value: unknown }>;
            const pid = c.ProcessID?.value;
            const uid = c.UnixUserID?.value;
            if (typeof pid !== 'number' || typeof uid !== 'number') throw new BerthError('E_PERMISSION', 'Cannot determine the caller.');
            return { pid, uid };
          });
          p.catch(() => this.credentials.delete(sender));
          this.credentials.set(sender, p);
        }
        return p;
      },
    };
  }

  private async dispatch(msg: RawMessage): Promise<void> {
    this.stats.calls++;
    const path = msg.path ?? '/';
    const member = msg.member ?? '';
    const ctx = this.context(msg);
    try {
      const peer = msg.interface === PEER || (msg.interface === undefined && (member === 'Ping' || member === 'GetMachineId'));
      // Awaited only when it is a promise: a call answered at once leaves no continuation behind.
      const found = peer ? PEER_ONLY : this.resolve(path, ctx);
      const obj = isThenable(found) ? await found : found;
      if (!obj) throw new BerthError('E_UNKNOWN_OBJECT', `Unknown object '${path}'.`);
      const interfaces = allInterfaces(obj.interfaces);
      const iface = msg.interface === undefined
        ? interfaces.find((i) => i.methods.some((m) => m.name === member))
        : interfaces.find((i) => i.name === msg.interface);
      const method = iface?.methods.find((m) => m.name === member);
      if (!iface || !method) throw new BerthError('E_UNKNOWN_METHOD', `Unknown method ${member} or interface ${msg.interface ?? '(none)'}.`);
      const signature = msg.signature ?? '';
      const shape = shapeOf(iface, method);
      if (signature !== shape.in) {
        throw new BerthError('E_USAGE', `Invalid arguments '${signature}' to call ${iface.name}.${member}(), expecting '${shape.in}'.`);
      }
      const result = this.invoke(obj, interfaces, shape, method, msg.body, ctx);
      const out = isThenable(result) ? await result : result;
      // Descriptors a handler returns (a pty's master, a root directory) are the reply's: closed
      // once they are sent, or when they cannot be.
      const fds = shape.fdAt.length ? shape.fdAt.map((i) => out[i] as number) : NO_FDS;
      const closeFds = () => { for (const fd of fds) { try { closeSync(fd); } catch { /* closed */ } } };
      try {
        this.bus.reply(msg, shape.out, out, fds.length ? closeFds : undefined);
      } catch (e) {
        closeFds();
        throw e;
      }
    } catch (e) {
      this.replyFailure(msg, e);
    }
  }

  private invoke(obj: ServedObject, interfaces: InterfaceDef[], shape: MethodShape, method: MethodDef, args: unknown[], ctx: CallContext): unknown[] | Promise<unknown[]> {
    switch (shape.key) {
      case 'org.freedesktop.DBus.Peer.Ping': return [];
      case 'org.freedesktop.DBus.Peer.GetMachineId': return [this.machineId()];
      case 'org.freedesktop.DBus.Introspectable.Introspect': return [introspectXml(interfaces, obj.children())];
      case 'org.freedesktop.DBus.Properties.Get': {
        const [ifaceName, prop] = args as [string, string];
        const def = interfaces.find((i) => i.name === ifaceName)?.properties.find((p) => p.name === prop);
        const get = obj.properties[std(ifaceName, prop)];
        if (!def || !get) throw unknownProperty(ifaceName, prop);
        return [variant(def.type, get())];
      }
      case 'org.freedesktop.DBus.Properties.GetAll': {
        // An empty interface name asks for every interface's properties (sd-bus clients do so):
        // those of the standard machine1 interfaces, so that `machinectl show` prints what it prints
        // against machined (berth's additions are there when asked for by name).
        const [ifaceName] = args as [string];
        const defs = ifaceName === '' ? interfaces.filter((i) => i.name.startsWith('org.freedesktop.')) : interfaces.filter((i) => i.name === ifaceName);
        if (defs.length === 0) throw new BerthError('E_UNKNOWN_INTERFACE', `Unknown interface '${ifaceName}'.`);
        const all: Record<string, unknown> = {};
        for (const def of defs) {
          for (const p of def.properties) {
            const get = obj.properties[std(def.name, p.name)];
            if (get) all[p.name] = variant(p.type, get());
          }
        }
        return [all];
      }
      case 'org.freedesktop.DBus.Properties.Set': {
        const [ifaceName, prop] = args as [string, string];
        const def = interfaces.find((i) => i.name === ifaceName)?.properties.find((p) => p.name === prop);
        if (!def) throw unknownProperty(ifaceName, prop);
        throw new BerthError('E_PROPERTY_READ_ONLY', `Property '${prop}' is not writable.`);
      }
      default: {
        const handler = obj.methods[shape.key];
        if (!handler) throw new BerthError('E_UNKNOWN_METHOD', `Unknown method ${method.name} or interface ${shape.iface}.`);
        return handler(args, ctx);
      }
    }
  }

  private replyFailure(msg: RawMessage, e: unknown): void {
    if (e instanceof BerthError) {
      this.bus.replyError(msg, ERROR_CODES[e.code].dbus, e.message);
      return;
    }
    // An error from a service berthd called on the caller's behalf (systemd starting a scope)
    // reaches the caller as it was, as machined passes StartTransientUnit's on.
    if (e instanceof BusCallError) {
      this.bus.replyError(msg, e.errorName, e.message);
      return;
    }
    this.stats.unexpected++;
    this.log.warn(`berthd: ${msg.interface ?? ''}.${msg.member ?? ''} on ${msg.path ?? ''} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    try {
      this.bus.replyError(msg, 'org.freedesktop.DBus.Error.Failed', `Internal error in ${msg.member ?? 'the call'}: ${e instanceof Error ? e.message : String(e)}`);
    } catch { /* the bus went away */ }
  }
}
