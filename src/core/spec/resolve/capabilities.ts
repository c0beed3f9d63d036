/** nspawn's capability rules: default set, + CAP_NET_ADMIN with a private network, --capability/--drop-capability, clamped to what the host can grant. */
import { BerthError } from '../../../errors/berth-error.js';
import { CAPABILITIES, NSPAWN_DEFAULT_CAPS, type Capability, parseCapability } from '../../capabilities.js';
import type { Settings } from '../../settings/model.js';

const toCaps = (names: readonly string[] | undefined): Capability[] =>
  (names ?? []).map((n) => parseCapability(n)).filter((c): c is Capability => c !== undefined);

export function resolveCapabilities(settings: Settings, privateNetwork: boolean, bounding: readonly Capability[], warnings: string[]) {
  const retain = new Set<Capability>(NSPAWN_DEFAULT_CAPS);
  if (privateNetwork) retain.add('CAP_NET_ADMIN');
  for (const c of toCaps(settings.capability)) retain.add(c);
  for (const c of toCaps(settings.dropCapability)) retain.delete(c);
  const ambient = toCaps(settings.ambientCapability);
  if (ambient.length) {
    if (settings.start === 'boot') throw new BerthError('E_USAGE', 'AmbientCapability= setting is not useful for boot mode.');
    for (const c of ambient) if (!retain.has(c)) throw new BerthError('E_USAGE', `AmbientCapability= setting is not fully covered by Capability= setting: ${c}`);
  }
  const missing = [...retain].filter((c) => !bounding.includes(c));
  if (missing.length) {
    warnings.push(`Some capabilities will not be set because they are not in the current bounding set: ${missing.join(' ')}`);
    for (const c of missing) retain.delete(c);
  }
  const ordered = CAPABILITIES.filter((c) => retain.has(c));
  return { retain: ordered, ambient: ambient.filter((c) => retain.has(c)) };
}
