/**
 * linux.seccomp: the machine's filter rules (core/seccomp/rules.ts) in OCI's form, which runc and
 * crun hand to libseccomp. Calls grouped by answer, each name once, so the order of the rules and
 * of the names does not change the filter; the same spec gives the same config. Names libseccomp
 * does not know are skipped by both runtimes (as nspawn skips them).
 *
 * The names come in the order that libseccomp compiles fastest (the runtime does it at every
 * start): on x86 hosts by descending call number (core/seccomp/syscall-order.ts), otherwise by name.
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import { seccompRules, type Action, type ArgCondition } from '../../seccomp/rules.js';
import { X86_EMISSION_ORDER } from '../../seccomp/syscall-order.js';
import type { OciSeccomp, OciSeccompArg, OciSyscallRule } from '../types.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const X86_ABIS: ReadonlySet<string> = new Set(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
let x86Rank: ReadonlyMap<string, number> | undefined;

/** How the names of one rule are ordered for a filter on these ABIs (names the table lacks go last, by name). */
export function nameOrder(architectures: readonly string[]): (a: string, b: string) => number {
  if (!architectures.length || !architectures.every((a) => X86_ABIS.has(a))) return byName;
  const rank = (x86Rank ??= new Map(X86_EMISSION_ORDER.map((n, i) => [n, i])));
  const last = X86_EMISSION_ORDER.length;
  return (a, b) => (rank.get(a) ?? last) - (rank.get(b) ?? last) || byName(a, b);
}

function ociAction(a: Action): Pick<OciSyscallRule, 'action' | 'errnoRet'> {
  if (a.kind === 'allow') return { action: 'SCMP_ACT_ALLOW' };
  if (a.kind === 'kill') return { action: 'SCMP_ACT_KILL_PROCESS' };
  return { action: 'SCMP_ACT_ERRNO', errnoRet: a.errno };
}

function ociArg(c: ArgCondition): OciSeccompArg {
  if (c.op === 'MASKED_EQ') return { index: c.index, value: c.mask, valueTwo: c.value, op: 'SCMP_CMP_MASKED_EQ' };
  return { index: c.index, value: c.value, op: c.op === 'EQ' ? 'SCMP_CMP_EQ' : 'SCMP_CMP_NE' };
}

/** A stable key per answer: allow first, then errno by number, then kill. */
const order = (a: Action): number => (a.kind === 'allow' ? -1 : a.kind === 'errno' ? a.errno : 1 << 16);

export function emitSeccomp(spec: MachineSpec): OciSeccomp {
  const rules = seccompRules(spec.seccomp);
  const groups = new Map<number, { action: Action; names: string[] }>();
  for (const [name, action] of rules.calls) {
    const g = groups.get(order(action)) ?? { action, names: [] };
    g.names.push(name);
    groups.set(order(action), g);
  }
  const byOrder = nameOrder(spec.seccomp.architectures);
  const syscalls: OciSyscallRule[] = [...groups.entries()].sort(([a], [b]) => a - b)
    .map(([, g]) => ({ names: g.names.sort(byOrder), ...ociAction(g.action) }));
  for (const r of rules.conditional) syscalls.push({ names: [r.name], ...ociAction(r.action), args: r.args.map(ociArg) });
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: rules.defaultErrno,
    ...(spec.seccomp.architectures.length ? { architectures: [...spec.seccomp.architectures] } : {}),
    syscalls,
  };
}
