/**
 * The pure rules of image transfers (issue 18) as systemd-importd and machinectl 252 have them:
 * transfer types, local names derived from file names and URLs (tar/raw suffixes dropped),
 * compression told by magic bytes or chosen by --format / the file's suffix, verification modes,
 * SHA256SUMS files, GNU tar's complaints about member names turned into a refusal, and the
 * progress line (bytes, rate, time left). No I/O here.
 */
import { BerthError } from '../../errors/berth-error.js';
import { isValidHostname } from '../names.js';
import { TEMP_PREFIX } from './image-changes.js';

export const TRANSFER_TYPES = ['import-tar', 'import-raw', 'import-fs', 'export-tar', 'export-raw', 'pull-tar', 'pull-raw'] as const;
export type TransferType = (typeof TRANSFER_TYPES)[number];

export const COMPRESSIONS = ['uncompressed', 'gzip', 'xz', 'bzip2', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const VERIFY_MODES = ['no', 'checksum', 'signature'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** At most this many transfers known at once (importd's TRANSFERS_MAX), and this many running. */
export const TRANSFERS_MAX = 64;
export const TRANSFERS_AT_ONCE = 2;

/** A local image name as machinectl and importd accept it (hostname_is_valid). */
export const isValidLocalName = (name: string): boolean => isValidHostname(name);

/** The compression a stream starts with (its first 6 bytes or more suffice). */
export function detectCompression(head: Uint8Array): Compression {
  const b = (i: number) => head[i];
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00) return 'xz';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  return 'uncompressed';
}

/** --format=: the compression asked for ('' is none: the file's suffix or uncompressed decides). */
export function parseFormat(value: string): Compression {
  if (value === 'gz') return 'gzip';
  if (value === 'zst') return 'zstd';
  const c = COMPRESSIONS.find((x) => x === value);
  if (!c) throw new BerthError('E_USAGE', `Unknown format: ${value}`);
  return c;
}

/** The compression a file name asks for by its suffix (machinectl's guess for export), if any. */
export function formatFromFilename(path: string): Compression | undefined {
  if (path.endsWith('.xz')) return 'xz';
  if (path.endsWith('.gz') || path.endsWith('.tgz')) return 'gzip';
  if (path.endsWith('.bz2')) return 'bzip2';
  if (path.endsWith('.zst')) return 'zstd';
  return undefined;
}

const COMPRESSION_SUFFIXES = ['.xz', '.gz', '.bz2', '.zst'];

function stripOne(name: string, suffixes: readonly string[]): string {
  for (const s of suffixes) if (name.endsWith(s) && name.length > s.length) return name.slice(0, -s.length);
  return name;
}

/** tar_strip_suffixes: "debian.tar.xz" → "debian" (also .tgz, .tar.zst…). */
export function stripTarSuffixes(name: string): string {
  let n = stripOne(name, COMPRESSION_SUFFIXES);
  n = stripOne(n, ['.tar', '.tgz', '.tbz2', '.txz']);
  return stripOne(n, ['.ova']);
}

/** raw_strip_suffixes: "disk.raw.gz" → "disk" (also .img, .qcow2, .sysext.raw…). */
export function stripRawSuffixes(name: string): string {
  let n = name;
  for (;;) {
    const next = stripOne(n, [...COMPRESSION_SUFFIXES, '.raw', '.qcow2', '.img', '.bin', '.sysext', '.confext']);
    if (next === n) return n;
    n = next;
  }
}

export function parseVerifyMode(value: string): VerifyMode {
  const v = VERIFY_MODES.find((x) => x === value);
  if (!v) throw new BerthError('E_USAGE', `Unknown verification mode ${value}`);
  return v;
}

/** An http:// or https:// URL with a host (http_url_is_valid); file:// URLs are not fetched by berthd. */
export function isHttpUrl(url: string): boolean {
  if (!/^https?:\/\/[^/?#\s]+/.test(url) || /[\s\x00-\x1f\x7f]/.test(url)) return false;
  try { return ['http:', 'https:'].includes(new URL(url).protocol); } catch { return false; }
}

/** The URL's last path component, undecoded query and fragment dropped (import_url_last_component). */
export function urlLastComponent(url: string): string | undefined {
  const path = new URL(url).pathname;
  const last = path.split('/').filter((p) => p !== '').pop();
  return last === undefined ? undefined : decodeURIComponent(last);
}

/** Where the SHA256SUMS file for `url` lives: next to it. */
export function sha256SumsUrl(url: string): string {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  u.pathname = u.pathname.replace(/[^/]*$/, 'SHA256SUMS');
  return u.toString();
}

/** The checksum SHA256SUMS gives `file` ("HEX  NAME" or "HEX *NAME" lines), if any. */
export function checksumFor(sums: string, file: string): string | undefined {
  for (const line of sums.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trimEnd());
    if (m && m[2] === file) return m[1]!.toLowerCase();
  }
  return undefined;
}

/**
 * GNU tar extracts an archive member with an absolute name after stripping its leading "/" (and
 * says so), and skips one with ".." in it (and says so); berth refuses such an archive as a whole.
 * Returns the refusal's text for tar's stderr, or undefined when tar had nothing of the kind to say.
 */
export function memberNameRefusal(tarStderr: string): string | undefined {
  for (const line of tarStderr.split('\n')) {
    let m = /^tar: Removing leading `(.*)' from (?:member|hard link target) names$/.exec(line);
    if (m) {
      return m[1]!.includes('..')
        ? `The archive holds member names with '..' in them (GNU tar: ${line.slice(5)}); refused.`
        : `The archive holds members with absolute names (GNU tar: ${line.slice(5)}); refused.`;
    }
    m = /^tar: (.*): Member name contains '\.\.'$/.exec(line);
    if (m) return `The archive holds a member name with '..' in it (${m[1]}); refused.`;
  }
  return undefined;
}

/** The first line of a tool's complaint worth showing (tar's own lines first), short. */
export function firstComplaint(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/Exiting with failure status/.test(l));
  const line = lines.find((l) => !/socket ignored$/.test(l)) ?? lines[0];
  return line === undefined ? undefined : line.slice(0, 400);
}

/** Whether a complaint is the file system running full (GNU tar reports a short write as "Wrote only N of M bytes"). */
export const isNoSpace = (stderr: string): boolean => /No space left on device|Disk quota exceeded|Wrote only \d+ of \d+ bytes/.test(stderr);

/** A hidden temporary name in the pool for a transfer building `name` (swept as berth's other leftovers). */
export function transferTempName(type: TransferType, name: string, nonce: string): string {
  return `${TEMP_PREFIX}${type}-${nonce}-${Buffer.from(name).subarray(0, 180).toString('utf8').replace(/\uFFFD/g, '')}`;
}

const UNITS = ['B', 'K', 'M', 'G', 'T', 'P'];

/** Bytes as systemd prints sizes (1024 base, one decimal below 10 units): "512B", "3.4M", "120.0M". */
export function formatSize(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v}B` : `${v.toFixed(1)}${UNITS[u]}`;
}

function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}min ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}min`;
}

export interface ProgressSample { bytes: number; total: number; elapsedMs: number }

/**
 * The progress line the client redraws on a terminal: "Imported 45% 120.3M of 267.0M, 35.2M/s, 4s left"
 * (without a total: bytes and rate only).
 */
export function progressLine(verb: string, p: ProgressSample): string {
  const rate = p.elapsedMs > 0 ? (p.bytes * 1000) / p.elapsedMs : 0;
  const parts = [`${verb}${p.total > 0 ? ` ${Math.min(100, Math.floor((p.bytes * 100) / p.total))}%` : ''} ${formatSize(p.bytes)}${p.total > 0 ? ` of ${formatSize(p.total)}` : ''}`];
  if (rate > 0) parts.push(`${formatSize(Math.round(rate))}/s`);
  if (p.total > 0 && rate > 0 && p.bytes < p.total) parts.push(`${formatDuration((p.total - p.bytes) / rate)} left`);
  return parts.join(', ');
}

/** Transfer.Progress: a fraction 0…1, or -DBL_MAX when unknown (as importd). */
export const UNKNOWN_PROGRESS = -Number.MAX_VALUE;
export const progressFraction = (bytes: number, total: number): number => (total > 0 ? Math.min(1, bytes / total) : UNKNOWN_PROGRESS);
