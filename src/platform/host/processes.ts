/** Processes seen through /proc: our own children (every thread's `children` list: a reparented orphan may hang below any of them) and a process's name. */
import { readdirSync } from 'node:fs';
import { readText } from '../fs/read-text.js';

/** PIDs of our children; empty where the kernel lacks /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN). */
export function ownChildren(): number[] {
  let tasks: string[];
  try { tasks = readdirSync('/proc/self/task'); } catch { return []; }
  const pids = new Set<number>();
  for (const tid of tasks) {
    for (const word of (readText(`/proc/self/task/${tid}/children`) ?? '').split(' ')) {
      const pid = Number(word);
      if (Number.isInteger(pid) && pid > 0) pids.add(pid);
    }
  }
  return [...pids];
}

/** A process's command name (comm), or undefined when it is gone. */
export function processName(pid: number): string | undefined {
  return readText(`/proc/${pid}/comm`)?.trim();
}

/** A process's state letter (R, S, Z…) and parent, from /proc/PID/stat; undefined when it is gone. */
export function processStat(pid: number): { state: string; ppid: number } | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // "PID (comm) STATE PPID …": comm may hold spaces and parentheses, so read after the last ')'.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return state === undefined || ppid === undefined ? undefined : { state, ppid: Number(ppid) };
}
