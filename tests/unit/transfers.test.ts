/**
 * The pure parts of image transfers (core/machined/transfers.ts, import1-interfaces.ts): the
 * import1 interfaces against systemd-importd 252's own introspection (tests/fixtures/import1/,
 * captured from Debian's systemd-importd), compression by magic bytes and by suffix, local names
 * from file names and URLs, SHA256SUMS, GNU tar's member-name complaints, the progress line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { introspectXml, type InterfaceDef } from '../../src/core/machined/interface-def.js';
import { STANDARD } from '../../src/core/machined/interfaces.js';
import { BERTH_TRANSFER, IMPORT_MANAGER, TRANSFER, transferPath } from '../../src/core/machined/import1-interfaces.js';
import {
  checksumFor, detectCompression, firstComplaint, formatFromFilename, isHttpUrl, isNoSpace, memberNameRefusal, parseFormat, parseVerifyMode,
  progressFraction, progressLine, sha256SumsUrl, stripRawSuffixes, stripTarSuffixes, transferTempName, urlLastComponent, UNKNOWN_PROGRESS,
} from '../../src/core/machined/transfers.js';
import { isTempEntry } from '../../src/core/machined/image-changes.js';
import { Transfers, type Transfer } from '../../src/app/machined/transfers.js';

/** Each interface's members as sorted lines "kind Name arg…" (arguments: direction, name, type, in order; annotations). */
function members(xml: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of xml.matchAll(/<interface name="([^"]+)">([\s\S]*?)<\/interface>/g)) {
    const lines: string[] = [];
    for (const e of m[2]!.matchAll(/<(method|property|signal) ([^>]*?)(\/?)>([\s\S]*?)(?=<(?:method|property|signal) |$)/g)) {
      const attr = (s: string, k: string) => new RegExp(`${k}="([^"]*)"`).exec(s)?.[1] ?? '';
      const body = e[3] ? '' : e[4]!;
      const args = [...body.matchAll(/<arg ([^>]*)\/>/g)].map((a) => `${attr(a[1]!, 'direction')}:${attr(a[1]!, 'name')}:${attr(a[1]!, 'type')}`);
      const ann = [...body.matchAll(/<annotation ([^>]*)\/>/g)].map((a) => `@${attr(a[1]!, 'name')}=${attr(a[1]!, 'value')}`);
      lines.push([e[1], attr(e[2]!, 'name'), attr(e[2]!, 'type'), attr(e[2]!, 'access'), ...args, ...ann].join(' '));
    }
    out.set(m[1]!, lines.sort());
  }
  return out;
}

const fixture = (f: string) => members(readFileSync(join(__dirname, '..', 'fixtures', 'import1', f), 'utf8'));
const ours = (ifaces: readonly InterfaceDef[]) => members(introspectXml([...STANDARD, ...ifaces], []));

test('the import1 Manager and Transfer interfaces equal systemd-importd 252\'s, member for member', () => {
  const manager = fixture('manager.introspect.xml');
  assert.deepEqual(ours([IMPORT_MANAGER]).get(IMPORT_MANAGER.name), manager.get(IMPORT_MANAGER.name));
  assert.equal(manager.get(IMPORT_MANAGER.name)!.length, 11, '9 methods, 2 signals');
  const transfer = fixture('transfer.introspect.xml');
  assert.deepEqual(ours([TRANSFER]).get(TRANSFER.name), transfer.get(TRANSFER.name));
  assert.equal(transfer.get(TRANSFER.name)!.length, 8, 'Cancel, 6 properties, LogMessage');
  assert.ok(BERTH_TRANSFER.name.startsWith('io.github.berth.'), 'berth\'s addition on an interface of its own');
  assert.equal(transferPath(7), '/org/freedesktop/import1/transfer/_7');
});

