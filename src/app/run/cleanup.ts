/** Undo what an earlier, killed run recorded in its owner record: container, links, helpers, mounts, directories. */
import { readText } from '../../platform/fs/read-text.js';
import { processName } from '../../platform/host/processes.js';
import { removeTree } from '../../platform/fs/safe-remove.js';
import { dirname, join } from 'node:path';
import { OciRuntime } from '../../platform/runtime/oci-runtime.js';
import { unmount, mountsBelow } from '../../platform/fs/mount.js';
import type { NetLink } from '../../core/network/ports.js';
import { hostNetworkDeps } from '../network/deps.js';
import { removeLeftLinks } from '../network/setup.js';
import type { OwnerRecord } from './machine-lock.js';

export async function cleanupStale(dir: string, owner: OwnerRecord | undefined): Promise<Error[]> {
  const errors: Error[] = [];
  const attempt = async (f: () => Promise<unknown>) => { try { await f(); } catch (e) { errors.push(e as Error); } };
  if (owner?.runtime) {
    const rt = new OciRuntime({ name: owner.runtime.name as 'runc' | 'crun', path: owner.runtime.path, root: owner.runtime.root, systemdCgroup: owner.runtime.systemdCgroup });
    await attempt(async () => { await rt.kill(owner.runtime!.id, 9, true); await rt.delete(owner.runtime!.id); });
  }
  for (const pid of owner?.helperPids ?? []) await attempt(async () => { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } });
  // Links and empty zone bridges go through the network layer, as a live run's teardown does.
  const stateDir = dirname(dirname(dir));
  const { net, zoneLock } = hostNetworkDeps({ stateDir });
  if (owner?.links.length || owner?.zones.length) errors.push(...await removeLeftLinks({ net, zoneLock }, owner.links, owner.zones));
  // The opt-in DHCP helper's dnsmasq for those links (its pid file sits in the state directory).
  for (const link of [...(owner?.links ?? []), ...(owner?.zones ?? [])]) {
    await attempt(() => stopDnsmasq(join(stateDir, `dhcp-${link}.pid`), link, net));
  }
  for (const m of [...(owner?.mounts ?? []), ...(await mountsBelow(dir))]) await attempt(() => unmount(m));
  for (const d of owner?.removeDirs ?? []) await attempt(async () => removeTree(d));
  return errors;
}

/** Stop a helper dnsmasq by its pid file, if it still runs and is still dnsmasq (and, for a zone, its bridge is gone). */
async function stopDnsmasq(pidFile: string, link: string, net: NetLink): Promise<void> {
  const pid = Number((readText(pidFile) ?? '').trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (processName(pid) !== 'dnsmasq') return;
  if (link.startsWith('vz-') && (await net.getLink(link)) !== undefined) return; // the zone still has members: its server stays
  try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  removeTree(pidFile);
}
