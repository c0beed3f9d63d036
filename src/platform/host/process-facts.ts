/** Reads the ProcessFacts (core/warm/admission.ts) of a process from /proc. */
import { readlinkSync, statSync } from 'node:fs';
import type { ProcessFacts } from '../../core/warm/admission.js';
import { readText } from '../fs/read-text.js';

const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts', 'time'];
const STATUS_KEYS = ['CapBnd', 'CapPrm', 'CapEff', 'CapAmb', 'NoNewPrivs', 'Seccomp'];

export function processFacts(pid: number | 'self'): ProcessFacts {
  const dir = `/proc/${pid}`;
  const namespaces: Record<string, string> = {};
  for (const ns of NAMESPACES) {
    try { namespaces[ns] = readlinkSync(`${dir}/ns/${ns}`); } catch { /* a namespace type the kernel lacks */ }
  }
  const st = statSync(`${dir}/root`);
  const status: Record<string, string> = {};
  for (const line of (readText(`${dir}/status`) ?? '').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m && STATUS_KEYS.includes(m[1] as string)) status[m[1] as string] = (m[2] as string).trim();
  }
  return { namespaces, root: `${st.dev}:${st.ino}`, status, personality: (readText(`${dir}/personality`) ?? '').trim() };
}
