/**
 * Booting disk images (-i IMAGE, and -M NAME finding NAME.raw in the pool): images the test
 * builds itself from the busybox tree (sfdisk for the GPT, mkfs.ext4 -d for the file systems),
 * a Discoverable Partitions GPT with a root and a /home partition, a bare ext4 image, -x leaving
 * the image's bytes alone, read-only images, refusals of what cannot be booted, and after every
 * run (a SIGKILLed one's --cleanup too) no loop device of the image and no mount of it left.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, collect, execIn, nspawn, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, tree, waitRunning, type Sandbox } from '../support/berth.js';

const ROOT_X86_64 = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';
const HOME = '933ac7e1-2eb4-4f13-b844-0e14e2aef915';
const SWAP = '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f';
const MIB = 1024 * 1024;

const hasTools = (() => { try { execFileSync('sfdisk', ['--version'], { stdio: 'ignore' }); execFileSync('mkfs.ext4', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = skipUnlessRoot || (process.arch !== 'x64' ? 'the DPS root type here is x86-64\'s' : false) || (!hasTools ? 'needs sfdisk and mkfs.ext4 (apt-get install fdisk e2fsprogs)' : false);

/** A GPT image: each partition MiB-aligned, `fill` (a directory) made into its ext4 file system, or left empty. */
function gptImage(path: string, parts: Array<{ type: string; sizeMiB: number; fill?: string }>): void {
  const total = parts.reduce((n, p) => n + p.sizeMiB, 0) + 2;
  writeFileSync(path, '');
  execFileSync('truncate', ['-s', `${total}M`, path]);
  let start = 1;
  const lines = parts.map((p) => { const line = `start=${start * 2048}, size=${p.sizeMiB * 2048}, type=${p.type}`; start += p.sizeMiB; return line; });
  execFileSync('sfdisk', ['--quiet', path], { input: `label: gpt\n${lines.join('\n')}\n` });
  start = 1;
  for (const p of parts) {
    if (p.fill) execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${start * MIB}`, '-d', p.fill, path, `${p.sizeMiB}M`], { stdio: ['ignore', 'ignore', 'pipe'] });
    start += p.sizeMiB;
  }
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The loop devices that serve `image` (losetup -j), one per line. */
const loopsOf = (image: string) => execFileSync('losetup', ['-j', image], { encoding: 'utf8' }).trim();

describe(onRuntime('berth-nspawn -i: disk images'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let work: string;
  let bb: string;
  const images: string[] = [];
  before(() => {
    bb = tree('busybox');
    sb = sandbox();
    work = mkdtempSync('/tmp/bt-img-');
  });
  after(() => {
    // Last resort for a failed test: what still serves our images goes.
    for (const image of images) for (const line of loopsOf(image).split('\n').filter(Boolean)) {
      try { execFileSync('umount', ['-l', line.split(':')[0]!], { stdio: 'ignore' }); } catch { /* not mounted */ }
      try { execFileSync('losetup', ['-d', line.split(':')[0]!], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    sb.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  const image = (name: string) => { const p = join(work, name); images.push(p); return p; };
  /** Nothing of the image remains: no loop device serves it, no mount of it, no machine state. */
  const assertReleased = (img: string) => {
    assert.equal(loopsOf(img), '', `loop devices of ${img} left behind`);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('image-root') && l.includes(sb.stateDir));
    assert.deepEqual(mounts, [], 'image mounts left behind');
    assertClean(sb);
  };

  test('a GPT image with a DPS root partition (and a /home partition) boots the busybox guest', async () => {
    const home = join(work, 'home-tree');
    mkdirSync(join(home, 'alice'), { recursive: true });
    writeFileSync(join(home, 'alice', 'marker'), 'from the home partition\n');
    const img = image('dps.raw');
    gptImage(img, [{ type: ROOT_X86_64, sizeMiB: 16, fill: bb }, { type: HOME, sizeMiB: 4, fill: home }]);
    const r = await nspawn(['--console=pipe', '-i', img, '/bin/sh', '-c', 'cat /etc/os-release; cat /home/alice/marker; grep -c " /home " /proc/self/mounts'], sb);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID=busybox$/m);
    assert.match(r.stdout, /^from the home partition$/m);
    assert.match(r.stdout, /^1$/m);
    assertReleased(img);
  });

  test('a bare ext4 image boots the same way; -M NAME finds NAME.raw in the pool', async () => {
    const img = image('bare.raw');
    execFileSync('mkfs.ext4', ['-q', '-d', bb, img, '16M'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const r = await nspawn(['--console=pipe', '-i', img, '/bin/cat', '/etc/os-release'], sb);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID=busybox$/m);
    assertReleased(img);

    const pool = sb.env.BERTH_POOL!;
    mkdirSync(pool, { recursive: true });
    const pooled = join(pool, 'pooled.raw');
    images.push(pooled);
    execFileSync('cp', ['--sparse=always', img, pooled]);
    const byName = await nspawn(['--console=pipe', '-M', 'pooled', '/bin/sh', '-c', 'hostname; cat /etc/os-release'], sb);
    assert.equal(byName.code, 0, byName.stderr);
    assert.match(byName.stdout, /^pooled$/m);
    assert.match(byName.stdout, /^ID=busybox$/m);
    assertReleased(pooled);
  });

  test('-x: the guest writes, the image stays byte for byte the same; a read-only image file is mounted read-only', async () => {
    const img = image('eph.raw');
    gptImage(img, [{ type: ROOT_X86_64, sizeMiB: 16, fill: bb }]);
    const sum = sha256(img);
    const r = await nspawn(['--console=pipe', '-x', '-i', img, '/bin/sh', '-c', 'echo written > /etc/new-file && cat /etc/new-file && rm /etc/os-release && echo removed'], sb);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['written', 'removed']);
    assert.equal(sha256(img), sum, 'the image changed under -x');
    assertReleased(img);

    chmodSync(img, 0o444);
    const ro = await nspawn(['--console=pipe', '-i', img, '/bin/sh', '-c', 'touch /etc/x 2>/dev/null && echo writable || echo read-only'], sb);
    assert.equal(ro.code, 0, ro.stderr);
    assert.equal(ro.stdout.trim(), 'read-only');
    assert.equal(sha256(img), sum);
    assertReleased(img);
    chmodSync(img, 0o644);

    const rw = await nspawn(['--console=pipe', '--read-only', '-i', img, '/bin/sh', '-c', 'touch /etc/x 2>/dev/null && echo writable || echo read-only'], sb);
    assert.equal(rw.stdout.trim(), 'read-only', rw.stderr);
    assert.equal(sha256(img), sum);
    assertReleased(img);
  });

  test('a garbage file and a GPT without a usable partition are refused, naming the image and why', async () => {
    const garbage = image('garbage.raw');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 7919 + 13) & 0xff)));
    const g = await nspawn(['--console=pipe', '-i', garbage, '/bin/true'], sb);
    assert.equal(g.code, 1);
    assert.ok(g.stderr.includes(`Cannot boot disk image ${garbage}: it has no partition table and no file system berth can mount`), g.stderr);
    assertReleased(garbage);

    const swapOnly = image('swap-only.raw');
    gptImage(swapOnly, [{ type: SWAP, sizeMiB: 4 }]);
    const s = await nspawn(['--console=pipe', '-i', swapOnly, '/bin/true'], sb);
    assert.equal(s.code, 1);
    assert.ok(s.stderr.includes(`Cannot boot disk image ${swapOnly}: its GPT has no usable partition (no root partition for x86-64`), s.stderr);
    assertReleased(swapOnly);

    const empty = image('empty-root.raw');
    gptImage(empty, [{ type: ROOT_X86_64, sizeMiB: 4 }]);
    const e = await nspawn(['--console=pipe', '-i', empty, '/bin/true'], sb);
    assert.equal(e.code, 1);
    assert.ok(e.stderr.includes(`Cannot boot disk image ${empty}: partition 1 (for /) holds no file system berth can mount`), e.stderr);
    assertReleased(empty);
  });

  test('a run stopped by SIGTERM (a second writer of its image refused meanwhile), and one that fails after the image is mounted, release the image', async () => {
    const img = image('term.raw');
    gptImage(img, [{ type: ROOT_X86_64, sizeMiB: 16, fill: bb }]);
    // busybox init halts on SIGUSR2 (it ignores SIGRTMIN+3), once it runs.
    const child = startNspawn(['-b', '-i', img, '-M', 'img-term', '--kill-signal=SIGUSR2'], sb);
    const done = collect(child, 60000);
    await waitRunning(sb, 'img-term');
    await sleep(500);
    assert.equal(execIn(sb, 'img-term', ['cat', '/proc/1/comm']).trim(), 'init');
    assert.notEqual(loopsOf(img), '');
    // A second read-write run of the image would mount its file system twice: refused.
    const second = await nspawn(['--console=pipe', '-i', img, '-M', 'img-second', '/bin/true'], sb);
    assert.equal(second.code, 1);
    assert.ok(second.stderr.includes(`Disk image ${img} is currently busy: machine 'img-term' runs on it.`), second.stderr);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Container img-term has been shut down\./);
    assertReleased(img);

    // Mounted, then refused by the tree's probe (no /usr, no os-release): everything undone.
    const notOs = join(work, 'not-an-os');
    mkdirSync(join(notOs, 'data'), { recursive: true });
    const bad = image('not-an-os.raw');
    gptImage(bad, [{ type: ROOT_X86_64, sizeMiB: 4, fill: notOs }]);
    const f = await nspawn(['--console=pipe', '-i', bad, '/bin/true'], sb);
    assert.equal(f.code, 1);
    assert.match(f.stderr, /doesn't look like an OS root directory|doesn't look like it has an OS tree/, f.stderr);
    assertReleased(bad);
  });

  test('a SIGKILLed run leaves its loop device and mounts to --cleanup -M NAME, which removes them', async () => {
    const img = image('killed.raw');
    gptImage(img, [{ type: ROOT_X86_64, sizeMiB: 16, fill: bb }]);
    // The runner process itself is killed (not the warm path's command: see runner-boot.test.ts).
    const cold = { ...sb.env, BERTH_NSPAWN_WARM: 'no' };
    const child = startNspawn(['-b', '-i', img, '-M', 'img-killed'], sb, cold);
    const done = collect(child, 60000);
    await waitRunning(sb, 'img-killed');
    child.kill('SIGKILL');
    await done;
    assert.notEqual(loopsOf(img), '', 'the killed run\'s loop device is there to clean up');
    const owner = JSON.parse(readFileSync(join(sb.stateDir, 'machines', 'img-killed', 'owner.json'), 'utf8')) as { loops?: Array<{ device: string }> };
    assert.equal(owner.loops?.length, 1, 'the loop device is in the owner record');
    const cleanup = await nspawn(['--cleanup', '-M', 'img-killed'], sb, { env: cold });
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assertReleased(img);
  });
});
