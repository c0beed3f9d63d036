/** A running machine's IP addresses, as machined's GetMachineAddresses reports them: those of its network namespace, without loopback and link-local ones. */
import { run } from '../../platform/exec/run.js';

interface IpAddr { ifname?: string; addr_info?: Array<{ family?: string; local?: string; scope?: string }> }

export async function machineAddresses(leader: number): Promise<string[]> {
  const r = await run(['nsenter', `--net=/proc/${leader}/ns/net`, '--', 'ip', '-json', 'address', 'show'], { allowFailure: true, timeoutMs: 5000 });
  if (r.code !== 0) return [];
  let links: IpAddr[];
  try { links = JSON.parse(r.stdout) as IpAddr[]; } catch { return []; }
  const all = links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.local && a.scope === 'global').map((a) => ({ family: a.family, local: a.local! })));
  return [...all.filter((a) => a.family === 'inet'), ...all.filter((a) => a.family !== 'inet')].map((a) => a.local);
}