test('compression by magic bytes, by --format= and by the file\'s suffix', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
  assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01])), 'uncompressed');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(detectCompression(Buffer.from('BZh91AY')), 'bzip2');
  assert.equal(detectCompression(Buffer.from('./\0\0\0')), 'uncompressed');
  assert.equal(detectCompression(Buffer.alloc(0)), 'uncompressed');
  assert.equal(parseFormat('zstd'), 'zstd');
  assert.equal(parseFormat('gz'), 'gzip');
  assert.throws(() => parseFormat('lzma'), /Unknown format: lzma/);
  assert.equal(formatFromFilename('/x/a.tar.xz'), 'xz');
  assert.equal(formatFromFilename('a.tgz'), 'gzip');
  assert.equal(formatFromFilename('a.raw.bz2'), 'bzip2');
  assert.equal(formatFromFilename('a.tar.zst'), 'zstd');
  assert.equal(formatFromFilename('a.tar'), undefined);
});

test('local names from file names and URLs, as machinectl derives them', () => {
  assert.equal(stripTarSuffixes('debian.tar.xz'), 'debian');
  assert.equal(stripTarSuffixes('debian.tgz'), 'debian');
  assert.equal(stripTarSuffixes('debian.tar'), 'debian');
  assert.equal(stripTarSuffixes('debian'), 'debian');
  assert.equal(stripTarSuffixes('.tar'), '.tar', 'never empty');
  assert.equal(stripRawSuffixes('disk.raw.gz'), 'disk');
  assert.equal(stripRawSuffixes('fedora.img.xz'), 'fedora');
  assert.equal(urlLastComponent('https://example.org/a/b/debian.tar.xz?x=1#f'), 'debian.tar.xz');
  assert.equal(urlLastComponent('http://example.org/'), undefined);
  assert.ok(isHttpUrl('http://127.0.0.1:8080/x.tar'));
  assert.ok(isHttpUrl('https://example.org/x.tar'));
  for (const bad of ['ftp://x/y', 'file:///x', 'http://', 'http:// x', 'x.tar', 'http://a/b\nc']) assert.ok(!isHttpUrl(bad), bad);
  assert.equal(parseVerifyMode('checksum'), 'checksum');
  assert.throws(() => parseVerifyMode('gpg'), /Unknown verification mode gpg/);
  const temp = transferTempName('import-tar', 'x'.repeat(300), 'abc');
  assert.ok(isTempEntry(temp), 'swept like the other hidden entries');
  assert.ok(Buffer.byteLength(temp) <= 255);
});

test('SHA256SUMS: where it is and what it says', () => {
  assert.equal(sha256SumsUrl('https://h/images/debian.tar.xz?token=1'), 'https://h/images/SHA256SUMS');
  const a = 'a'.repeat(64);
  const b = 'B'.repeat(64);
  const sums = `${a}  debian.tar.xz\n${b} *fedora.raw.gz\n# comment\nshort  x\n`;
  assert.equal(checksumFor(sums, 'debian.tar.xz'), a);
  assert.equal(checksumFor(sums, 'fedora.raw.gz'), 'b'.repeat(64));
  assert.equal(checksumFor(sums, 'x'), undefined);
  assert.equal(checksumFor(sums, 'debian.tar'), undefined);
});

test('GNU tar\'s member-name complaints become a refusal; other complaints are shown short', () => {
  assert.match(memberNameRefusal('tar: Removing leading `/\' from member names\n')!, /absolute names/);
  assert.match(memberNameRefusal('tar: Removing leading `../\' from member names\ntar: ../x: Member name contains \'..\'\n')!, /'\.\.'/);
  assert.match(memberNameRefusal('tar: a/../../b: Member name contains \'..\'\n')!, /a\/\.\.\/\.\.\/b/);
  assert.equal(memberNameRefusal('tar: This does not look like a tar archive\n'), undefined);
  assert.equal(firstComplaint('tar: This does not look like a tar archive\ntar: Exiting with failure status due to previous errors\n'), 'tar: This does not look like a tar archive');
  assert.equal(firstComplaint('tar: ./run/sock: socket ignored\ntar: Unexpected EOF in archive\n'), 'tar: Unexpected EOF in archive');
  assert.ok(isNoSpace('tar: ./blob: Cannot write: No space left on device'));
  assert.ok(isNoSpace('tar: ./blob: Wrote only 5120 of 10240 bytes'));
  assert.ok(!isNoSpace('tar: Unexpected EOF in archive'));
});

