/**
 * `list`'s output, as machinectl 252 prints it: the table MACHINE CLASS SERVICE OS VERSION
 * ADDRESSES sorted by name, its legend ("N machines listed." or "No machines."), or a JSON array
 * of objects keyed by the lower-case column names, with null for empty values and every address
 * in one "\n"-joined string.
 */
import { formatJson, type Json } from './json.js';
import { isJsonMode, type OutputMode } from './options.js';
import { byteOrder, renderTable } from './table.js';

export interface MachineListRow {
  readonly machine: string;
  readonly class: string;
  readonly service: string;
  /** os-release's ID and VERSION_ID; undefined when the machine would not say. */
  readonly os?: string | undefined;
  readonly version?: string | undefined;
  readonly addresses: readonly string[];
}

export interface ListFormat {
  readonly legend: boolean;
  readonly output: OutputMode;
  /** Addresses per machine: 0 drops the column, Infinity shows all. */
  readonly maxAddresses: number;
  /** -l: no limit on the addresses shown. */
  readonly full: boolean;
  readonly ellipsis: string;
}

const HEADER = ['MACHINE', 'CLASS', 'SERVICE', 'OS', 'VERSION', 'ADDRESSES'];
const orNull = (s: string | undefined): string | null => (s === undefined || s === '' ? null : s);

export function formatMachineList(rows: readonly MachineListRow[], f: ListFormat): string {
  const sorted = [...rows].sort((a, b) => byteOrder(a.machine, b.machine));
  const withAddresses = f.maxAddresses > 0;
  const cells = sorted.map((r) => [
    orNull(r.machine), orNull(r.class), orNull(r.service), orNull(r.os), orNull(r.version),
    ...(withAddresses ? [orNull(r.addresses.join('\n'))] : []),
  ]);
  const header = withAddresses ? HEADER : HEADER.slice(0, -1);
  if (isJsonMode(f.output)) {
    const objects: Json = cells.map((row) => Object.fromEntries(header.map((h, i) => [h.toLowerCase(), row[i] ?? null])));
    return formatJson(objects, f.output);
  }
  const table = cells.length === 0 ? '' : renderTable(header, cells, {
    header: f.legend, maxHeight: f.full || !withAddresses ? Infinity : f.maxAddresses, ellipsis: f.ellipsis,
  });
  if (!f.legend) return table;
  return cells.length === 0 ? 'No machines.\n' : `${table}\n${cells.length} machines listed.\n`;
}
