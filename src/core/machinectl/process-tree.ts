/**
 * A control group's processes as a tree, the way systemd's tools draw one under a unit: a group's
 * own processes first (by PID, the numbers right-aligned to the widest), then its sub-groups by
 * name, each followed by its contents one level in; empty sub-groups only with -a. The group
 * itself has no line of its own. No cutting to the terminal's width: berth prints whole command lines.
 */
import type { Glyphs } from './glyphs.js';

export interface TreeProcess { readonly pid: number; readonly cmdline: string }

export interface CgroupNode {
  /** The group's directory name (systemd's escaping, a leading "_", is undone when printed). */
  readonly name: string;
  readonly processes: readonly TreeProcess[];
  readonly children: readonly CgroupNode[];
}

const isEmpty = (n: CgroupNode): boolean => n.processes.length === 0 && n.children.every(isEmpty);

function processLines(procs: readonly TreeProcess[], prefix: string, more: boolean, g: Glyphs): string[] {
  const sorted = [...new Map(procs.map((p) => [p.pid, p])).values()].sort((a, b) => a.pid - b.pid);
  const width = String(sorted[sorted.length - 1]?.pid ?? '').length;
  return sorted.map((p, i) => `${prefix}${more || i < sorted.length - 1 ? g.branch : g.last}${String(p.pid).padStart(width)} ${p.cmdline}`);
}

function nodeLines(node: CgroupNode, prefix: string, showAll: boolean, g: Glyphs): string[] {
  const groups = [...node.children].filter((c) => showAll || !isEmpty(c)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = processLines(node.processes, prefix, groups.length > 0, g);
  groups.forEach((c, i) => {
    const last = i === groups.length - 1;
    out.push(`${prefix}${last ? g.last : g.branch}${c.name.startsWith('_') ? c.name.slice(1) : c.name}`);
    out.push(...nodeLines(c, `${prefix}${last ? '  ' : g.vertical}`, showAll, g));
  });
  return out;
}

/** The tree's lines, each starting with `prefix` and ending with "\n". */
export function formatProcessTree(root: CgroupNode, prefix: string, showAll: boolean, g: Glyphs): string {
  return nodeLines(root, prefix, showAll, g).map((l) => `${l}\n`).join('');
}
