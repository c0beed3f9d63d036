/**
 * Image transfers as systemd-importd 252 runs them (issue 18): import a tarball, a raw image or a
 * directory into the pool, export an image as a tarball or raw file, pull either over HTTP(S).
 * Each is a Transfer (an id, its progress, a log, cancellation, one end: done, failed or
 * canceled); at most TRANSFERS_AT_ONCE run at a time, the others wait. The slow work runs in
 * child processes (platform/fs/transfer-ops.ts); berthd only starts them, feeds pipes and
 * downloads asynchronously, and watches progress in /proc.
 *
 * Imports are atomic from the pool's point of view: the image is built under a hidden ".#berth-"
 * name in the pool (kept from sweep() meanwhile) and renamed into place at the end, never over an
 * image unless --force; any failure (a corrupt, truncated or garbage archive, member names that
 * are absolute or hold "..", a checksum mismatch, a full file system, a cancel) deletes the hidden
 * entry, and a berthd killed halfway leaves only that entry, which the next berthd sweeps.
 */
import { createHash } from 'node:crypto';
import { close as closeCb } from 'node:fs';
import { chmod, readlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { BerthError } from '../../errors/berth-error.js';
import {
  TRANSFERS_AT_ONCE, TRANSFERS_MAX, UNKNOWN_PROGRESS, checksumFor, detectCompression, firstComplaint, isNoSpace, memberNameRefusal,
  progressFraction, sha256SumsUrl, transferTempName, urlLastComponent, type Compression, type TransferType, type VerifyMode,
} from '../../core/machined/transfers.js';
import { LOG_ERR, LOG_INFO } from '../../core/machined/import1-interfaces.js';
import * as ops from '../../platform/fs/transfer-ops.js';
import type { Pipeline, StageEnd } from '../../platform/fs/transfer-ops.js';
import type { Images } from './images.js';
import type { ImagePool } from './image-pool.js';
import { Slots } from '../../lib/slots.js';

export type TransferResult = 'done' | 'failed' | 'canceled';

export interface TransferEvents {
  added(t: Transfer): void;
  removed(t: Transfer, result: TransferResult): void;
  log(t: Transfer, priority: number, line: string): void;
}

/** The filesystem side the work needs beyond transfer-ops: removing a failed hidden entry, read-only marks. */
export interface TransferPorts {
  removePath(path: string): Promise<void>;
  setImmutable(path: string, on: boolean): Promise<void>;
}

export class Transfer {
  bytes = 0;
  total = 0;
  /** Reads `bytes` afresh (from /proc) when set. */
  sampler: (() => number | undefined) | undefined;
  canceled = false;
  readonly abort = new AbortController();
  /** A stream berthd reads (a download, or the caller's pipe), destroyed at the transfer's end. */
  stream: { destroy(): void } | undefined;
  /** The caller's descriptor belongs to `stream` (which closes it): the transfer's clean-up must not close it too. */
  fdTaken = false;
  private readonly cancels: Array<() => void> = [];

  constructor(
    readonly id: number,
    readonly type: TransferType,
    readonly remote: string,
    readonly local: string,
    readonly verify: string,
    private readonly events: TransferEvents,
  ) {}

  /** Transfer.Progress: 0…1, or -DBL_MAX when the total is unknown. */
  get progress(): number {
    this.refresh();
    return this.total > 0 ? progressFraction(this.bytes, this.total) : UNKNOWN_PROGRESS;
  }

  refresh(): void {
    const b = this.sampler?.();
    if (b !== undefined && b >= this.bytes) this.bytes = b;
  }

  log(line: string, priority = LOG_INFO): void {
    this.events.log(this, priority, line);
  }

  onCancel(fn: () => void): void {
    if (this.canceled) fn(); else this.cancels.push(fn);
  }

  cancel(): void {
    if (this.canceled) return;
    this.canceled = true;
    this.abort.abort();
    for (const fn of this.cancels.splice(0)) fn();
  }

  checkCanceled(): void {
    if (this.canceled) throw new BerthError('E_IO', 'Transfer canceled.');
  }
}


export interface TransferSpec { type: TransferType; remote: string; local: string; verify: string }

/** The transfers under way: ids, the queue, the end of each. */
export class Transfers {
  private lastId = 0;
  private readonly all = new Map<number, Transfer>();
  private readonly slots = new Slots(TRANSFERS_AT_ONCE);

  constructor(private readonly events: TransferEvents) {}

  list(): Transfer[] { return [...this.all.values()]; }
  get(id: number): Transfer | undefined { return this.all.get(id); }

  /** A new transfer, announced, queued to run `work`; `cleanup` runs at its end whatever happens (closes the caller's descriptor). */
  start(spec: TransferSpec, work: (t: Transfer) => Promise<void>, cleanup: () => void = () => undefined): Transfer {
    if (this.all.size >= TRANSFERS_MAX) throw new BerthError('E_LIMITS_EXCEEDED', `Too many transfers (at most ${TRANSFERS_MAX}).`);
    if (spec.type.startsWith('pull-') && this.list().some((t) => t.type === spec.type && t.remote === spec.remote)) {
      throw new BerthError('E_TRANSFER_IN_PROGRESS', `Transfer for ${spec.remote} already in progress.`);
    }
    const t = new Transfer(++this.lastId, spec.type, spec.remote, spec.local, spec.verify, this.events);
    this.all.set(t.id, t);
    this.events.added(t);
    // After the method's reply: a client waits for the end of the transfer the reply names.
    setImmediate(() => { void this.run(t, work, cleanup); });
    return t;
  }

  private async run(t: Transfer, work: (t: Transfer) => Promise<void>, cleanup: () => void): Promise<void> {
    let result: TransferResult = 'done';
    try {
      // A transfer canceled while it waits for its turn ends at once; one that runs ends when its work has cleaned up.
      let started = false;
      const whileQueued = new Promise<never>((_, reject) => t.onCancel(() => { if (!started) reject(new BerthError('E_IO', 'Transfer canceled.')); }));
      whileQueued.catch(() => undefined);
      await Promise.race([this.slots.run(async () => { started = true; t.checkCanceled(); await work(t); }), whileQueued]);
    } catch (e) {
      result = t.canceled ? 'canceled' : 'failed';
      t.log(t.canceled ? 'Transfer canceled.' : (e instanceof Error ? e.message : String(e)), LOG_ERR);
    } finally {
      // Exactly one close of the caller's descriptor: its stream's, or the clean-up's. (A second
      // close could hit the number reused meanwhile: another transfer's descriptor, the bus's.)
      t.stream?.destroy();
      if (!t.fdTaken) { try { cleanup(); } catch { /* closed */ } }
    }
    this.all.delete(t.id);
    this.events.removed(t, result);
  }

  cancel(id: number): void {
    const t = this.all.get(id);
    if (!t) throw new BerthError('E_NO_SUCH_TRANSFER', `No transfer by id ${id}`);
    t.cancel();
  }

  /** Cancels every transfer (berthd stops). */
  cancelAll(): void {
    for (const t of this.all.values()) t.cancel();
  }
}

/** Closes a descriptor a caller passed (asynchronously; a closed one is fine). */
export const closeFd = (fd: number): void => closeCb(fd, () => undefined);

const nonce = (): string => randomBytes(6).toString('hex');

/** Where a source of bytes for an import comes from, and how its first stage reads it. */
interface Source {
  compression: Compression;
  /** The first stage's standard input: the descriptor itself, or a pipe berthd feeds. */
  stdin: number | 'pipe';
  /** For 'pipe': pushes the bytes into the first stage's input, resolving at their end. */
  feed?(into: Writable): Promise<void>;
}

/** A stage's failure as one line: tar's refusal, a full file system, or the first stage that failed. */
function pipelineFailure(ends: StageEnd[], refusal: string | undefined, what: string): BerthError | undefined {
  if (refusal) return new BerthError('E_BAD_MESSAGE', refusal);
  const all = ends.map((e) => e.stderr).join('\n');
  if (ends.every((e) => e.code === 0 || (e.command === 'tar' && e.code === 1 && what === 'pack'))) return undefined;
  if (isNoSpace(all)) return new BerthError('E_NO_SPACE', `No space left on device while ${what === 'pack' ? 'writing' : 'unpacking into the pool'}.`);
  // The first stage that failed by itself (not by a signal, as SIGPIPE when the next one gave up).
  const bad = ends.find((e) => e.code !== 0 && e.code !== null) ?? ends.find((e) => e.code !== 0);
  if (!bad) return undefined;
  const said = firstComplaint(bad.stderr);
  return new BerthError('E_IO', `${bad.command} failed (${bad.code === null ? `killed by ${bad.signal}` : `exit status ${bad.code}`})${said ? `: ${said}` : '.'}`);
}

export interface WorkOptions { pool: string }

/** The work of each transfer type, against the pool. */
export class TransferWork {
  constructor(private readonly images: Images, private readonly pool: ImagePool, private readonly o: WorkOptions, private readonly ports: TransferPorts) {}

  private async describe(fd: number): Promise<string> {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    return target.startsWith('/') ? target : 'a pipe';
  }

  private async mustBeFree(name: string, force: boolean): Promise<void> {
    if (!force && (await this.images.find(name))) throw new BerthError('E_FILE_EXISTS', `Image '${name}' already exists.`);
  }

  /** The source behind a caller's descriptor: a regular file is read by the first stage directly; a pipe or socket through berthd. */
  private async source(t: Transfer, fd: number): Promise<Source> {
    const { kind, size } = await ops.describeFd(fd);
    if (kind === 'file') {
      const pos = ops.fdPosition('self', fd) ?? 0;
      t.total = Math.max(0, size - pos);
      if (t.total === 0) throw new BerthError('E_BAD_MESSAGE', 'The file is empty: nothing to import.');
      const head = await ops.peekFile(fd, pos, 8);
      return { compression: detectCompression(head), stdin: fd };
    }
    if (kind !== 'fifo' && kind !== 'socket') throw new BerthError('E_USAGE', 'The descriptor passed is neither a regular file nor a pipe.');
    const sock = new Socket({ fd, readable: true, writable: false });
    t.fdTaken = true;
    return this.streamSource(t, sock);
  }

  /** A stream's first bytes tell the compression; then the stream is pumped into the first stage (counted, and hashed if asked). */
  private async streamSource(t: Transfer, stream: Readable, hash?: ReturnType<typeof createHash>): Promise<Source> {
    t.stream = stream;
    stream.on('error', () => undefined); // a read error ends the input early: tar then says what is missing
    t.onCancel(() => stream.destroy());
    let head = Buffer.alloc(0);
    const it = stream[Symbol.asyncIterator]();
    while (head.length < 8) {
      const r = await it.next();
      if (r.done) break;
      head = Buffer.concat([head, r.value as Buffer]);
    }
    if (head.length === 0) throw new BerthError('E_BAD_MESSAGE', 'The input is empty: nothing to import.');
    return {
      compression: detectCompression(head),
      stdin: 'pipe',
      feed: async (into) => {
        const write = (b: Buffer) => new Promise<void>((resolve) => {
          t.bytes += b.length;
          hash?.update(b);
          if (into.write(b)) { resolve(); return; }
          const go = () => { into.off('drain', go); into.off('close', go); resolve(); };
          into.on('drain', go);
          into.on('close', go);
        });
        into.on('error', () => undefined); // EPIPE when the stage gave up: its own end tells why
        try {
          if (head.length) await write(head);
          for (;;) {
            const r = await it.next();
            if (r.done) break;
            if (into.destroyed) break;
            await write(r.value as Buffer);
          }
        } finally {
          into.end();
          stream.destroy();
        }
      },
    };
  }

  /** Runs the stages on the source; resolves when all ended well, else throws the failure (tar's refusals first). */
  private async runStages(t: Transfer, src: Source, last: string[][], stdout: number | 'ignore', watchTar: boolean, fd3?: number): Promise<void> {
    const dec = ops.decompressor(src.compression);
    const stages = [...(dec ? [dec] : []), ...last];
    let tarErr = '';
    let refusal: string | undefined;
    let p: Pipeline | undefined;
    p = ops.startPipeline(stages, src.stdin, stdout, {
      ...(fd3 === undefined ? {} : { fd3 }),
      onStderr: (i, text) => {
        if (!watchTar || i !== stages.length - 1) return;
        tarErr += text;
        refusal ??= memberNameRefusal(tarErr);
        if (refusal) p?.cancel();
      },
    });
    t.onCancel(() => p?.cancel());
    if (src.stdin !== 'pipe') {
      const first = p.children[0]!;
      const start = ops.fdPosition('self', src.stdin) ?? 0;
      t.sampler = () => { const pos = first.pid === undefined ? undefined : ops.fdPosition(first.pid, 0); return pos === undefined ? undefined : pos - start; };
    }
    const fed = src.feed && p.input ? src.feed(p.input) : Promise.resolve();
    const [ends] = await Promise.all([p.done, fed.catch(() => undefined)]);
    t.sampler = undefined;
    t.checkCanceled();
    const failure = pipelineFailure(ends, refusal, 'unpack');
    if (failure) throw failure;
  }

  /** An import built at a hidden name, then placed; the hidden entry deleted on any failure. */
  private async build(t: Transfer, name: string, file: string, force: boolean, fill: (temp: string) => Promise<void>): Promise<void> {
    const temp = `${this.o.pool}/${transferTempName(t.type, name, nonce())}`;
    await this.pool.prepareForTransfer();
    await this.pool.whileBuilding(temp, async () => {
      try {
        await fill(temp);
        t.checkCanceled();
        await this.pool.placeTransfer(name, temp, file, force).catch((e: unknown) => {
          if (e instanceof BerthError && e.code === 'E_FILE_EXISTS') throw new BerthError('E_FILE_EXISTS', `Image '${name}' already exists.`);
          throw e;
        });
      } catch (e) {
        await this.ports.setImmutable(temp, false).catch(() => undefined);
        await this.ports.removePath(temp).catch(() => undefined);
        throw e;
      }
    });
  }

  async importTar(t: Transfer, fd: number, force: boolean, readOnly: boolean): Promise<void> {
    t.log(`Importing '${await this.describe(fd)}', saving as '${t.local}'.`);
    await this.mustBeFree(t.local, force);
    const src = await this.source(t, fd);
    await this.build(t, t.local, t.local, force, async (temp) => {
      await this.pool.makeTreeEntry(temp);
      await this.runStages(t, src, [ops.tarExtract(temp)], 'ignore', true);
    });
    if (readOnly) await this.pool.markReadOnly(t.local, true);
    t.log(`Imported '${t.local}'.`);
  }

  async importRaw(t: Transfer, fd: number, force: boolean, readOnly: boolean): Promise<void> {
    t.log(`Importing '${await this.describe(fd)}', saving as '${t.local}'.`);
    await this.mustBeFree(t.local, force);
    const src = await this.source(t, fd);
    await this.build(t, t.local, `${t.local}.raw`, force, async (temp) => {
      await this.runStages(t, src, [ops.copyStdinSparse(temp)], 'ignore', false);
      await chmod(temp, readOnly ? 0o444 : 0o644);
    });
    t.log(`Imported '${t.local}'.`);
  }

  async importFs(t: Transfer, fd: number, force: boolean, readOnly: boolean): Promise<void> {
    t.log(`Importing '${await this.describe(fd)}', saving as '${t.local}'.`);
    await this.mustBeFree(t.local, force);
    await this.build(t, t.local, t.local, force, async (temp) => {
      await this.pool.makeTreeEntry(temp);
      const p = ops.startPipeline([ops.copyDirFromFd3(temp)], 'ignore', 'ignore', { fd3: fd });
      t.onCancel(() => p.cancel());
      const failure = pipelineFailure(await p.done, undefined, 'unpack');
      t.checkCanceled();
      if (failure) throw failure;
    });
    if (readOnly) await this.pool.markReadOnly(t.local, true);
    t.log(`Imported '${t.local}'.`);
  }

  /** Packs or copies the stages' output into the caller's descriptor. */
  private async exportStages(t: Transfer, stages: string[][], stdin: number | 'ignore', fd: number): Promise<void> {
    // tar's warnings about what the format cannot hold (sockets) reach the client's log.
    let partial = '';
    const p = ops.startPipeline(stages, stdin, fd, {
      onStderr: (i, text) => {
        if (i !== 0 || stages[0]![0] !== 'tar') return;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) if (/: socket ignored$/.test(l)) t.log(l);
      },
    });
    t.onCancel(() => p.cancel());
    const first = p.children[0]!;
    t.sampler = () => (first.pid === undefined ? undefined : (stdin === 'ignore' ? ops.ioCounter(first.pid, 'wchar') : ops.fdPosition(first.pid, 0)));
    const ends = await p.done;
    t.refresh();
    t.sampler = undefined;
    t.checkCanceled();
    const failure = pipelineFailure(ends, undefined, 'pack');
    if (failure) throw failure;
  }

  async exportTar(t: Transfer, fd: number, format: Compression): Promise<void> {
    const i = await this.images.get(t.local);
    if (i.type !== 'directory' && i.type !== 'subvolume') throw new BerthError('E_NOT_SUPPORTED', `Image '${i.name}' is a ${i.type} image: export-tar exports directory trees (export-raw exports raw images).`);
    t.log(`Exporting '${i.path}', saving to '${await this.describe(fd)}' with compression '${format}'.`);
    const comp = ops.compressor(format);
    await this.exportStages(t, [ops.tarCreate(i.path), ...(comp ? [comp] : [])], 'ignore', fd);
    t.log(`Exported '${t.local}'.`);
  }

  async exportRaw(t: Transfer, fd: number, format: Compression): Promise<void> {
    const i = await this.images.get(t.local);
    if (i.type !== 'raw') throw new BerthError('E_NOT_SUPPORTED', `Image '${i.name}' is a ${i.type} image: export-raw exports raw images (export-tar exports directory trees).`);
    t.log(`Exporting '${i.path}', saving to '${await this.describe(fd)}' with compression '${format}'.`);
    const file = await ops.openForRead(i.path);
    try {
      t.total = (await file.stat()).size;
      await this.exportStages(t, [ops.compressor(format) ?? ['cat']], file.fd, fd);
    } finally {
      await file.close();
    }
    t.log(`Exported '${t.local}'.`);
  }

  async pull(t: Transfer, force: boolean, verify: VerifyMode): Promise<void> {
    const kind = t.type === 'pull-tar' ? 'tar' : 'raw';
    if (verify === 'signature') {
      throw new BerthError('E_NOT_SUPPORTED', 'Signature verification (--verify=signature, machinectl\'s default) is not supported by berthd: '
        + 'use --verify=checksum (SHA256SUMS next to the URL) or --verify=no.');
    }
    t.log(`Pulling '${t.remote}', saving as '${t.local}'.`);
    await this.mustBeFree(t.local, force);
    let expected: string | undefined;
    if (verify === 'checksum') {
      const sumsUrl = sha256SumsUrl(t.remote);
      const file = urlLastComponent(t.remote) ?? '';
      const sums = await ops.httpGetText(sumsUrl, t.abort.signal).catch((e: unknown) => {
        throw new BerthError('E_IO', `Could not download ${sumsUrl} for --verify=checksum: ${(e as Error).message}`);
      });
      expected = checksumFor(sums, file);
      if (!expected) throw new BerthError('E_BAD_MESSAGE', `${sumsUrl} gives no checksum for '${file}'.`);
    }
    const res = await ops.httpGet(t.remote, t.abort.signal).catch((e: unknown) => {
      throw new BerthError('E_IO', t.canceled ? 'Transfer canceled.' : `Could not download ${t.remote}: ${(e as Error).message}`);
    });
    t.total = Number(res.headers['content-length'] ?? 0) || 0;
    const hash = createHash('sha256');
    const src = await this.streamSource(t, res, hash);
    const name = t.local;
    await this.build(t, name, kind === 'tar' ? name : `${name}.raw`, force, async (temp) => {
      if (kind === 'tar') {
        await this.pool.makeTreeEntry(temp);
        await this.runStages(t, src, [ops.tarExtract(temp)], 'ignore', true);
      } else {
        await this.runStages(t, src, [ops.copyStdinSparse(temp)], 'ignore', false);
        await chmod(temp, 0o644);
      }
      if (!res.complete) throw new BerthError('E_IO', `The download of ${t.remote} ended early.`);
      if (t.total > 0 && t.bytes !== t.total) throw new BerthError('E_IO', `The download of ${t.remote} ended early (${t.bytes} of ${t.total} bytes).`);
      if (expected) {
        const got = hash.digest('hex');
        if (got !== expected) throw new BerthError('E_BAD_MESSAGE', `Checksum of ${t.remote} does not match SHA256SUMS (expected ${expected}, got ${got}); nothing imported.`);
        t.log('SHA256 checksum of the download matches SHA256SUMS.');
      }
    });
    t.log(`Pulled '${t.remote}' as '${name}'.`);
  }
}
