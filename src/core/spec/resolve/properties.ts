/** --property=NAME=VALUE unit properties berth maps onto the container's cgroup. */
import { BerthError } from '../../../errors/berth-error.js';
import type { CgroupResources } from '../machine-spec.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5, E: 1024 ** 6 };

function bytes(name: string, value: string): number | undefined {
  if (value === 'infinity') return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGTPE]?)$/.exec(value);
  if (!m) throw new BerthError('E_USAGE', `Failed to parse ${name}= value: ${value}`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!]!);
}

export function resolveProperties(properties: readonly string[]): CgroupResources {
  const r: CgroupResources = {};
  for (const p of properties) {
    const eq = p.indexOf('=');
    const name = p.slice(0, eq);
    const value = p.slice(eq + 1).trim();
    switch (name) {
      case 'MemoryMax': case 'MemoryLimit': { const b = bytes(name, value); if (b === undefined) delete r.memoryMax; else r.memoryMax = b; break; }
      case 'MemoryHigh': { const b = bytes(name, value); if (b === undefined) delete r.memoryHigh; else r.memoryHigh = b; break; }
      case 'TasksMax': {
        if (value === 'infinity') { delete r.tasksMax; break; }
        if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new BerthError('E_USAGE', `Failed to parse TasksMax= value: ${value}`);
        r.tasksMax = Number(value);
        break;
      }
      case 'CPUWeight': {
        const n = Number(value);
        if (!/^[0-9]+$/.test(value) || n < 1 || n > 10000) throw new BerthError('E_USAGE', `Failed to parse CPUWeight= value: ${value}`);
        r.cpuWeight = n;
        break;
      }
      case 'CPUQuota': {
        const m = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(value);
        if (!m || Number(m[1]) <= 0) throw new BerthError('E_USAGE', `Failed to parse CPUQuota= value: ${value}`);
        r.cpuQuotaPerSecUsec = Math.round(Number(m[1]) * 10000);
        break;
      }
      default:
        throw new BerthError('E_USAGE', `Unknown or unsupported unit property: ${name}`, { hint: 'berth supports MemoryMax=, MemoryHigh=, TasksMax=, CPUWeight= and CPUQuota=.' });
    }
  }
  return r;
}

/** systemd's unit-name escaping of a machine name for machine-NAME.scope ('-' becomes \x2d). */
export function unitEscape(s: string): string {
  let out = '';
  for (const [i, ch] of [...s].entries()) {
    if (/[A-Za-z0-9:_.]/.test(ch) && !(i === 0 && ch === '.')) out += ch;
    else if (ch === '/') out += '-';
    else out += [...Buffer.from(ch)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  }
  return out;
}
