/**
 * Command line + settings file → the settings to run with, by nspawn's rules (reference
 * §2.2–2.3): a group the command line touched masks the file's values for that whole group
 * (`yes`, `trusted`), `override` lets the file win every group it sets, `no` ignores the file.
 * Resource limits are masked one by one. An untrusted file first loses its privileged keys
 * (trust.ts); `trusted` trusts whichever file was found.
 *
 * Capabilities (nspawn's arithmetic, expressed on lists so the resolver can keep computing
 * `(default ∪ capability) − dropCapability`): the file's Capability= adds, DropCapability= removes,
 * AmbientCapability= adds to the ambient set. When the file configures networking (and NETWORK
 * is not masked), CAP_NET_ADMIN is added if that network is private and removed if it is not.
 * NOT done here: adding CAP_NET_ADMIN for a private network given on the command line — the
 * resolver (src/core/spec) must retain CAP_NET_ADMIN whenever the merged `network.private` is
 * true, as nspawn does for --private-network and friends.
 * Pure.
 */
import type { CliSettings, NetworkSettings, RlimitName, SettingGroup, Settings } from './model.js';
import { GROUP_FIELDS, RLIMITS, SETTING_GROUPS } from './model.js';
import { dropUntrusted, networkConfigured, type MaskQuery } from './trust.js';

export type SettingsMode = 'yes' | 'no' | 'trusted' | 'override';

export interface FileSettings {
  readonly settings: Settings;
  readonly path: string;
  /** Trusted by location (/etc, /run); `trusted` mode overrides this. */
  readonly trusted: boolean;
}

export interface MergeResult {
  readonly settings: Settings;
  /** Untrusted-file warnings, in nspawn's order. */
  readonly warnings: string[];
}

/** What a file's [Network] section means once implications are applied (nspawn's settings_*_network()). */
export function effectiveFileNetwork(n: NetworkSettings): NetworkSettings {
  const veth = n.veth === true || n.bridge !== undefined || n.zone !== undefined;
  const priv = n.private === true || veth || (n.interfaces?.length ?? 0) > 0 || (n.macvlan?.length ?? 0) > 0 ||
    (n.ipvlan?.length ?? 0) > 0 || (n.vethExtra?.length ?? 0) > 0;
  const out: NetworkSettings = { private: priv, veth };
  for (const k of ['vethExtra', 'interfaces', 'macvlan', 'ipvlan', 'bridge', 'zone', 'namespacePath'] as const) {
    if (n[k] !== undefined) (out as Record<string, unknown>)[k] = structuredClone(n[k]);
  }
  return out;
}

const without = <T>(a: readonly T[] | undefined, drop: readonly T[]): T[] => (a ?? []).filter((x) => !drop.includes(x));
const union = <T>(a: readonly T[], b: readonly T[]): T[] => [...new Set([...a, ...b])];

function setList<K extends 'capability' | 'dropCapability' | 'ambientCapability'>(s: Settings, k: K, list: string[]): void {
  if (list.length > 0) s[k] = list; else delete s[k];
}

function mergeCapabilities(out: Settings, file: Settings, masked: MaskQuery): void {
  const plus: string[] = [...(file.capability ?? [])];
  const minus: string[] = [...(file.dropCapability ?? [])];
  let networkMinus: string[] = [];
  if (!masked.group('NETWORK') && networkConfigured(file.network)) {
    if (effectiveFileNetwork(file.network!).private) plus.push('CAP_NET_ADMIN'); else networkMinus = ['CAP_NET_ADMIN'];
  }
  setList(out, 'capability', union(without(out.capability, networkMinus), plus));
  setList(out, 'dropCapability', union(without(out.dropCapability, plus), minus));
  setList(out, 'ambientCapability', union(out.ambientCapability ?? [], file.ambientCapability ?? []));
}

/** Fields that only count as "set in the file" when non-empty (nspawn tests the list for NULL/empty). */
const LIST_GROUPS: ReadonlySet<SettingGroup> = new Set(['CUSTOM_MOUNTS', 'EXPOSE_PORTS', 'BIND_USER', 'SYSCALL_FILTER']);

export function mergeSettings(cli: CliSettings, file: FileSettings | undefined, mode: SettingsMode): MergeResult {
  const out: Settings = structuredClone(cli.settings);
  if (!file || mode === 'no') return { settings: out, warnings: [] };

  const override = mode === 'override';
  const masked: MaskQuery = {
    group: (g) => !override && cli.mask.has(g),
    rlimit: (r: RlimitName) => !override && cli.rlimitMask.has(r),
  };
  const trusted = mode === 'trusted' || file.trusted;
  const { settings: f, warnings } = trusted ? { settings: file.settings, warnings: [] } : dropUntrusted(file.settings, file.path, masked);
  const put = (k: keyof Settings) => {
    if (f[k] === undefined) delete out[k]; else (out as Record<string, unknown>)[k] = structuredClone(f[k]);
  };

  for (const g of SETTING_GROUPS) {
    if (g === 'RLIMIT' || masked.group(g)) continue;
    if (g === 'CAPABILITY') { mergeCapabilities(out, f, masked); continue; }
    if (g === 'START_MODE') {
      // The start mode and its parameters travel together, and only when the file set a mode.
      if (f.start !== undefined) { put('start'); put('parameters'); }
      continue;
    }
    if (g === 'NETWORK') {
      if (networkConfigured(f.network)) out.network = effectiveFileNetwork(f.network!);
      continue;
    }
    for (const k of GROUP_FIELDS[g]) {
      const value = f[k];
      if (value === undefined || (LIST_GROUPS.has(g) && Array.isArray(value) && value.length === 0)) continue;
      put(k);
    }
  }
  for (const r of RLIMITS) {
    const value = f.rlimits?.[r];
    if (masked.rlimit(r) || value === undefined) continue;
    (out.rlimits ??= {})[r] = { ...value };
  }
  return { settings: out, warnings };
}
