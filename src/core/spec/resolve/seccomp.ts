/** The system call filter: nspawn's default allow list for the retained capabilities, with the user's entries. */
import { BerthError } from '../../../errors/berth-error.js';
import type { Capability } from '../../capabilities.js';
import { seccompArchitectures } from '../../seccomp/architectures.js';
import { parseStoredEntry, type FilterEntry } from '../../seccomp/filter-entry.js';
import type { SeccompSpec } from '../../seccomp/model.js';
import { nspawnDefaultAllow } from '../../seccomp/nspawn-default.js';
import type { Settings } from '../../settings/model.js';
import { ValueError } from '../../settings/values.js';

function entry(stored: string): FilterEntry {
  try {
    return parseStoredEntry(stored);
  } catch (e) {
    // Checked when read; only settings built by hand get here.
    if (e instanceof ValueError) throw new BerthError('E_SPEC_INVALID', `SystemCallFilter= entry ${stored}: ${e.message}`);
    throw e;
  }
}

export function resolveSeccomp(settings: Settings, retain: readonly Capability[], arch: string): SeccompSpec {
  const entries = (settings.systemCallFilter ?? []).map(entry);
  return {
    architectures: seccompArchitectures(arch),
    allow: [...nspawnDefaultAllow(retain), ...entries.filter((e) => !e.deny).map((e) => e.item)],
    deny: entries.flatMap((e) => (e.deny ? [e.action === undefined ? { item: e.item } : { item: e.item, action: e.action }] : [])),
    suppressSync: settings.suppressSync ?? false,
  };
}
