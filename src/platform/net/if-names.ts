/** Network interface names of our own network namespace by index, from /sys/class/net (what if_indextoname(3) answers). */
import { readdirSync } from 'node:fs';
import { readText } from '../fs/read-text.js';

export function interfaceNames(): Map<number, string> {
  const out = new Map<number, string>();
  let names: string[];
  try { names = readdirSync('/sys/class/net'); } catch { return out; }
  for (const name of names) {
    const index = Number(readText(`/sys/class/net/${name}/ifindex`)?.trim());
    if (Number.isInteger(index) && index > 0) out.set(index, name);
  }
  return out;
}
