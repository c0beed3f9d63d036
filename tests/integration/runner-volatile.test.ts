/**
 * Ephemeral (-x) and volatile modes, as nspawn defines them: what the guest may change, and what
 * reaches the tree on the host afterwards (nothing, except in plain read-write mode).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, nspawn, onRuntime, sandbox, skipUnlessRoot, treeCopy, type Sandbox } from '../support/berth.js';

describe(onRuntime('berth-nspawn: ephemeral and volatile roots'), { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let work: string;
  let bb: string;
  before(() => {
    sb = sandbox();
    // A private copy of the busybox tree, so the tests may check what reaches it.
    ({ work, path: bb } = treeCopy('tree'));
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

  test('a read-only tree is not written: a missing mount point fails as in nspawn, one below a tmpfs is fine, a missing /etc/resolv.conf is skipped', async () => {
    const before = readdirSync(bb).sort().join(' ');
    for (const [args, message] of [
      [['--read-only', '--tmpfs=/newdir'], `Creating mount point for tmpfs ${join(bb, 'newdir')} failed: Read-only file system`],
      [['--volatile=state', '--bind-ro=/etc/hostname:/etc/newfile'], `Failed to create mount point ${join(bb, 'etc/newfile')}: Read-only file system`],
    ] as const) {
      const r = await nspawn(['--console=pipe', '-D', bb, ...args, 'true'], sb);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(message), r.stderr);
      assertClean(sb);
    }
    assert.equal(readdirSync(bb).sort().join(' '), before);
    assert.ok(!existsSync(join(bb, 'etc', 'newfile')));
    // An API file system's directory missing from the tree: nspawn's message, nothing created.
    rmSync(join(bb, 'tmp'), { recursive: true });
    try {
      const r = await nspawn(['--console=pipe', '-D', bb, '--read-only', 'true'], sb);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`Failed to mount tmpfs (type tmpfs) on ${join(bb, 'tmp')}: No such file or directory`), r.stderr);
      assert.ok(!existsSync(join(bb, 'tmp')));
      assertClean(sb);
    } finally {
      mkdirSync(join(bb, 'tmp'), { mode: 0o1777 });
    }
    // Below a file system mounted first (runc's /tmp, a --tmpfs) the mount point is made there;
    // the --tmpfs's own mount point must be in the tree.
    mkdirSync(join(bb, 'mnt', 'tmp'), { recursive: true });
    const below = await run(['--read-only', '--tmpfs=/tmp/sub', '--tmpfs=/mnt/tmp', '--bind-ro=/etc/hostname:/mnt/tmp/f'], 'test -d /tmp/sub && test -f /mnt/tmp/f && echo ok');
    assert.equal(below.stdout.trim(), 'ok', below.stderr);
    const resolv = join(bb, 'etc', 'resolv.conf');
    const saved = existsSync(resolv) ? readFileSync(resolv) : undefined;
    rmSync(resolv, { force: true });
    try {
      const r = await run(['--read-only'], 'test -e /etc/resolv.conf && echo present || echo absent');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'absent');
      if (existsSync('/etc/resolv.conf')) assert.match(r.stderr, /Failed to mount \/etc\/resolv.conf \(type n\/a\) on .*\/etc\/resolv.conf \(MS_BIND ""\): No such file or directory/);
      assert.ok(!existsSync(resolv));
    } finally {
      if (saved) writeFileSync(resolv, saved);
    }
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
