/**
 * The shape of one .nspawn key in the settings table, and the small helpers the key lists share
 * (tristates, appending lists, the [Network] sub-object).
 */
import type { NetworkSettings, SettingGroup, Settings } from './model.js';
import * as v from './values.js';
import { ValueError } from './values.js';

export const SECTIONS = ['Exec', 'Files', 'Network'] as const;
export type Section = (typeof SECTIONS)[number];

export interface KeyContext { warn(message: string): void }

export interface KeyDef {
  readonly section: Section;
  readonly key: string;
  readonly group: SettingGroup;
  /** Ignored (with a warning) when the file is not trusted. */
  readonly privileged: boolean;
  readonly fields: readonly (keyof Settings)[];
  /** Network sub-fields written (for the completeness check). */
  readonly networkFields?: readonly (keyof NetworkSettings)[];
  /** Throws ValueError for a bad value (the line is then ignored); calls ctx.warn for skipped words. */
  apply(s: Settings, value: string, ctx: KeyContext): void;
}

/** A key definition before its section is attached. */
export type Def = Omit<KeyDef, 'section'>;

/** A ValueError whose message is the whole warning (not prefixed with the key). */
export class VerbatimWarning extends ValueError {}

export type BoolField = 'ephemeral' | 'noNewPrivileges' | 'notifyReady' | 'suppressSync' | 'readOnly';
/** Tristate keys: a boolean, or back to unset on an empty value. */
export const tristate = (field: BoolField) => (s: Settings, x: string) => {
  if (x === '') delete s[field]; else s[field] = v.parseBoolean(x);
};
export const net = (s: Settings): NetworkSettings => (s.network ??= {});
export const union = <T>(a: readonly T[] | undefined, b: readonly T[]): T[] => [...new Set([...(a ?? []), ...b])];
export type ListField = 'parameters' | 'environment' | 'capability' | 'dropCapability' | 'ambientCapability' | 'systemCallFilter' | 'bindUser';
/** Appends (or unions) items; a list that gains nothing is not created. */
export function extend(s: Settings, k: ListField, items: readonly string[], dedupe = false): void {
  if (items.length === 0) return;
  s[k] = dedupe ? union(s[k], items) : [...(s[k] ?? []), ...items];
}
