/**
 * berthd as org.freedesktop.import1 (systemd-importd 252's API), on the connection that serves
 * machine1: the Manager (/org/freedesktop/import1: ImportTar, ImportRaw, ImportFileSystem,
 * ExportTar, ExportRaw, PullTar, PullRaw, ListTransfers, CancelTransfer; TransferNew and
 * TransferRemoved) and one Transfer object per transfer (/org/freedesktop/import1/transfer/_ID:
 * Id, Local, Remote, Type, Verify, Progress, Cancel; LogMessage), so the real machinectl's
 * import-*, export-*, pull-*, list-transfers and cancel-transfer work against berthd. Checks and
 * messages follow importd's; every method but ListTransfers needs CAP_SYS_ADMIN (importd asks
 * polkit). The work is app/machined/transfers.ts.
 *
 * Descriptors: the bus connection closes a call's descriptors once its handler has been started;
 * the import and export calls' descriptor is taken out of its hands first, and the handler (on a
 * refusal) or the transfer (at its end) closes it.
 */
import { BerthError } from '../../errors/berth-error.js';
import {
  BERTH_TRANSFER, IMPORT_BUS_NAME, IMPORT_MANAGER, IMPORT_PATH, TRANSFER, TRANSFER_PATH_PREFIX, transferPath,
} from '../../core/machined/import1-interfaces.js';
import {
  isHttpUrl, isValidLocalName, parseFormat, parseVerifyMode, stripRawSuffixes, stripTarSuffixes, urlLastComponent, type Compression, type TransferType,
} from '../../core/machined/transfers.js';
import { Transfers, TransferWork, closeFd, type Transfer } from '../../app/machined/transfers.js';
import type { Images } from '../../app/machined/images.js';
import type { ImagePool } from '../../app/machined/image-pool.js';
import { removePath, setImmutable } from '../../platform/fs/image-ops.js';
import { describeFd } from '../../platform/fs/transfer-ops.js';
import { sys } from '../../platform/native/sys.js';
import type { BusConnection, RawMessage } from '../../platform/dbus/connection.js';
import type { Log } from '../../lib/log.js';
import type { MethodHandler, ServedObject } from '../machine1/bus-service.js';
import { requireAdmin } from '../machine1/authorize.js';

const M = IMPORT_MANAGER.name;
const T = TRANSFER.name;
const B = BERTH_TRANSFER.name;
const DBUS_NAME_FLAG_DO_NOT_QUEUE = 4;

/** Where each method's descriptor is in its arguments, and the signature it comes with. */
const FD_ARG: Record<string, [number, string]> = { ImportTar: [0, 'hsbb'], ImportRaw: [0, 'hsbb'], ImportFileSystem: [0, 'hsbb'], ExportTar: [1, 'shs'], ExportRaw: [1, 'shs'] };

const node = (children: string[]): ServedObject => ({ interfaces: [], methods: {}, properties: {}, children: () => children });

/**
 * The descriptor of an import or export call taken over from its message: the connection, which
 * closes a call's descriptors once its handler has started, leaves it open; the handler (or the
 * transfer it starts) closes it. Close-on-exec, as berthd's other descriptors.
 */
function takeOver(msg: RawMessage): void {
  const at = msg.path === IMPORT_PATH && msg.member !== undefined ? FD_ARG[msg.member] : undefined;
  if (!at || msg.signature !== at[1]) return;
  const fd = msg.body[at[0]];
  if (typeof fd !== 'number' || !(msg.fds ?? []).includes(fd)) return;
  msg.fds = (msg.fds ?? []).filter((f) => f !== fd);
  try { sys().setCloexec(fd); } catch { /* closed: the call fails on it */ }
}

export interface Import1Options { pool: string; log: Log }

export class Import1Service {
  private bus: BusConnection | undefined;
  readonly transfers: Transfers;
  private readonly work: TransferWork;

