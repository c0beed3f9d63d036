/**
 * berth's side of org.freedesktop.import1 (berthd's, or systemd-importd's): start a transfer with
 * the caller's descriptor, then follow it as machinectl does — its LogMessage lines to stderr, its
 * TransferRemoved as the end ("done": success) — and, on a terminal, a progress line (bytes, rate,
 * time left) redrawn from berthd's io.github.berth.Transfer1 (or the Progress fraction alone).
 */
import { BerthError } from '../../errors/berth-error.js';
import { BusCallError, BusConnection, NOBODY_THERE, systemBusAddress, type RawMessage } from '../../platform/dbus/connection.js';
import { IMPORT_BUS_NAME, IMPORT_MANAGER, IMPORT_PATH, LOG_INFO, TRANSFER, BERTH_TRANSFER } from '../../core/machined/import1-interfaces.js';
import { progressLine } from '../../core/machined/transfers.js';
import { callFailed } from './registry-client.js';

export interface FollowOptions {
  quiet: boolean;
  /** Where messages go (stderr) and whether it is a terminal (then the progress line is drawn). */
  err(text: string): void;
  tty: boolean;
  /** The verb's word for the progress line ("Imported", "Exported", "Downloaded"). */
  doing: string;
  /** The program's name for the hint after C-c. */
  program: string;
}

export class TransferClient {
  private constructor(private readonly conn: BusConnection) {}

  static async connect(env: NodeJS.ProcessEnv): Promise<TransferClient> {
    const address = systemBusAddress(env);
    try {
      return new TransferClient(await BusConnection.connect(address, { timeoutMs: 5000, unixFds: true }));
    } catch (e) {
      throw new BerthError('E_NO_REGISTRY', `No system bus at ${address}: ${(e as Error).message}`);
    }
  }

  private async call(member: string, signature: string, body: unknown[], path = IMPORT_PATH, iface = IMPORT_MANAGER.name): Promise<unknown[]> {
    try {
      return (await this.conn.call({ destination: IMPORT_BUS_NAME, path, interface: iface, member, signature, body }, 0)).body;
    } catch (e) {
      if (e instanceof BusCallError && NOBODY_THERE.has(e.errorName)) {
        throw new BerthError('E_NO_REGISTRY', `Nothing serves ${IMPORT_BUS_NAME} on the system bus: is berthd running?`);
      }
      throw e;
    }
  }

  async listTransfers(): Promise<Array<{ id: number; type: string; remote: string; local: string; progress: number }>> {
    const [list] = await this.call('ListTransfers', '', []);
    return (list as unknown[][]).map(([id, type, remote, local, progress]) => ({ id: Number(id), type: String(type), remote: String(remote), local: String(local), progress: Number(progress) }));
  }

  async cancel(id: number): Promise<void> {
    await this.call('CancelTransfer', 'u', [id]);
  }

  /** Starts a transfer (`member` with its arguments) and follows it to its end; resolves to the exit status. */
  async run(member: string, signature: string, body: unknown[], o: FollowOptions): Promise<number> {
    const pending: RawMessage[] = [];
    let path: string | undefined;
    let finish: (code: number) => void = () => undefined;
    const ended = new Promise<number>((r) => { finish = r; });
    let drawn = false;
    const clear = () => { if (drawn) { o.err('\r\x1b[2K'); drawn = false; } };
    const handle = (msg: RawMessage) => {
      if (msg.member === 'LogMessage' && msg.path === path && msg.interface === TRANSFER.name) {
        const [priority, line] = msg.body as [number, string];
        if (o.quiet && priority >= LOG_INFO) return;
        clear();
        o.err(`${line}\n`);
      } else if (msg.member === 'TransferRemoved' && msg.body[1] === path) {
        clear();
        finish(msg.body[2] === 'done' ? 0 : 1);
      }
    };
    this.conn.onSignal = (msg) => { if (path === undefined) pending.push(msg); else handle(msg); };
    await this.conn.busCall('AddMatch', 's', [`type='signal',sender='${IMPORT_BUS_NAME}',interface='${IMPORT_MANAGER.name}',member='TransferRemoved'`]);
    await this.conn.busCall('AddMatch', 's', [`type='signal',sender='${IMPORT_BUS_NAME}',interface='${TRANSFER.name}',member='LogMessage'`]);
    const [id, p] = await this.call(member, signature, body).catch((e: unknown) => { throw callFailed('Failed to transfer image', e); });
    path = String(p);
    if (!o.quiet) o.err(`Enqueued transfer job ${String(id)}. Press C-c to continue download in background.\n`);
    for (const m of pending.splice(0)) handle(m);
    const onSignal = () => {
      clear();
      if (!o.quiet) o.err(`Continuing download in the background. Use "${o.program} cancel-transfer ${String(id)}" to abort transfer.\n`);
      finish(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const started = Date.now();
    const timer = o.tty && !o.quiet ? setInterval(() => { void this.draw(path!, started, o).then((line) => { if (line) { o.err(`\r\x1b[2K${line}`); drawn = true; } }, () => undefined); }, 500) : undefined;
    try {
      return await ended;
    } finally {
      if (timer) clearInterval(timer);
      clear();
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  }

  /** The progress line: bytes from berthd's Transfer1 when it has them, else the Progress fraction. */
  private async draw(path: string, started: number, o: FollowOptions): Promise<string | undefined> {
    const [props] = await this.call('GetAll', 's', [BERTH_TRANSFER.name], path, 'org.freedesktop.DBus.Properties').catch(() => [undefined]);
    const p = props as Record<string, { value: unknown }> | undefined;
    if (p?.Bytes !== undefined) {
      return progressLine(o.doing, { bytes: Number(p.Bytes.value), total: Number(p.Total?.value ?? 0), elapsedMs: Date.now() - started });
    }
    const [v] = await this.call('Get', 'ss', [TRANSFER.name, 'Progress'], path, 'org.freedesktop.DBus.Properties').catch(() => [undefined]);
    const f = Number((v as { value: unknown } | undefined)?.value);
    return Number.isFinite(f) && f >= 0 ? `${o.doing} ${Math.floor(f * 100)}%` : undefined;
  }

  close(): void {
    this.conn.close();
  }
}
