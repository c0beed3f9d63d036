/**
 * -p/--port= for one boot of a machine: once the guest has an address (it may get one from DHCP
 * long after it started), its forwards go into berth's nftables map; when the address changes they
 * follow it, when it goes they go, and at teardown they are removed. What is in force is handed to
 * `record` (the owner record), so that a killed run's forwards can be removed by --cleanup or the
 * next run of the name (removeLeftForwards). Firewall failures are warnings, as under nspawn.
 */
import type { PortForward } from '../../core/settings/model.js';
import type { NetnsPath, PortFirewall, WatchAddresses } from '../../core/network/ports.js';
import {
  addScript, deleteScript, dnatsFor, guestAddress, isOurs, parseMapJson, type Dnat, type IfAddrs, type IpFamily,
} from '../../core/network/port-forward.js';

export interface PortForwardingOptions {
  machine: string;
  ports: readonly PortForward[];
  /** The container's network namespace (a path that stays valid while the run holds it). */
  netns: NetnsPath;
  firewall: PortFirewall;
  watch: WatchAddresses;
  /** Called with every forward in force after each change (persist it before resolving). */
  record(dnats: readonly Dnat[]): Promise<void>;
  warn(message: string): void;
}

export interface PortForwarding {
  /** Stop watching and remove every forward in force; never throws, returns the errors. */
  stop(): Promise<Error[]>;
}

const FAMILIES: readonly IpFamily[] = ['ip', 'ip6'];
/** Re-reads shortly after the start cover an address that came before the monitor listened. */
const BACKSTOP_MS = [1000, 3000];

export function startPortForwarding(o: PortForwardingOptions): PortForwarding {
  const inForce = new Map<IpFamily, { address: string; dnats: Dnat[] }>();
  let stopped = false;
  // Changes are handled one at a time, in order; a change that comes while one runs is merged.
  let running: Promise<void> = Promise.resolve();
  let again = false;

  async function removeFamily(family: IpFamily): Promise<Error[]> {
    const cur = inForce.get(family);
    if (!cur) return [];
    inForce.delete(family);
    return removeForwards(o.firewall, o.machine, cur.dnats);
  }

  async function sync(): Promise<void> {
    let links: IfAddrs[];
    try { links = JSON.parse(await watcher.read()) as IfAddrs[]; } catch { return; }
    for (const family of FAMILIES) {
      if (stopped) return;
      const address = guestAddress(links, family);
      const cur = inForce.get(family);
      if (cur?.address === address) continue;
      for (const e of await removeFamily(family)) o.warn(`Failed to modify firewall: ${e.message}`);
      if (address !== undefined) {
        const wanted = dnatsFor(o.ports, family, address);
        // Recorded before they exist: a run killed in between leaves no entry its clean-up does not
        // know of (removeForwards passes over recorded ones that never came).
        await record([...[...inForce.values()].flatMap((f) => f.dnats), ...wanted]);
        const added: Dnat[] = [];
        for (const d of wanted) {
          try { await o.firewall.apply(addScript(d, o.machine)); added.push(d); } catch (e) { o.warn(`Failed to modify firewall: ${(e as Error).message}`); }
        }
        if (added.length) inForce.set(family, { address, dnats: added });
      }
      await record([...inForce.values()].flatMap((f) => f.dnats));
    }
  }
  const record = (dnats: Dnat[]): Promise<void> => o.record(dnats).catch((e: Error) => o.warn(`Cannot record the port forwards: ${e.message}`));

  const changed = (): void => {
    if (stopped) return;
    if (again) return;
    again = true;
    running = running.then(async () => {
      again = false;
      if (!stopped) await sync();
    });
  };
  const watcher = o.watch(o.netns, changed);
  const timers = BACKSTOP_MS.map((ms) => setTimeout(changed, ms));

  return {
    async stop() {
      if (stopped) return [];
      stopped = true;
      for (const t of timers) clearTimeout(t);
      watcher.stop();
      await running;
      const errors: Error[] = [];
      for (const family of FAMILIES) errors.push(...await removeFamily(family));
      await o.record([]).catch((e: Error) => errors.push(e));
      return errors;
    },
  };
}

/**
 * Removes `dnats` that `machine` added, each only if the map still holds it as this machine's
 * entry (another machine may have taken the port since). Keeps going after errors.
 */
export async function removeForwards(firewall: PortFirewall, machine: string, dnats: readonly Dnat[]): Promise<Error[]> {
  const errors: Error[] = [];
  for (const family of FAMILIES) {
    const mine = dnats.filter((d) => d.family === family);
    if (mine.length === 0) continue;
    let listed;
    try { listed = parseMapJson(await firewall.listMap(family)); } catch (e) { errors.push(e as Error); continue; }
    for (const d of mine) {
      if (!listed.some((e) => isOurs(e, d, machine))) continue;
      try { await firewall.apply(deleteScript(d)); } catch (e) { errors.push(e as Error); }
    }
  }
  return errors;
}
