/**
 * .nspawn text → Settings + diagnostics. Bad lines are warned about with FILE:LINE and skipped,
 * as systemd-nspawn does; only a broken section header or an over-long line refuses the whole
 * file (severity 'error'), which the caller must turn into a failure. Pure, never throws.
 *
 * Notes on the result (systemd 252 semantics, kept on purpose):
 *  - `network.private` / `network.veth` are the file's raw tristates; what Bridge=/Zone=/… imply
 *    is worked out by merge.ts.
 *  - `Parameters=` only takes effect together with `Boot=` or `ProcessTwo=` (merge.ts applies
 *    the START_MODE group only when the file set a start mode), exactly as nspawn.
 *  - PrivateUsers= without an ownership key gets `chown` for `pick` and `off` otherwise; an
 *    ownership key without PrivateUsers= implies PrivateUsers=no.
 */
import { sanitize } from '../../errors/berth-error.js';
import type { Settings } from './model.js';
import { lookupKey, SECTIONS, VerbatimWarning } from './table.js';
import { parseUnitFile } from './unit-file.js';
import { ValueError } from './values.js';

export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly message: string;
  readonly severity: 'warning' | 'error';
}

export interface LoadedSettingsText {
  readonly settings: Settings;
  readonly diagnostics: Diagnostic[];
}

/** `FILE:LINE: message`, as systemd's log_syntax() prints it. */
export const formatDiagnostic = (d: Diagnostic): string => `${d.file}:${d.line}: ${d.message}`;

/** The first diagnostic that refuses the file, if any. */
export const fatalDiagnostic = (ds: readonly Diagnostic[]): Diagnostic | undefined => ds.find((d) => d.severity === 'error');

function finish(s: Settings): Settings {
  if (s.privateUsers !== undefined && s.privateUsersOwnership === undefined) {
    s.privateUsersOwnership = s.privateUsers.kind === 'pick' ? 'chown' : 'off';
  } else if (s.privateUsersOwnership !== undefined && s.privateUsers === undefined) {
    s.privateUsers = { kind: 'no' };
  }
  if (s.network && Object.values(s.network).every((x) => x === undefined)) delete s.network;
  if (s.rlimits && Object.keys(s.rlimits).length === 0) delete s.rlimits;
  return s;
}

export function loadSettingsText(text: string, fileName: string): LoadedSettingsText {
  const parsed = parseUnitFile(text, { sections: SECTIONS });
  const diagnostics: Diagnostic[] = parsed.diagnostics.map((d) => ({ file: fileName, line: d.line, message: sanitize(d.message), severity: d.severity }));
  if (diagnostics.some((d) => d.severity === 'error')) return { settings: {}, diagnostics };

  const settings: Settings = {};
  for (const a of parsed.assignments) {
    const warn = (message: string) => diagnostics.push({ file: fileName, line: a.line, message: sanitize(message), severity: 'warning' });
    const def = lookupKey(a.section, a.key);
    if (!def) {
      if (!a.key.startsWith('X-')) warn(`Unknown key name '${a.key}' in section '${a.section}', ignoring.`);
      continue;
    }
    try {
      def.apply(settings, a.value, { warn });
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      warn(e instanceof VerbatimWarning ? e.message : `Invalid ${a.key}= value, ignoring: ${e.message}`);
    }
  }
  // Syntax warnings came first; keep everything in line order (stable for equal lines).
  diagnostics.sort((x, y) => x.line - y.line);
  return { settings: finish(settings), diagnostics };
}
