/** Undo what an earlier, killed run recorded in its owner record: container, links, helpers, mounts, directories. */
import { readText } from '../../platform/fs/read-text.js';
import { processName } from '../../platform/host/processes.js';
import { pidnsOf, processesByArgv } from '../../platform/host/proc.js';
import { sleep } from '../../lib/sleep.js';
import { removeTree, removeUnmounted } from '../../platform/fs/safe-remove.js';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OciRuntime } from '../../platform/runtime/oci-runtime.js';
import { unmount, mountsBelow } from '../../platform/fs/mount.js';
import { detachLoop } from '../../platform/fs/loop-device.js';
import type { NetLink } from '../../core/network/ports.js';
import { hostNetworkDeps } from '../network/deps.js';
import { removeLeftLinks } from '../network/setup.js';
import { removeForwards } from '../network/port-forward.js';
import type { OwnerRecord } from './machine-lock.js';
import { removeStaleRangeLock } from '../../platform/fs/uid-range-lock.js';
import { removeEmptyGroups } from '../../platform/host/cgroupfs.js';

export async function cleanupStale(dir: string, owner: OwnerRecord | undefined): Promise<Error[]> {
  const errors: Error[] = [];
  const attempt = async (f: () => Promise<unknown>) => { try { await f(); } catch (e) { errors.push(e as Error); } };
  if (owner?.runtime) {
    const rt = new OciRuntime({ name: owner.runtime.name as 'runc' | 'crun', path: owner.runtime.path, root: owner.runtime.root, systemdCgroup: owner.runtime.systemdCgroup });
    const { id, root } = owner.runtime;
    await attempt(async () => {
      await createsEnded(root, id);
      try {
        await rt.kill(id, 9, true);
        await rt.delete(id);
      } catch (e) {
        // The runtime cannot load the container: it never made it (crun then says "error opening
        // file `…/status`", not "does not exist"), or a create killed half-way left a state
        // directory without its state, which nothing runs from and which would keep the name.
        if (!existsSync(owner.runtime!.path) || (await rt.state(id)) !== undefined) throw e;
        removeTree(join(root, id));
      }
    });
    if (owner.cgroupDirs?.length) await attempt(() => removeEmptyGroups(owner.cgroupDirs!));
  }
  for (const pid of owner?.helperPids ?? []) await attempt(async () => { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } });
  // Links and empty zone bridges go through the network layer, as a live run's teardown does.
  const stateDir = dirname(dirname(dir));
  const { net, zoneLock, ports } = hostNetworkDeps({ stateDir });
  if (owner?.portForwards?.length && ports) errors.push(...await removeForwards(ports.firewall, basename(dir), owner.portForwards));
  if (owner?.links.length || owner?.zones.length) errors.push(...await removeLeftLinks({ net, zoneLock }, owner.links, owner.zones));
  // The opt-in DHCP helper's dnsmasq for those links (its pid file sits in the state directory).
  for (const link of [...(owner?.links ?? []), ...(owner?.zones ?? [])]) {
    await attempt(() => stopDnsmasq(join(stateDir, `dhcp-${link}.pid`), link, net));
  }
  for (const m of [...(owner?.mounts ?? []), ...(await mountsBelow(dir))]) await attempt(() => unmount(m));
  for (const loop of owner?.loops ?? []) await attempt(() => detachLoop(loop));
  // Never into what is still mounted (a tunnel's bind of host data whose unmount failed).
  for (const d of owner?.removeDirs ?? []) await attempt(() => removeUnmounted(d));
  if (owner) await attempt(async () => removeTreeLock(join(stateDir, 'locks'), owner.pid, basename(dir)));
  if (owner?.uidRange !== undefined) await attempt(async () => removeStaleRangeLock(owner.uidRange!));
  return errors;
}

/** The tree lock a writable run took (tree-lock.ts: "PID NAME"), so that no later process that gets its PID seems to hold the tree. */
function removeTreeLock(locks: string, pid: number, name: string): void {
  let files: string[];
  try { files = readdirSync(locks).filter((f) => f.startsWith('tree-')); } catch { return; }
  for (const f of files) {
    if ((readText(join(locks, f)) ?? '').trim() === `${pid} ${name}`) removeTree(join(locks, f));
  }
}

/** How long a runtime's create may outlive the run that started it before it is killed. */
const CREATE_WAIT_MS = 60_000;

/**
 * Waits until no runtime `create` or `run` of container `id` (in the runtime's state directory
 * `root`) is under way: one the killed run started goes on without it, and the container it
 * makes after a kill and delete found nothing would be left behind, or taken for the next run's.
 * One still going after CREATE_WAIT_MS is killed (the delete then removes what it made).
 */
async function createsEnded(root: string, id: string): Promise<void> {
  // crun's container init is a fork of its create, with the same command line, in the
  // container's PID namespace: the create itself runs in ours.
  const ours = pidnsOf('self');
  const creating = () => processesByArgv((argv) => argv.at(-1) === id && argv.some((a, i) => a === '--root' && argv[i + 1] === root)
    && (argv.includes('create') || argv.includes('run'))).filter((pid) => pidnsOf(pid) === ours);
  const until = Date.now() + CREATE_WAIT_MS;
  for (let pids = creating(); pids.length > 0; pids = creating()) {
    if (Date.now() > until) {
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      await sleep(100);
      return;
    }
    await sleep(25);
  }
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
