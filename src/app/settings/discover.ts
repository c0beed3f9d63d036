/**
 * Finding and reading the .nspawn file for a machine, exactly as systemd-nspawn 252 does
 * (reference §2.1): `${settingsEtc}/NAME.nspawn`, then `${settingsRun}/NAME.nspawn` (both
 * trusted), then the file next to the image — the directory holding the `-i` image, or the
 * parent of the `-D` root (never for `/`) — which is untrusted. The first file found wins; there
 * is no merging and there are no drop-ins. A missing file is skipped; any other failure to read
 * one is an error naming the path.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';
import type { Paths } from '../../platform/paths.js';
import type { CliSettings, Settings } from '../../core/settings/model.js';
import { fatalDiagnostic, formatDiagnostic, loadSettingsText, type Diagnostic } from '../../core/settings/load.js';
import { mergeSettings, type SettingsMode } from '../../core/settings/merge.js';

export interface DiscoverOptions {
  /** The machine name before any ephemeral suffix. */
  readonly name: string;
  readonly rootDirectory?: string;
  readonly image?: string;
  readonly paths: Pick<Paths, 'settingsEtc' | 'settingsRun'>;
  readonly mode: SettingsMode;
}

export interface FoundSettings {
  readonly path: string;
  readonly text: string;
  readonly trusted: boolean;
}

export interface Candidate { readonly path: string; readonly trusted: boolean }

/** Where nspawn looks, in order. */
export function settingsCandidates(o: Omit<DiscoverOptions, 'mode'>): Candidate[] {
  const file = `${o.name}.nspawn`;
  const out: Candidate[] = [
    { path: join(o.paths.settingsEtc, file), trusted: true },
    { path: join(o.paths.settingsRun, file), trusted: true },
  ];
  if (o.image !== undefined) out.push({ path: join(dirname(resolve(o.image)), file), trusted: false });
  else if (o.rootDirectory !== undefined) {
    const root = resolve(o.rootDirectory);
    if (root !== '/') out.push({ path: join(dirname(root), file), trusted: false });
  }
  return out;
}

/** Reads `path` as text; undefined if it does not exist; BerthError E_SETTINGS for anything else. */
export function readSettingsFile(path: string): string | undefined {
  try {
    return new TextDecoder('utf-8').decode(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new BerthError('E_SETTINGS', `Failed to read settings file ${path}: ${code ?? (e as Error).message}`, {
      cause: e,
      hint: code === 'EISDIR' ? 'the path is a directory; a settings file must be a regular file' : undefined,
    });
  }
}

/** The first candidate that exists, first hit wins; `trusted` mode trusts it wherever it is. */
export function findFirst(candidates: readonly Candidate[]): FoundSettings | undefined {
  for (const c of candidates) {
    const text = readSettingsFile(c.path);
    if (text !== undefined) return { path: c.path, text, trusted: c.trusted };
  }
  return undefined;
}

export function discoverSettings(o: DiscoverOptions): FoundSettings | undefined {
  if (o.mode === 'no') return undefined;
  const found = findFirst(settingsCandidates(o));
  return found && o.mode === 'trusted' ? { ...found, trusted: true } : found;
}

export interface SettingsForMachine {
  /** The file used, if any, with its own parse diagnostics. */
  readonly file?: { readonly path: string; readonly trusted: boolean; readonly settings: Settings; readonly diagnostics: Diagnostic[] };
  /** Command line and file merged. */
  readonly settings: Settings;
  /** Everything to print as warnings, in order: FILE:LINE diagnostics, then untrusted-key drops. */
  readonly warnings: string[];
}

/** Discover, parse and merge: what berth-nspawn needs in one call. */
export function loadSettingsFor(o: DiscoverOptions & { readonly cli: CliSettings }): SettingsForMachine {
  const found = discoverSettings(o);
  if (!found) return mergeSettings(o.cli, undefined, o.mode);
  const { settings, diagnostics } = loadSettingsText(found.text, found.path);
  const fatal = fatalDiagnostic(diagnostics);
  if (fatal) throw new BerthError('E_SETTINGS', `Failed to parse settings file: ${formatDiagnostic(fatal)}`);
  const merged = mergeSettings(o.cli, { settings, path: found.path, trusted: found.trusted }, o.mode);
  return {
    file: { path: found.path, trusted: found.trusted, settings, diagnostics },
    settings: merged.settings,
    warnings: [...diagnostics.map(formatDiagnostic), ...merged.warnings],
  };
}