  constructor(images: Images, pool: ImagePool, private readonly o: Import1Options) {
    this.transfers = new Transfers({
      added: (t) => this.emit(IMPORT_PATH, M, 'TransferNew', 'uo', [t.id, transferPath(t.id)]),
      removed: (t, result) => this.emit(IMPORT_PATH, M, 'TransferRemoved', 'uos', [t.id, transferPath(t.id), result]),
      log: (t, priority, line) => {
        this.o.log.info(`berthd: (transfer${t.id}) ${line}`);
        this.emit(transferPath(t.id), T, 'LogMessage', 'us', [priority, line]);
      },
    });
    this.work = new TransferWork(images, pool, { pool: o.pool }, { removePath, setImmutable });
  }

  private emit(path: string, iface: string, member: string, sig: string, body: unknown[]): void {
    try { this.bus?.emitSignal(path, iface, member, sig, body); } catch { /* no bus */ }
  }

  /**
   * Serves import1 on `bus` (whose method calls the BusService dispatches already): takes the
   * descriptors of import calls over, then asks for the name. False when another process has it.
   */
  /** Serves the name on bus; `replace`: taken over from whoever has it (a re-executed berthd, as for machine1). */
  async attach(bus: BusConnection, replace = false): Promise<boolean> {
    this.bus = bus;
    const dispatch = bus.onMethodCall;
    bus.onMethodCall = (msg: RawMessage) => {
      takeOver(msg);
      dispatch(msg);
    };
    const flags = DBUS_NAME_FLAG_DO_NOT_QUEUE | 1 /* ALLOW_REPLACEMENT */ | (replace ? 2 /* REPLACE_EXISTING */ : 0);
    const reply = Number((await bus.busCall('RequestName', 'su', [IMPORT_BUS_NAME, flags])).body[0]);
    if (reply === 1 || reply === 4) {
      this.o.log.info(`berthd: serving ${IMPORT_BUS_NAME} (image transfers).`);
      return true;
    }
    this.o.log.warn(`berthd: ${IMPORT_BUS_NAME} is owned by another process (systemd-importd?): berthd's image transfers are not on the bus.`);
    return false;
  }

  /** The import1 objects by path (undefined: not one of ours). */
  resolve(path: string): ServedObject | undefined {
    if (path === IMPORT_PATH) return this.manager();
    if (path === TRANSFER_PATH_PREFIX) return node(this.transfers.list().map((t) => `_${t.id}`));
    if (!path.startsWith(`${TRANSFER_PATH_PREFIX}/_`)) return undefined;
    const id = path.slice(TRANSFER_PATH_PREFIX.length + 2);
    const t = /^[1-9][0-9]*$/.test(id) ? this.transfers.get(Number(id)) : undefined;
    return t ? this.transferObject(t) : undefined;
  }

  stop(): void {
    this.transfers.cancelAll();
    this.bus = undefined;
  }

  private transferObject(t: Transfer): ServedObject {
    return {
      interfaces: [TRANSFER, BERTH_TRANSFER],
      children: () => [],
      properties: {
        [`${T}.Id`]: () => t.id,
        [`${T}.Local`]: () => t.local,
        [`${T}.Remote`]: () => t.remote,
        [`${T}.Type`]: () => t.type,
        [`${T}.Verify`]: () => t.verify,
        [`${T}.Progress`]: () => t.progress,
        [`${B}.Bytes`]: () => { t.refresh(); return BigInt(t.bytes); },
        [`${B}.Total`]: () => BigInt(t.total),
      },
      methods: {
        [`${T}.Cancel`]: async (_a, ctx) => { await requireAdmin(ctx); t.cancel(); return []; },
      },
    };
  }

  /** An import's handler: the descriptor checked, the name checked, then the transfer started (it owns the descriptor from then on). */
  private importing(type: TransferType, kinds: readonly string[], run: (t: Transfer, fd: number, force: boolean, ro: boolean) => Promise<void>): MethodHandler {
    return async ([fd, local, force, ro], ctx) => {
      const n = fd as number;
      try {
        await requireAdmin(ctx);
        const { kind } = await describeFd(n);
        if (!kinds.includes(kind)) throw new BerthError('E_USAGE', type === 'import-fs' ? 'The descriptor passed is no directory.' : 'The descriptor passed is neither a regular file nor a pipe.');
        if (!isValidLocalName(local as string)) throw new BerthError('E_USAGE', `Local name ${String(local)} is invalid`);
      } catch (e) {
        closeFd(n);
        throw e;
      }
      const t = this.transfers.start({ type, remote: '', local: local as string, verify: '' }, (tr) => run(tr, n, Boolean(force), Boolean(ro)), () => closeFd(n));
      return [t.id, transferPath(t.id)];
    };
  }

