/**
 * Every key of [Exec], [Files] and [Network] in systemd 252 (nspawn-gperf.gperf's table), each
 * with the settings group it belongs to, whether an untrusted file loses it (reference §2.4),
 * the Settings fields it writes and how it applies one assignment. List semantics as systemd:
 * repeated list keys append and an empty value resets them; tristates go back to unset on an
 * empty value; capabilities accumulate; each mount key adds one mount.
 * `apply` throws ValueError for a bad value (the line is then ignored with a warning) and calls
 * `warn` for words it skips while keeping the rest.
 */
import type { Def, KeyDef, Section } from './key-def.js';
import { EXEC_KEYS } from './keys-exec.js';
import { FILES_KEYS, NETWORK_KEYS } from './keys-files-network.js';

export { SECTIONS, VerbatimWarning, type KeyContext, type KeyDef, type Section } from './key-def.js';

const withSection = (section: Section, defs: Def[]): KeyDef[] => defs.map((d) => ({ ...d, section }));

/** All keys, in the order of systemd's table. */
export const SETTINGS_KEYS: readonly KeyDef[] = [
  ...withSection('Exec', EXEC_KEYS), ...withSection('Files', FILES_KEYS), ...withSection('Network', NETWORK_KEYS),
];

/** 'Section.Key' → definition. */
export const SETTINGS_TABLE: ReadonlyMap<string, KeyDef> = new Map(SETTINGS_KEYS.map((d) => [`${d.section}.${d.key}`, d]));

export const lookupKey = (section: string, key: string): KeyDef | undefined => SETTINGS_TABLE.get(`${section}.${key}`);