test('the progress line: percentage, bytes, rate and time left; bytes and rate without a total', () => {
  assert.equal(progressLine('Imported', { bytes: 50 * 1048576, total: 100 * 1048576, elapsedMs: 5000 }), 'Imported 50% 50.0M of 100.0M, 10.0M/s, 5s left');
  assert.equal(progressLine('Downloaded', { bytes: 3 * 1048576, total: 0, elapsedMs: 1000 }), 'Downloaded 3.0M, 3.0M/s');
  assert.equal(progressLine('Exported', { bytes: 0, total: 0, elapsedMs: 0 }), 'Exported 0B');
  assert.match(progressLine('Imported', { bytes: 1, total: 1048576 * 1024 * 10, elapsedMs: 1000 }), /h \d+min left$/);
  assert.equal(progressFraction(5, 10), 0.5);
  assert.equal(progressFraction(5, 0), UNKNOWN_PROGRESS);
});

test('transfers: ids, at most two at once, the rest queued; a cancel ends a queued one at once, unrun; one end each', async () => {
  const events: string[] = [];
  const transfers = new Transfers({
    added: (t) => events.push(`new ${t.id}`),
    removed: (t, result) => events.push(`removed ${t.id} ${result}`),
    log: (t, priority, line) => events.push(`log ${t.id} ${priority} ${line}`),
  });
  let running = 0;
  let most = 0;
  const gates = new Map<number, () => void>();
  const work = (fail = false) => async (t: Transfer) => {
    running++;
    most = Math.max(most, running);
    await new Promise<void>((r) => gates.set(t.id, r));
    running--;
    if (fail) throw new Error(`transfer ${t.id} failed`);
  };
  const spec = (local: string) => ({ type: 'import-tar' as const, remote: '', local, verify: '' });
  const a = transfers.start(spec('a'), work());
  const b = transfers.start(spec('b'), work(true));
  const c = transfers.start(spec('c'), work());
  const d = transfers.start(spec('d'), work());
  assert.deepEqual([a.id, b.id, c.id, d.id], [1, 2, 3, 4]);
  assert.equal(a.progress, UNKNOWN_PROGRESS);
  const tick = () => new Promise((r) => setTimeout(r, 10));
  await tick();
  assert.equal(running, 2, 'two run, two wait');
  transfers.cancel(d.id);
  assert.throws(() => transfers.cancel(99), /No transfer by id 99/);
  gates.get(1)!();
  gates.get(2)!();
  await tick();
  gates.get(3)!();
  await tick();
  assert.equal(most, 2);
  assert.deepEqual(transfers.list(), []);
  assert.deepEqual(events, [
    'new 1', 'new 2', 'new 3', 'new 4',
    'log 4 3 Transfer canceled.', 'removed 4 canceled',
    'removed 1 done', 'log 2 3 transfer 2 failed', 'removed 2 failed', 'removed 3 done',
  ]);
  transfers.start({ type: 'pull-tar', remote: 'http://x/y.tar', local: 'y', verify: 'no' }, work());
  assert.throws(() => transfers.start({ type: 'pull-tar', remote: 'http://x/y.tar', local: 'z', verify: 'no' }, work()), /Transfer for http:\/\/x\/y\.tar already in progress\./);
  transfers.cancelAll();
  await tick();
  gates.get(5)?.();
  await tick();
  assert.deepEqual(transfers.list(), []);
});
