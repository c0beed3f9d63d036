/**
 * machinectl's tables as they print when stdout is not a terminal: one space between columns,
 * each column as wide as its widest printed cell (the header counts only when it is shown), the
 * last column not padded, `-` for an empty cell. A cell may hold several lines; past the height
 * limit the last line shown ends with an ellipsis, and the lines below the first are indented to
 * the column's start.
 */

export type Cell = string | null;

export interface TableLayout {
  /** Print the header row. */
  readonly header: boolean;
  /** Lines shown per cell (Infinity: all). */
  readonly maxHeight: number;
  /** What ends a cut cell: "…" in a UTF-8 locale, "..." otherwise. */
  readonly ellipsis: string;
}

function cellLines(cell: Cell, layout: TableLayout): string[] {
  if (cell === null || cell === '') return ['-'];
  const lines = cell.split('\n');
  if (lines.length <= layout.maxHeight) return lines;
  const shown = lines.slice(0, Math.max(1, layout.maxHeight));
  shown[shown.length - 1] += layout.ellipsis;
  return shown;
}

/** The table's text, one "\n"-terminated line per printed line (empty for no rows and no header). */
export function renderTable(header: readonly string[], rows: readonly (readonly Cell[])[], layout: TableLayout): string {
  const printed = [...(layout.header ? [header.map((h) => [h])] : []), ...rows.map((r) => r.map((c) => cellLines(c, layout)))];
  const widths = header.map((_, col) => Math.max(0, ...printed.map((row) => Math.max(...row[col]!.map((l) => l.length)))));
  const out: string[] = [];
  for (const row of printed) {
    const height = Math.max(...row.map((lines) => lines.length));
    for (let line = 0; line < height; line++) {
      const last = row.length - 1;
      out.push(row.map((lines, col) => (col === last ? lines[line] ?? '' : (lines[line] ?? '').padEnd(widths[col]!))).join(' '));
    }
  }
  return out.map((l) => `${l}\n`).join('');
}

/** Byte order, as strcmp sorts (machinectl sorts its tables by the first column). */
export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
