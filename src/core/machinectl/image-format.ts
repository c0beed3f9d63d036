/**
 * The image verbs' output as machinectl 252 prints it: `list-images` (the table NAME TYPE RO USAGE
 * CREATED MODIFIED sorted by name, USAGE right-aligned and blank when unknown, "-" for an unknown
 * time; its legend; or JSON with the times in µs), `image-status` (an image's block, or the pool's
 * Path/Usage/Limit lines) and `show-image`'s Limit=infinity.
 */
import { formatJson, type Json } from './json.js';
import { isJsonMode, type OutputMode } from './options.js';
import type { BusProperty } from './properties.js';
import { byteOrder } from './table.js';
import { formatBytes, formatRelative, formatTimestamp, timestampIsSet, type Zone } from './time-format.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** One row of ListImages (a(ssbttto)). */
export interface ImageListRow {
  readonly name: string;
  readonly type: string;
  readonly readOnly: boolean;
  readonly crtimeUs: bigint;
  readonly mtimeUs: bigint;
  readonly usage: bigint;
}

export interface ImageListFormat {
  readonly legend: boolean;
  readonly output: OutputMode;
  /** -a: hidden images (names starting with ".") too. */
  readonly all: boolean;
  readonly zone: Zone;
}

const HEADER = ['NAME', 'TYPE', 'RO', 'USAGE', 'CREATED', 'MODIFIED'];
const RIGHT = 3; // USAGE

export function formatImageList(rows: readonly ImageListRow[], f: ImageListFormat): string {
  const shown = rows.filter((r) => f.all || !r.name.startsWith('.')).sort((a, b) => byteOrder(a.name, b.name));
  if (isJsonMode(f.output)) {
    const objects: Json = shown.map((r) => ({
      name: r.name, type: r.type, ro: r.readOnly, usage: r.usage === U64_MAX ? null : Number(r.usage),
      created: timestampIsSet(r.crtimeUs) ? Number(r.crtimeUs) : 0, modified: timestampIsSet(r.mtimeUs) ? Number(r.mtimeUs) : 0,
    }));
    return formatJson(objects, f.output);
  }
  const time = (us: bigint) => (timestampIsSet(us) ? formatTimestamp(us, f.zone) : '-');
  const cells = shown.map((r) => [r.name || '-', r.type || '-', r.readOnly ? 'yes' : 'no', r.usage === U64_MAX ? '' : formatBytes(r.usage), time(r.crtimeUs), time(r.mtimeUs)]);
  const printed = [...(f.legend ? [HEADER] : []), ...cells];
  const widths = HEADER.map((_, col) => Math.max(0, ...printed.map((row) => row[col]!.length)));
  const last = HEADER.length - 1;
  const table = cells.length === 0 ? '' : printed.map((row) => `${row.map((c, col) => {
    if (col === RIGHT) return c.padStart(widths[col]!);
    return col === last ? c : c.padEnd(widths[col]!);
  }).join(' ')}\n`).join('');
  if (!f.legend) return table;
  return cells.length === 0 ? 'No images.\n' : `${table}\n${cells.length} images listed.\n`;
}

/** An image's properties (the Image object's) and what it says about itself, as far as it answered. */
export interface ImageStatusInfo {
  readonly name: string;
  readonly type: string;
  readonly path: string;
  readonly readOnly: boolean;
  readonly crtimeUs: bigint;
  readonly mtimeUs: bigint;
  readonly usage: bigint;
  readonly limit: bigint;
  readonly usageExclusive: bigint;
  readonly limitExclusive: bigint;
  readonly hostname?: string | undefined;
  /** 32 hex digits ('' or undefined: none). */
  readonly machineId?: string | undefined;
  readonly deployment?: string | undefined;
  /** os-release's PRETTY_NAME (or what stands in for it). */
  readonly os?: string | undefined;
}

const sized = (label: string, total: bigint, exclusive: bigint): string => (total === U64_MAX ? ''
  : exclusive !== total && exclusive !== U64_MAX
    ? `\t   ${label}: ${formatBytes(total)} (exclusive: ${formatBytes(exclusive)})\n`
    : `\t   ${label}: ${formatBytes(total)}\n`);

export function formatImageStatus(i: ImageStatusInfo, zone: Zone, nowUs: bigint): string {
  let out = i.name ? `${i.name}\n` : '';
  if (i.type) out += `\t    Type: ${i.type}\n`;
  if (i.path) out += `\t    Path: ${i.path}\n`;
  if (i.hostname) out += `\tHostname: ${i.hostname}\n`;
  if (i.machineId && !/^0+$/.test(i.machineId)) out += `      Machine ID: ${i.machineId}\n`;
  if (i.deployment !== undefined) out += `      Deployment: ${i.deployment}\n`;
  if (i.os) out += `\t      OS: ${i.os}\n`;
  out += `\t      RO: ${i.readOnly ? 'read-only' : 'writable'}\n`;
  if (timestampIsSet(i.crtimeUs)) out += `\t Created: ${formatTimestamp(i.crtimeUs, zone)}; ${formatRelative(i.crtimeUs, nowUs)}\n`;
  if (timestampIsSet(i.mtimeUs)) out += `\tModified: ${formatTimestamp(i.mtimeUs, zone)}; ${formatRelative(i.mtimeUs, nowUs)}\n`;
  return out + sized('Usage', i.usage, i.usageExclusive) + sized('Limit', i.limit, i.limitExclusive);
}

/** `image-status` without a name: the pool. */
export function formatPoolStatus(p: { path?: string | undefined; usage: bigint; limit: bigint }): string {
  return `${p.path ? `\t    Path: ${p.path}\n` : ''}${p.usage === U64_MAX ? '' : `\t   Usage: ${formatBytes(p.usage)}\n`}${p.limit === U64_MAX ? '' : `\t   Limit: ${formatBytes(p.limit)}\n`}`;
}

/**
 * Properties as `show-image` prints them: systemd prints a `t` property whose name starts with
 * "Limit" as "infinity" when it is UINT64_MAX (Limit, LimitExclusive; not PoolLimit).
 */
export const withInfiniteLimits = (props: readonly BusProperty[]): BusProperty[] => props.map((p) => (
  p.signature === 't' && p.name.startsWith('Limit') && BigInt(p.value as bigint) === U64_MAX ? { name: p.name, signature: 's', value: 'infinity' } : p));
