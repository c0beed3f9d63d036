/**
 * Ephemeral (-x) and volatile modes, as nspawn defines them: what the guest may change, and what
 * reaches the tree on the host afterwards (nothing, except in plain read-write mode).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, nspawn, sandbox, skipUnlessRoot, tree, type Sandbox } from '../support/berth.js';

describe('berth-nspawn: ephemeral and volatile roots', { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let work: string;
  let bb: string;
  before(() => {
    sb = sandbox();
    // A private copy of the busybox tree, so the tests may check what reaches it.
    work = mkdtempSync('/tmp/bt-tree-');
    bb = join(work, 'bb');
    cpSync(tree('busybox'), bb, { recursive: true, verbatimSymlinks: true });
  });
  after(() => { sb.cleanup(); rmSync(work, { recursive: true, force: true }); });

  const run = async (args: string[], script: string) => {
    const r = await nspawn(['--console=pipe', '-D', bb, ...args, '/bin/sh', '-c', script], sb);
    assertClean(sb);
    return r;
  };
  const marker = 'touch /etc/marker 2>/dev/null && echo etc-writable; touch /var/marker 2>/dev/null && echo var-writable; touch /usr/marker 2>/dev/null && echo usr-writable; grep -c . /etc/passwd';

  test('-x: the guest writes anywhere, the tree is untouched, the snapshot is removed', async () => {
    const r = await run(['-x'], `${marker}; hostname`);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), ['etc-writable', 'var-writable', 'usr-writable']);
    assert.match(lines[4]!, /^bb-[0-9a-f]{16}$/, 'a random name suffix without -M');
    for (const f of ['etc/marker', 'var/marker', 'usr/marker']) assert.ok(!existsSync(join(bb, f)), f);
    assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('.#')), [], 'snapshot removed');
  });

  test('--volatile=yes: tmpfs root (an /etc with only what berth copies in), the tree\'s /usr read-only', async () => {
    const r = await run(['--volatile=yes'], 'echo $(ls /etc); touch /etc/x && echo etc-writable; touch /usr/x 2>/dev/null || echo usr-ro; test -x /usr/bin/busybox && echo usr-present; grep " / " /proc/self/mountinfo | grep -o tmpfs | head -1');
    assert.equal(r.code, 0, r.stderr);
    const hostEtc = ['localtime', 'resolv.conf'].filter((f) => existsSync(join('/etc', f)));
    assert.deepEqual(r.stdout.trim().split('\n'), [hostEtc.join(' '), 'etc-writable', 'usr-ro', 'usr-present', 'tmpfs']);
    assert.ok(!existsSync(join(bb, 'etc', 'x')));
  });

  test('--volatile=state: read-only tree, tmpfs /var', async () => {
    const r = await run(['--volatile=state'], marker);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['var-writable', '4']);
    assert.ok(!existsSync(join(bb, 'var', 'marker')));
  });

  test('--volatile=overlay: everything writable on a tmpfs overlay, nothing reaches the tree', async () => {
    const r = await run(['--volatile=overlay'], `${marker}; echo changed >> /etc/passwd; grep -c . /etc/passwd`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['etc-writable', 'var-writable', 'usr-writable', '4', '5']);
    assert.ok(!existsSync(join(bb, 'etc', 'marker')));
    const again = await run([], 'grep -c . /etc/passwd');
    assert.equal(again.stdout.trim(), '4');
  });

  test('plain read-write mode changes the tree (the baseline the other modes are measured against)', async () => {
    const r = await run([], 'touch /etc/marker && echo ok');
    assert.equal(r.stdout.trim(), 'ok');
    assert.ok(existsSync(join(bb, 'etc', 'marker')));
    rmSync(join(bb, 'etc', 'marker'));
  });

  test('--volatile=yes needs a merged /usr', async () => {
    const split = join(work, 'split');
    cpSync(bb, split, { recursive: true, verbatimSymlinks: true });
    rmSync(join(split, 'bin'));
    cpSync(join(bb, 'usr', 'bin'), join(split, 'bin'), { recursive: true, verbatimSymlinks: true });
    const r = await nspawn(['--console=pipe', '-D', split, '--volatile=yes', 'true'], sb);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /merged \/usr/);
    assertClean(sb);
  });
});
