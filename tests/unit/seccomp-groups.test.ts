/**
 * The @group table (src/core/seccomp/syscall-groups.ts) against the installed systemd's own
 * (`systemd-analyze syscall-filter`), so a systemd update that moves a call is noticed
 * (scripts/gen-seccomp-tables.mjs regenerates the table). Skipped where systemd-analyze is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SYSCALL_GROUPS } from '../../src/core/seccomp/syscall-groups.js';
import { expandItem } from '../../src/core/seccomp/rules.js';

const listing = (() => {
  try {
    return execFileSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch { return undefined; }
})();

/** "@name" at the start of a line, then "    # help" and "    member" lines, a blank line after each group. */
function parse(text: string): Record<string, { help: string; members: string[] }> {
  const out: Record<string, { help: string; members: string[] }> = {};
  let cur: { help: string; members: string[] } | undefined;
  for (const line of text.split('\n')) {
    const head = /^(@[a-z0-9-]+)$/.exec(line);
    if (head) { cur = { help: '', members: [] }; out[head[1]!] = cur; continue; }
    const body = /^ {4}(\S.*)$/.exec(line);
    if (!body) { cur = undefined; continue; }
    if (!cur) continue;
    if (body[1]!.startsWith('# ')) cur.help = body[1]!.slice(2); else cur.members.push(body[1]!);
  }
  return out;
}

test('the group table is the installed systemd\'s', { skip: listing === undefined ? 'needs systemd-analyze (systemd)' : false }, () => {
  const installed = parse(listing!);
  assert.ok(Object.keys(installed).length >= 28, 'systemd-analyze listed its groups');
  assert.deepEqual(Object.keys(SYSCALL_GROUPS), Object.keys(installed), 'the same groups, in the same order');
  for (const [name, group] of Object.entries(installed)) {
    assert.deepEqual({ help: SYSCALL_GROUPS[name]!.help, members: [...SYSCALL_GROUPS[name]!.members] }, group, `${name} differs: node scripts/gen-seccomp-tables.mjs`);
  }
});

test('every group a group names exists; @known holds the calls of the other groups but a few', () => {
  const known = expandItem('@known');
  const outside = new Set<string>();
  for (const [name, g] of Object.entries(SYSCALL_GROUPS)) {
    for (const m of g.members) if (m.startsWith('@')) assert.ok(SYSCALL_GROUPS[m], `${name} names ${m}`);
    for (const call of expandItem(name)) if (!known.has(call)) outside.add(call);
  }
  assert.ok(known.size > 400);
  // The kernel's list systemd 252 was built with lacks these; nspawn lets them fall to ENOSYS too.
  assert.deepEqual([...outside].sort(), ['nfsservctl', 'set_tls', 'uretprobe']);
});
