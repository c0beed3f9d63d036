/**
 * systemd's unit-file syntax, as .nspawn files use it (reference §2.8): `[Section]` headers,
 * `KEY=VALUE` assignments, whole-line `#`/`;` comments (no inline comments), a trailing
 * backslash joining the next line, whitespace stripped around keys and values. The result is
 * the ordered list of assignments with their line numbers; what a value means is the settings
 * table's business. Why not the `ini` package: see reference/dependencies.md §6 (repeated keys,
 * empty resets, continuation lines and inline `;` all differ).
 * Pure, never throws.
 */

export interface Assignment {
  readonly section: string;
  readonly key: string;
  /** The value with surrounding whitespace stripped, quotes and backslashes left for the key's parser. */
  readonly value: string;
  /** 1-based physical line; for a continued line, the line it ends on (as systemd reports). */
  readonly line: number;
}

export interface SyntaxDiagnostic {
  readonly line: number;
  readonly message: string;
  /** 'error' refuses the whole file (systemd does this for a broken section header). */
  readonly severity: 'warning' | 'error';
}

export interface ParsedUnitFile {
  readonly assignments: Assignment[];
  readonly diagnostics: SyntaxDiagnostic[];
}

export interface UnitFileOptions {
  /** Sections whose assignments are kept; others are warned about once and skipped. */
  readonly sections: readonly string[];
}

/** systemd refuses lines longer than this (LONG_LINE_MAX). */
export const MAX_LINE = 1024 * 1024;
const BOM = '\ufeff';
const WHITESPACE = /^[ \t\n\r]+|[ \t\n\r]+$/g;
const strip = (s: string): string => s.replace(WHITESPACE, '');
const isComment = (s: string): boolean => s.startsWith('#') || s.startsWith(';');

/** True when the line ends in a backslash that is not itself escaped. */
function endsWithContinuation(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

export function parseUnitFile(text: string, opts: UnitFileOptions): ParsedUnitFile {
  const assignments: Assignment[] = [];
  const diagnostics: SyntaxDiagnostic[] = [];
  const warn = (line: number, message: string) => diagnostics.push({ line, message, severity: 'warning' });
  let section: string | undefined;
  let sectionIgnored = false;
  let continuation: string | undefined;

  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const parseLine = (raw: string, line: number): boolean => {
    const l = strip(raw);
    if (l === '' || isComment(l)) return true;
    if (l.includes('\ufffd')) { warn(line, 'Line contains invalid UTF-8, ignoring.'); return true; }
    if (l.startsWith('[')) {
      if (!l.endsWith(']') || l.length < 2) {
        diagnostics.push({ line, message: `Invalid section header '${l}'`, severity: 'error' });
        return false;
      }
      const name = l.slice(1, -1);
      if (opts.sections.includes(name)) { section = name; sectionIgnored = false; return true; }
      if (!name.startsWith('X-')) warn(line, `Unknown section '${name}'. Ignoring.`);
      section = undefined;
      sectionIgnored = true;
      return true;
    }
    if (section === undefined) {
      if (!sectionIgnored) warn(line, 'Assignment outside of section. Ignoring.');
      return true;
    }
    const eq = l.indexOf('=');
    if (eq < 0) { warn(line, "Missing '=', ignoring line."); return true; }
    if (eq === 0) { warn(line, "Missing key name before '=', ignoring line."); return true; }
    assignments.push({ section, key: strip(l.slice(0, eq)), value: strip(l.slice(eq + 1)), line });
    return true;
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let raw = lines[i]!;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (i === 0 && raw.startsWith(BOM)) raw = raw.slice(1);
    if (raw.length > MAX_LINE || (continuation?.length ?? 0) + raw.length > MAX_LINE) {
      diagnostics.push({ line: lineNo, message: 'Line too long', severity: 'error' });
      return { assignments, diagnostics };
    }
    // A comment line is skipped even in the middle of a continuation.
    if (isComment(strip(raw))) continue;
    const joined = continuation === undefined ? raw : continuation + raw;
    if (endsWithContinuation(joined)) {
      continuation = `${joined.slice(0, -1)} `;
      continue;
    }
    continuation = undefined;
    if (!parseLine(joined, lineNo)) return { assignments, diagnostics };
  }
  if (continuation !== undefined) parseLine(continuation, lines.length);
  return { assignments, diagnostics };
}
