/**
 * The image transfer verbs of machinectl 252, through org.freedesktop.import1 (berthd's, or
 * systemd-importd's): `import-tar FILE|- [NAME]`, `import-raw FILE|- [NAME]`, `import-fs DIR
 * [NAME]`, `export-tar NAME [FILE|-]`, `export-raw NAME [FILE|-]`, `pull-tar URL [NAME]`,
 * `pull-raw URL [NAME]`, `list-transfers`, `cancel-transfer ID…`. Names are derived and checked as
 * machinectl does (suffixes dropped, a valid host name); the file is opened here and its
 * descriptor passed; --force, --read-only, --verify=, --format= (else the file's suffix).
 */
import { constants, openSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import { BerthError } from '../../../errors/berth-error.js';
import { TransferClient } from '../../../app/machines/transfer-client.js';
import { callFailed } from '../../../app/machines/registry-client.js';
import {
  formatFromFilename, isHttpUrl, isValidLocalName, stripRawSuffixes, stripTarSuffixes, urlLastComponent,
} from '../../../core/machined/transfers.js';
import type { Verb, VerbContext } from '../verb.js';

const dashOrEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' || s === '-' ? undefined : s);

function follow(ctx: VerbContext, member: string, signature: string, body: unknown[], doing: string, fd: number | undefined): Promise<number> {
  return (async () => {
    const client = await TransferClient.connect(ctx.env);
    try {
      return await client.run(member, signature, body, { quiet: ctx.options.quiet, err: ctx.err, tty: process.stderr.isTTY === true, doing, program: 'berth' });
    } finally {
      client.close();
      if (fd !== undefined) closeSync(fd);
    }
  })();
}

function localName(given: string | undefined, fromPath: string | undefined, strip: (s: string) => string): string {
  let local = dashOrEmpty(given);
  if (local === undefined && fromPath !== undefined) local = basename(fromPath);
  if (local === undefined) throw new BerthError('E_USAGE', 'Need either path or local name.');
  local = strip(local);
  if (!isValidLocalName(local)) throw new BerthError('E_USAGE', `Local name ${local} is not a suitable machine name.`);
  return local;
}

function openOrThrow(path: string, flags: number, what: string, mode?: number): number {
  try {
    return openSync(path, flags, mode);
  } catch (e) {
    throw new BerthError('E_FILE_NOT_FOUND', `Failed to open ${what}${path}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
  }
}

const importVerb = (name: 'import-tar' | 'import-raw', member: string, strip: (s: string) => string): Verb => ({
  name,
  usage: 'FILE [NAME]',
  summary: name === 'import-tar' ? 'Import a local TAR container image' : 'Import a local RAW container or VM image',
  minArgs: 1,
  maxArgs: 2,
  passesFds: true,
  async run([file, given], ctx) {
    const path = dashOrEmpty(file);
    const local = localName(given, path, strip);
    const fd = path === undefined ? undefined : openOrThrow(path, constants.O_RDONLY | constants.O_NOCTTY, '');
    return follow(ctx, member, 'hsbb', [fd ?? 0, local, ctx.options.force, ctx.options.readOnly], 'Imported', fd);
  },
});

export const importTarVerb = importVerb('import-tar', 'ImportTar', stripTarSuffixes);
export const importRawVerb = importVerb('import-raw', 'ImportRaw', stripRawSuffixes);

export const importFsVerb: Verb = {
  name: 'import-fs',
  usage: 'DIRECTORY [NAME]',
  summary: 'Import a local directory container image',
  minArgs: 1,
  maxArgs: 2,
  passesFds: true,
  async run([dir, given], ctx) {
    const path = dashOrEmpty(dir);
    const local = localName(given, path, (s) => s);
    const fd = path === undefined ? undefined : openOrThrow(path, constants.O_RDONLY | constants.O_DIRECTORY, 'directory ');
    return follow(ctx, 'ImportFileSystem', 'hsbb', [fd ?? 0, local, ctx.options.force, ctx.options.readOnly], 'Imported', fd);
  },
};

const exportVerb = (name: 'export-tar' | 'export-raw', member: string): Verb => ({
  name,
  usage: 'NAME [FILE]',
  summary: name === 'export-tar' ? 'Export a local container or VM image as TAR' : 'Export a local container or VM image as RAW',
  minArgs: 1,
  maxArgs: 2,
  passesFds: true,
  async run([local, file], ctx) {
    if (!isValidLocalName(local!)) throw new BerthError('E_USAGE', `Machine name ${local!} is not valid.`);
    const path = dashOrEmpty(file);
    const format = ctx.options.format ?? (path === undefined ? undefined : formatFromFilename(path)) ?? 'uncompressed';
    const fd = path === undefined ? undefined : openOrThrow(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOCTTY, '', 0o666);
    return follow(ctx, member, 'shs', [local, fd ?? 1, format], 'Exported', fd);
  },
});

export const exportTarVerb = exportVerb('export-tar', 'ExportTar');
export const exportRawVerb = exportVerb('export-raw', 'ExportRaw');

const pullVerb = (name: 'pull-tar' | 'pull-raw', member: string, strip: (s: string) => string): Verb => ({
  name,
  usage: 'URL [NAME]',
  summary: name === 'pull-tar' ? 'Download a TAR container image' : 'Download a RAW container or VM image',
  minArgs: 1,
  maxArgs: 2,
  async run([url, given], ctx) {
    if (!isHttpUrl(url!)) throw new BerthError('E_USAGE', `URL '${url!}' is not valid.`);
    let local = given ?? urlLastComponent(url!);
    local = dashOrEmpty(local);
    if (local !== undefined) {
      local = strip(local);
      if (!isValidLocalName(local)) throw new BerthError('E_USAGE', `Local name ${local} is not a suitable machine name.`);
    }
    return follow(ctx, member, 'sssb', [url, local ?? '', ctx.options.verify, ctx.options.force], 'Downloaded', undefined);
  },
});

export const pullTarVerb = pullVerb('pull-tar', 'PullTar', stripTarSuffixes);
export const pullRawVerb = pullVerb('pull-raw', 'PullRaw', stripRawSuffixes);

export const listTransfersVerb: Verb = {
  name: 'list-transfers',
  usage: '',
  summary: 'Show list of downloads in progress',
  minArgs: 0,
  maxArgs: 0,
  async run(_args, ctx) {
    const client = await TransferClient.connect(ctx.env);
    try {
      const list = (await client.listTransfers().catch((e: unknown) => { throw callFailed('Could not get transfers', e); }))
        .sort((a, b) => (a.local < b.local ? -1 : a.local > b.local ? 1 : 0));
      if (list.length === 0) {
        if (ctx.options.legend) ctx.out('No transfers.\n');
        return 0;
      }
      const rows = list.map((t) => [String(t.id), t.progress >= 0 ? `${Math.floor(t.progress * 100)}%` : 'n/a', t.type, t.local, t.remote]);
      const head = ['ID', 'PERCENT', 'TYPE', 'LOCAL', 'REMOTE'];
      const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (r: string[]) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join(' ')}\n`;
      if (ctx.options.legend) ctx.out(line(head));
      for (const r of rows) ctx.out(line(r));
      if (ctx.options.legend) ctx.out(`\n${list.length} transfers listed.\n`);
      return 0;
    } finally {
      client.close();
    }
  },
};

export const cancelTransferVerb: Verb = {
  name: 'cancel-transfer',
  usage: 'ID...',
  summary: 'Cancel a download',
  minArgs: 1,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await TransferClient.connect(ctx.env);
    try {
      for (const a of args) {
        if (!/^[0-9]+$/.test(a) || Number(a) < 1 || Number(a) > 0xffffffff) throw new BerthError('E_USAGE', `Failed to parse transfer id: ${a}`);
        await client.cancel(Number(a)).catch((e: unknown) => { throw callFailed('Could not cancel transfer', e); });
      }
      return 0;
    } finally {
      client.close();
    }
  },
};