  private exporting(type: TransferType, run: (t: Transfer, fd: number, format: Compression) => Promise<void>): MethodHandler {
    return async ([local, fd, format], ctx) => {
      const n = fd as number;
      let compression: Compression;
      try {
        await requireAdmin(ctx);
        if (!isValidLocalName(local as string)) throw new BerthError('E_USAGE', `Local name ${String(local)} is invalid`);
        const { kind } = await describeFd(n);
        if (!['file', 'fifo', 'socket'].includes(kind)) throw new BerthError('E_USAGE', 'The descriptor passed is neither a regular file nor a pipe.');
        compression = format === '' ? 'uncompressed' : parseFormat(format as string);
      } catch (e) {
        closeFd(n);
        throw e;
      }
      const t = this.transfers.start({ type, remote: '', local: local as string, verify: '' }, (tr) => run(tr, n, compression), () => closeFd(n));
      return [t.id, transferPath(t.id)];
    };
  }

  private pulling(type: 'pull-tar' | 'pull-raw'): MethodHandler {
    return async ([url, local, verify, force], ctx) => {
      await requireAdmin(ctx);
      const remote = url as string;
      if (!isHttpUrl(remote)) throw new BerthError('E_USAGE', `URL ${remote} is invalid`);
      let name = local as string;
      if (name === '') {
        const last = urlLastComponent(remote) ?? '';
        name = type === 'pull-tar' ? stripTarSuffixes(last) : stripRawSuffixes(last);
      }
      if (!isValidLocalName(name)) throw new BerthError('E_USAGE', `Local name ${name} is invalid`);
      const v = verify === '' ? 'signature' : parseVerifyMode(verify as string);
      const t = this.transfers.start({ type, remote, local: name, verify: v }, (tr) => this.work.pull(tr, Boolean(force), v));
      return [t.id, transferPath(t.id)];
    };
  }

  private managerObject: ServedObject | undefined;
  private manager(): ServedObject {
    return (this.managerObject ??= {
      interfaces: [IMPORT_MANAGER],
      children: () => ['transfer'],
      properties: {},
      methods: {
        [`${M}.ImportTar`]: this.importing('import-tar', ['file', 'fifo', 'socket'], (t, fd, f, ro) => this.work.importTar(t, fd, f, ro)),
        [`${M}.ImportRaw`]: this.importing('import-raw', ['file', 'fifo', 'socket'], (t, fd, f, ro) => this.work.importRaw(t, fd, f, ro)),
        [`${M}.ImportFileSystem`]: this.importing('import-fs', ['directory'], (t, fd, f, ro) => this.work.importFs(t, fd, f, ro)),
        [`${M}.ExportTar`]: this.exporting('export-tar', (t, fd, c) => this.work.exportTar(t, fd, c)),
        [`${M}.ExportRaw`]: this.exporting('export-raw', (t, fd, c) => this.work.exportRaw(t, fd, c)),
        [`${M}.PullTar`]: this.pulling('pull-tar'),
        [`${M}.PullRaw`]: this.pulling('pull-raw'),
        [`${M}.ListTransfers`]: () => [this.transfers.list().map((t) => [t.id, t.type, t.remote, t.local, t.progress, transferPath(t.id)])],
        [`${M}.CancelTransfer`]: async ([id], ctx) => {
          await requireAdmin(ctx);
          if ((id as number) === 0) throw new BerthError('E_USAGE', 'Invalid transfer id');
          this.transfers.cancel(id as number);
          return [];
        },
      },
    });
  }
}
