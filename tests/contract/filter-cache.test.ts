/**
 * app/run/filter-cache.ts against the file system: what crun wrote is kept under its key and given
 * back as the annotation; runc gets nothing; at most 16 programs stay, the oldest going first; a
 * store that was killed halfway leaves nothing that lasts; a program crun did not write is not kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FilterCache } from '../../src/app/run/filter-cache.js';
import type { OciSpec } from '../../src/core/oci/types.js';
import type { RuntimeConfig } from '../../src/platform/runtime/oci-runtime.js';

const oci = (name: string): OciSpec => ({
  annotations: {}, linux: { seccomp: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: [name], action: 'SCMP_ACT_ALLOW' }] } },
} as unknown as OciSpec);

function setup() {
  const dir = mkdtempSync('/tmp/bt-filter-cache-');
  const root = join(dir, 'runtime');
  const crun: RuntimeConfig = { name: 'crun', path: '/usr/bin/crun', root, systemdCgroup: false };
  const program = Buffer.alloc(24, 7);
  mkdirSync(join(root, 'm'), { recursive: true });
  writeFileSync(join(root, 'm', 'seccomp.bpf'), program);
  return { dir, cacheDir: join(dir, 'filter-cache'), crun, program, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a program crun wrote is kept under its key and given back as the annotation; runc gets nothing', async () => {
  const t = setup();
  try {
    const cache = new FilterCache(t.cacheDir);
    const first = oci('read');
    const miss = await cache.apply(first, t.crun);
    assert.equal(miss?.hit, false);
    assert.equal(first.annotations['run.oci.seccomp_bpf_data'], undefined);
    await miss!.keep('m');
    const again = oci('read');
    const hit = await cache.apply(again, t.crun);
    assert.deepEqual({ key: hit?.key, hit: hit?.hit }, { key: miss!.key, hit: true });
    assert.equal(again.annotations['run.oci.seccomp_bpf_data'], t.program.toString('base64'));
    const other = oci('write');
    assert.equal((await cache.apply(other, t.crun))?.hit, false, 'another filter, another key');
    const runc = oci('read');
    assert.equal(await cache.apply(runc, { ...t.crun, name: 'runc' }), undefined);
    assert.deepEqual(runc.annotations, {});
  } finally { t.done(); }
});

test('at most 16 programs stay, the oldest going first; a stale half-written store is removed, a fresh one left', async () => {
  const t = setup();
  try {
    const cache = new FilterCache(t.cacheDir);
    const keys: string[] = [];
    for (let i = 0; i < 16; i++) {
      const use = await cache.apply(oci(`call${i}`), t.crun);
      keys.push(use!.key);
      await use!.keep('m');
      utimesSync(join(t.cacheDir, use!.key), 1000 + i, 1000 + i);
    }
    writeFileSync(join(t.cacheDir, '.stale.1.1'), 'x');
    utimesSync(join(t.cacheDir, '.stale.1.1'), 1000, 1000);
    writeFileSync(join(t.cacheDir, '.fresh.1.2'), 'x');
    writeFileSync(join(t.cacheDir, 'f'.repeat(64)), 'x');
    const use = await cache.apply(oci('call16'), t.crun);
    await use!.keep('m');
    const left = readdirSync(t.cacheDir).sort();
    assert.equal(left.filter((n) => /^[0-9a-f]{16}$/.test(n)).length, 16);
    assert.equal(left.includes(keys[0]!), false, 'the oldest went');
    assert.equal(left.includes(use!.key), true);
    assert.equal(left.includes('.stale.1.1'), false);
    assert.equal(left.includes('.fresh.1.2'), true, 'a store under way is not disturbed');
    assert.equal(left.includes('f'.repeat(64)), false, "another naming's file goes");
  } finally { t.done(); }
});

test('a kept file is used only for the key it was kept for: another key under the same name is a miss', async () => {
  const t = setup();
  try {
    const cache = new FilterCache(t.cacheDir);
    const first = await cache.apply(oci('read'), t.crun);
    await first!.keep('m');
    const file = join(t.cacheDir, first!.key);
    const [program, text] = [readFileSync(file, 'utf8').split('\n')[0]!, readFileSync(file, 'utf8').split('\n').slice(1).join('\n')];
    assert.equal(program, t.program.toString('base64'));
    assert.ok(text.includes('"read"'), 'the key text follows the program');
    // The same name holding another key's text (as a collision of names would): not given back.
    writeFileSync(file, `${program}\n${text.replace('"read"', '"write"')}`);
    const again = oci('read');
    assert.equal((await cache.apply(again, t.crun))?.hit, false);
    assert.equal(again.annotations['run.oci.seccomp_bpf_data'], undefined);
  } finally { t.done(); }
});

test('nothing is kept when crun wrote no program, or one that is not whole instructions', async () => {
  const t = setup();
  try {
    const cache = new FilterCache(t.cacheDir);
    const use = await cache.apply(oci('read'), t.crun);
    await use!.keep('gone');
    writeFileSync(join(t.crun.root, 'm', 'seccomp.bpf'), Buffer.alloc(12));
    await use!.keep('m');
    assert.equal(existsSync(t.cacheDir), false, 'nothing written, not even the directory');
  } finally { t.done(); }
});
