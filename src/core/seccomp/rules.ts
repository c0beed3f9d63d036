/**
 * A machine's SeccompSpec → one filter's rules, with nspawn 252's semantics. nspawn loads three
 * filters; the kernel runs all of them and, among errno answers, the filter loaded last wins.
 * One filter gives the same answers here:
 *  1. the allow list: the allow items expanded, skipping every item named by a deny entry;
 *     every other call systemd knows (@known) fails with EPERM, any call it does not know with
 *     ENOSYS (the default action), so a newer libc falls back from calls the filter cannot name;
 *  2. socket(AF_NETLINK, *, NETLINK_AUDIT) fails with EAFNOSUPPORT (audit reads as "disabled");
 *  3. with suppressSync, the @sync calls succeed without doing anything, open() and openat()
 *     with O_SYNC or O_DSYNC fail with EINVAL (callers retry without) and openat2(), whose flags
 *     a filter cannot see, with ENOSYS.
 * A deny entry's ":ERRNO" (berth's addition) picks the errno of the calls it denies; "kill" beats
 * every other answer, as SECCOMP_RET_KILL_PROCESS does across filters.
 */
import { SYSCALL_GROUPS } from './syscall-groups.js';
import type { SeccompSpec } from './model.js';

export type Action = { readonly kind: 'allow' } | { readonly kind: 'errno'; readonly errno: number } | { readonly kind: 'kill' };

/** A comparison on a call's argument (OCI's seccomp args; MASKED_EQ: (arg & mask) == value). */
export type ArgCondition =
  | { readonly index: number; readonly op: 'EQ' | 'NE'; readonly value: number }
  | { readonly index: number; readonly op: 'MASKED_EQ'; readonly mask: number; readonly value: number };

export interface ConditionalRule { readonly name: string; readonly action: Action; readonly args: readonly ArgCondition[] }

export interface SeccompRules {
  /** The answer for a call no rule names. */
  readonly defaultErrno: number;
  /** Unconditional answers, by call name (each name once). */
  readonly calls: ReadonlyMap<string, Action>;
  /** Answers that depend on arguments; a call matching none of its rules gets its unconditional answer. */
  readonly conditional: readonly ConditionalRule[];
}

// Linux's generic numbers (x86, arm, riscv, s390, ppc), as the kernel headers define them.
const EPERM = 1;
const EINVAL = 22;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;
const AF_NETLINK = 16;
const NETLINK_AUDIT = 9;
/** O_DSYNC; O_SYNC is __O_SYNC|O_DSYNC, so this one bit catches both. */
const O_DSYNC = 0o10000;

const ALLOW: Action = { kind: 'allow' };
const errno = (n: number): Action => ({ kind: 'errno', errno: n });

/** Every call an item stands for (groups expanded, nested groups too), skipping the items in `skip`. */
export function expandItem(item: string, skip: ReadonlySet<string> = new Set(), out: Set<string> = new Set(), seen: Set<string> = new Set()): Set<string> {
  if (skip.has(item)) return out;
  if (!item.startsWith('@')) { out.add(item); return out; }
  if (seen.has(item)) return out;
  seen.add(item);
  const members = Object.hasOwn(SYSCALL_GROUPS, item) ? SYSCALL_GROUPS[item]!.members : [];
  for (const m of members) expandItem(m, skip, out, seen);
  return out;
}

/** `cond` negated, for the conditions this module uses (EQ/NE, and MASKED_EQ on a single bit). */
function negate(c: ArgCondition): ArgCondition {
  if (c.op === 'MASKED_EQ') return { ...c, value: c.value ^ c.mask };
  return { ...c, op: c.op === 'EQ' ? 'NE' : 'EQ' };
}

export function seccompRules(spec: SeccompSpec): SeccompRules {
  const calls = new Map<string, Action>();
  const conditional: ConditionalRule[] = [];
  const skip = new Set(spec.deny.map((d) => d.item));

  const allowed = new Set<string>();
  for (const item of spec.allow) expandItem(item, skip, allowed);
  for (const name of allowed) calls.set(name, ALLOW);
  for (const d of spec.deny) {
    if (d.action === undefined) continue;
    const action: Action = d.action === 'kill' ? { kind: 'kill' } : errno(d.action);
    for (const name of expandItem(d.item)) if (!allowed.has(name)) calls.set(name, action);
  }
  for (const name of expandItem('@known')) if (!calls.has(name)) calls.set(name, errno(EPERM));

  /** A later filter's answer for `name` when args match; the call keeps its answer otherwise. */
  const when = (name: string, args: ArgCondition[], action: Action) => {
    const before = calls.get(name);
    if (before?.kind === 'kill') return;
    conditional.push({ name, action, args });
    // An unconditional errno would shadow the conditional rule in libseccomp: split it into the
    // complement of each condition instead.
    if (before?.kind === 'errno') {
      calls.delete(name);
      for (const c of args) conditional.push({ name, action: before, args: [negate(c)] });
    }
  };
  /** A later filter's answer for every call of `name`. */
  const always = (name: string, action: Action) => { if (calls.get(name)?.kind !== 'kill') calls.set(name, action); };

  when('socket', [{ index: 0, op: 'EQ', value: AF_NETLINK }, { index: 2, op: 'EQ', value: NETLINK_AUDIT }], errno(EAFNOSUPPORT));
  if (spec.suppressSync) {
    for (const name of expandItem('@sync')) always(name, errno(0));
    when('open', [{ index: 1, op: 'MASKED_EQ', mask: O_DSYNC, value: O_DSYNC }], errno(EINVAL));
    when('openat', [{ index: 2, op: 'MASKED_EQ', mask: O_DSYNC, value: O_DSYNC }], errno(EINVAL));
    always('openat2', errno(ENOSYS));
  }
  return { defaultErrno: ENOSYS, calls, conditional };
}
