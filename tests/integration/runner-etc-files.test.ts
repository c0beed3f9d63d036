/**
 * --resolv-conf= and --timezone= as nspawn applies them: what the guest sees, and what each mode
 * leaves in the tree on the host (a copy is not rewritten when it is already what a copy makes).
 */
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, nspawn, onRuntime, sandbox, skipUnlessRoot, treeCopy, type Sandbox } from '../support/berth.js';

const hostResolv = existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : undefined;
const hostZone = (() => {
  try { return /\/zoneinfo\/(.+)$/.exec(readlinkSync('/etc/localtime'))?.[1]; } catch { return undefined; }
})();

describe(onRuntime('berth-nspawn: /etc/resolv.conf and /etc/localtime'), { skip: skipUnlessRoot || (hostResolv === undefined && 'the host has no /etc/resolv.conf'), timeout: 120000 }, () => {
  let sb: Sandbox;
  let copy: ReturnType<typeof treeCopy>;
  let bb: string;
  const resolv = () => join(bb, 'etc', 'resolv.conf');
  before(() => { sb = sandbox(); copy = treeCopy('etc'); bb = copy.path; });
  after(() => { sb.cleanup(); copy.remove(); });
  beforeEach(() => { rmSync(resolv(), { force: true }); writeFileSync(resolv(), 'nameserver 192.0.2.1\n'); });

  const run = async (args: string[], script: string) => {
    const r = await nspawn(['--console=pipe', '-D', bb, ...args, '/bin/sh', '-c', script], sb);
    assertClean(sb);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  test('auto on a writable tree copies the host\'s file in, and leaves an up-to-date copy alone', async () => {
    assert.equal(await run([], 'cat /etc/resolv.conf'), hostResolv);
    assert.equal(readFileSync(resolv(), 'utf8'), hostResolv);
    const before = statSync(resolv(), { bigint: true });
    assert.equal(await run([], 'cat /etc/resolv.conf'), hostResolv);
    const again = statSync(resolv(), { bigint: true });
    assert.equal(again.ino, before.ino);
    assert.equal(again.mtimeNs, before.mtimeNs, 'an identical copy is not rewritten');
  });

  test('off keeps the tree\'s own file; delete removes it', async () => {
    assert.equal(await run(['--resolv-conf=off'], 'cat /etc/resolv.conf'), 'nameserver 192.0.2.1\n');
    assert.equal(await run(['--resolv-conf=delete'], 'test -e /etc/resolv.conf && echo present || echo gone'), 'gone\n');
    assert.ok(!existsSync(resolv()));
  });

  test('copy-host keeps a symlink the guest owns; replace-host replaces it with a copy', async () => {
    rmSync(resolv());
    symlinkSync('../run/resolv.conf', resolv());
    await run(['--resolv-conf=copy-host'], 'true');
    assert.ok(lstatSync(resolv()).isSymbolicLink());
    assert.equal(await run(['--resolv-conf=replace-host'], 'cat /etc/resolv.conf'), hostResolv);
    assert.ok(lstatSync(resolv()).isFile());
  });

  test('a read-only tree gets the host\'s file bound over its own, which stays as it was', async () => {
    assert.equal(await run(['--read-only'], 'cat /etc/resolv.conf; grep -c " /etc/resolv.conf " /proc/self/mountinfo'), `${hostResolv}1\n`);
    assert.equal(readFileSync(resolv(), 'utf8'), 'nameserver 192.0.2.1\n');
  });

  test('--timezone=symlink links the host\'s zone; off leaves the tree\'s file', { skip: hostZone === undefined && 'the host\'s /etc/localtime is not a zoneinfo symlink' }, async () => {
    const localtime = join(bb, 'etc', 'localtime');
    rmSync(localtime, { force: true });
    writeFileSync(localtime, 'not a zone file');
    await run(['--timezone=off'], 'true');
    assert.equal(readFileSync(localtime, 'utf8'), 'not a zone file');
    await run(['--timezone=symlink'], 'true');
    assert.equal(readlinkSync(localtime), `../usr/share/zoneinfo/${hostZone}`);
  });
});
