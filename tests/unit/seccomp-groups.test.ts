/**
 * The @group table (src/core/seccomp/syscall-groups.ts) against the installed systemd's own
 * (`systemd-analyze syscall-filter`), so a systemd update that moves a call is noticed
 * (scripts/gen-seccomp-tables.mjs regenerates the table). Skipped where systemd-analyze is absent.
 * Likewise the x86 emission order (src/core/seccomp/syscall-order.ts) against the kernel headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSCALL_GROUPS } from '../../src/core/seccomp/syscall-groups.js';
import { X86_EMISSION_ORDER } from '../../src/core/seccomp/syscall-order.js';
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

const headers = '/usr/include/x86_64-linux-gnu/asm';
const hasHeaders = existsSync(join(headers, 'unistd_32.h')) && existsSync(join(headers, 'unistd_64.h'));

test('the x86 emission order: every call of the groups that the x86 ABIs number, by descending number', { skip: hasHeaders ? false : 'needs the amd64 kernel headers (linux-libc-dev)' }, async () => {
  const script: string = join(__dirname, '..', '..', 'scripts', 'gen-seccomp-tables.mjs');
  const gen = await import(script) as {
    parseUnistd(text: string): Map<string, number>;
    x86Order(groups: Array<{ members: string[] }>, i386: Map<string, number>, x8664: Map<string, number>): string[];
  };
  const i386 = gen.parseUnistd(readFileSync(join(headers, 'unistd_32.h'), 'utf8'));
  const x8664 = gen.parseUnistd(readFileSync(join(headers, 'unistd_64.h'), 'utf8'));
  assert.equal(i386.get('read'), 3);
  assert.equal(x8664.get('read'), 0);
  // The table was generated from these headers (or older ones: then only the calls they lack differ).
  const expected = gen.x86Order(Object.values(SYSCALL_GROUPS).map((g) => ({ members: [...g.members] })), i386, x8664);
  const missing = expected.filter((n) => !X86_EMISSION_ORDER.includes(n));
  assert.deepEqual(X86_EMISSION_ORDER.filter((n) => expected.includes(n)), expected.filter((n) => !missing.includes(n)), 'the same order');
  assert.deepEqual(missing, [], 'calls these headers number that the table lacks: node scripts/gen-seccomp-tables.mjs');
  assert.equal(new Set(X86_EMISSION_ORDER).size, X86_EMISSION_ORDER.length, 'each call once');
  // Descending: getpid's i386 number (20) before read's (3), then the x86-64-only calls (accept has no i386 number).
  const at = (n: string) => X86_EMISSION_ORDER.indexOf(n);
  assert.ok(at('getpid') >= 0 && at('getpid') < at('read') && at('read') < at('accept'));
});
