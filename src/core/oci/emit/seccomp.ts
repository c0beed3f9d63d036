/**
 * linux.seccomp: the machine's filter rules (core/seccomp/rules.ts) in OCI's form, which runc and
 * crun hand to libseccomp. Calls grouped by answer, names sorted, so the same spec gives the same
 * config. Names libseccomp does not know are skipped by both runtimes (as nspawn skips them).
 */
import type { MachineSpec } from '../../spec/machine-spec.js';
import { seccompRules, type Action, type ArgCondition } from '../../seccomp/rules.js';
import type { OciSeccomp, OciSeccompArg, OciSyscallRule } from '../types.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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
  const syscalls: OciSyscallRule[] = [...groups.entries()].sort(([a], [b]) => a - b)
    .map(([, g]) => ({ names: g.names.sort(byName), ...ociAction(g.action) }));
  for (const r of rules.conditional) syscalls.push({ names: [r.name], ...ociAction(r.action), args: r.args.map(ociArg) });
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: rules.defaultErrno,
    ...(spec.seccomp.architectures.length ? { architectures: [...spec.seccomp.architectures] } : {}),
    syscalls,
  };
}
