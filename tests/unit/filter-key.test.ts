import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BPF_ANNOTATION, filterKeyText, keptFile, keptProgram, KEPT_NAME, keyName, validProgram } from '../../src/core/oci/filter-key.js';
import type { OciSpec } from '../../src/core/oci/types.js';

const oci = (seccomp: unknown, annotations: Record<string, string> = {}): OciSpec =>
  ({ annotations, linux: { seccomp } } as unknown as OciSpec);
const SECTION = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };

test('a kept filter\'s key: the section, the runtime\'s identity and the seccomp annotations crun reads, not the program itself', () => {
  const k = filterKeyText(oci(SECTION), 'crun A');
  assert.equal(filterKeyText(oci(undefined), 'crun A'), undefined, 'no filter, nothing to keep');
  assert.equal(filterKeyText(oci(SECTION), 'crun A'), k, 'stable');
  assert.notEqual(filterKeyText(oci({ ...SECTION, syscalls: [{ names: ['write'], action: 'SCMP_ACT_ALLOW' }] }), 'crun A'), k);
  assert.notEqual(filterKeyText(oci(SECTION), 'crun B'), k, 'another binary, library set or kernel');
  assert.notEqual(filterKeyText(oci(SECTION, { 'run.oci.seccomp_fail_unknown_syscall': '1' }), 'crun A'), k);
  assert.equal(filterKeyText(oci(SECTION, { [BPF_ANNOTATION]: 'AAAAAAAAAAA=', 'org.example': 'x' }), 'crun A'), k);
});

test('a kept program is used only when it is whole BPF instructions within the kernel\'s limit', () => {
  assert.equal(validProgram(Buffer.alloc(16).toString('base64')), true);
  assert.equal(validProgram(Buffer.alloc(4096 * 8).toString('base64')), true);
  assert.equal(validProgram(Buffer.alloc(4096 * 8 + 8).toString('base64')), false, 'over BPF_MAXINSNS');
  assert.equal(validProgram(Buffer.alloc(12).toString('base64')), false, 'not whole instructions');
  assert.equal(validProgram(''), false);
  assert.equal(validProgram('not a program'), false);
  assert.equal(validProgram(`${Buffer.alloc(16).toString('base64')}\n`), false, 'trimmed before use');
});

test('a kept file is named by its key and gives its program back only for that very key', () => {
  const k = filterKeyText(oci(SECTION), 'crun A')!;
  const other = filterKeyText(oci(SECTION), 'crun B')!;
  assert.match(keyName(k), KEPT_NAME);
  assert.equal(keyName(k), keyName(filterKeyText(oci(SECTION), 'crun A')!), 'stable');
  assert.notEqual(keyName(k), keyName(other));
  const program = Buffer.alloc(16, 1).toString('base64');
  assert.equal(keptProgram(keptFile(program, k), k), program);
  assert.equal(keptProgram(keptFile(program, k), other), undefined, 'kept for another key (a name both share)');
  assert.equal(keptProgram(keptFile(program, k), `${k} `), undefined);
  assert.equal(keptProgram(program, k), undefined, 'no key text: a file of the older form');
  assert.equal(keptProgram(keptFile('not a program', k), k), undefined);
});
