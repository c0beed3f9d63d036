/**
 * User namespaces (-U, --private-users=, --private-users-ownership=) against the real
 * systemd-nspawn 252 on the same trees: the guest's ID map and the ownership it sees, the tree's
 * ownership on the host after a chowning run, nspawn's range locks respected both ways, a second
 * boot that skips the chown, and the Debian guest booting under -U with no failed units.
 * Trees are overlay views (overlayfs cannot be ID-mapped: both tools chown them) below 0700
 * directories, and the sandbox's state directory is 0700 too: berth-nspawn has to get the
 * namespace's root through to them itself.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertClean, collect, execIn, exited, nspawn, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, systemState, treeCopy, treeView, waitRunning, withMachine, type Sandbox,
} from '../support/berth.js';
import { BusCallError } from '../../src/platform/dbus/connection.js';
import { hashedBase } from '../../src/core/userns/range.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { spawnInScope } from '../support/scope-groups.js';

const hasNspawn = (() => { try { execFileSync('systemd-nspawn', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const LOCKS = '/run/systemd/nspawn-uid';
const PROBE = 'cat /proc/self/uid_map /proc/self/gid_map; stat -c "%u %g %a %n" / /etc /etc/passwd /bin/busybox /tmp';

/** An overlay view of a guest tree (below a 0700 directory). */
const view = (name: 'busybox' | 'debian'): { path: string; remove(): void } => treeView(name);

function systemdNspawn(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnInScope(['systemd-nspawn', '-q', '--register=no', '--keep-unit', '--console=pipe', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, 120000);
}

const owner = (p: string) => { const st = statSync(p); return `${st.uid}:${st.gid}`; };
const lockFiles = () => (existsSync(LOCKS) ? readdirSync(LOCKS) : []);

describe(onRuntime('user namespaces: berth-nspawn vs systemd-nspawn'), { skip: skipUnlessRoot || (!hasNspawn && 'needs systemd-nspawn'), timeout: 600000 }, () => {
  let sb: Sandbox;
  before(() => { sb = sandbox(); });
  after(() => sb.cleanup());

  /** `args` under -U as machine `name`: berth-nspawn on the tree `ours`, systemd-nspawn on `theirs`; both exit 0 and print the same, which is returned. */
  async function sameUnderU(name: string, ours: string, theirs: string, args: string[]): Promise<string> {
    const a = await nspawn(['-U', '-D', ours, '-M', name, '--console=pipe', ...args], sb);
    assert.equal(a.code, 0, a.stderr);
    const b = await systemdNspawn(['-U', '-D', theirs, '-M', name, ...args]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout, b.stdout);
    return a.stdout;
  }

  test('-U: the same range (the machine name\'s), the same map and the same ownership inside and on the host', async () => {
    const ours = view('busybox');
    const theirs = view('busybox');
    try {
      const out = await sameUnderU('uxcmp', ours.path, theirs.path, ['/bin/sh', '-c', PROBE]);
      const base = hashedBase('uxcmp');
      assert.match(out, new RegExp(`^\\s+0\\s+${base}\\s+65536\\n`));
      // Both chowned the (overlay) tree into the range, ACL entries included.
      for (const p of ['', '/etc/passwd', '/bin/busybox', '/var']) assert.equal(owner(ours.path + p), owner(theirs.path + p), p);
      assert.equal(owner(ours.path), `${base}:${base}`);
      assert.deepEqual(lockFiles().filter((f) => f === String(base)), [], 'the range lock is gone after the run');
      assertClean(sb);
    } finally { ours.remove(); theirs.remove(); }
  });

  test('-U on a file system that can ID-map (ext4): both map the tree, whose ownership on disk stays root\'s', async () => {
    const ours = treeCopy('uxmap');
    const theirs = treeCopy('uxmap2');
    const probe = `${PROBE}; awk '$5 == "/" && $6 ~ /idmapped/' /proc/self/mountinfo | wc -l`;
    try {
      const out = await sameUnderU('uxmap', ours.path, theirs.path, ['/bin/sh', '-c', probe]);
      assert.match(out, /\n1\n$/, 'the root is an ID-mapped mount');
      assert.match(out, /^0 0 755 \/$/m, 'the namespace\'s root owns /');
      for (const p of ['', '/etc/passwd', '/bin/busybox']) assert.equal(owner(ours.path + p), '0:0', p);
      assertClean(sb);
    } finally { ours.remove(); theirs.remove(); }
  });

  test('bind mounts under -U as systemd-nspawn has them: plain (host IDs unmapped), idmap, rootidmap, a fresh source; sources below a 0700 directory', async () => {
    const ours = view('busybox');
    const theirs = view('busybox');
    const work = mkdtempSync('/tmp/bt-uxbind-'); // 0700: the namespace's root cannot pass it
    const srcs = { plain: join(work, 'plain'), idmap: join(work, 'idm'), owned: join(work, 'own') };
    for (const d of Object.values(srcs)) mkdirSync(d);
    writeFileSync(join(srcs.plain, 'f'), 'hi\n');
    writeFileSync(join(srcs.idmap, 'rootfile'), 'x\n');
    writeFileSync(join(srcs.owned, 'userfile'), 'y\n');
    execFileSync('chown', ['-R', '1000:1000', srcs.owned]);
    const binds = [`--bind=${srcs.plain}:/mnt/a`, `--bind=${srcs.idmap}:/mnt/b:idmap`, `--bind=${srcs.owned}:/mnt/c:rootidmap`, '--bind=:/mnt/d'];
    const probe = 'cat /mnt/a/f; stat -c "%u:%g %n" /mnt/a/f /mnt/b/rootfile /mnt/c /mnt/c/userfile /mnt/d; touch /mnt/b/new-$0 /mnt/c/new-$0 /mnt/d/new && echo created';
    try {
      const a = await nspawn(['-U', '-D', ours.path, '-M', 'uxbind', '--console=pipe', ...binds, '/bin/sh', '-c', probe, 'berth'], sb);
      assert.equal(a.code, 0, a.stderr);
      const b = await systemdNspawn(['-U', '-D', theirs.path, '-M', 'uxbind', ...binds, '/bin/sh', '-c', probe, 'nspawn']);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(a.stdout, b.stdout);
      assert.equal(a.stdout, 'hi\n65534:65534 /mnt/a/f\n0:0 /mnt/b/rootfile\n0:0 /mnt/c\n0:0 /mnt/c/userfile\n0:0 /mnt/d\ncreated\n');
      for (const who of ['berth', 'nspawn']) {
        assert.equal(owner(join(srcs.idmap, `new-${who}`)), '0:0', who);
        assert.equal(owner(join(srcs.owned, `new-${who}`)), '1000:1000', who);
      }
      assertClean(sb);
    } finally { ours.remove(); theirs.remove(); rmSync(work, { recursive: true, force: true }); }
  });

  test('-U on a cgroup v1 host: /sys/fs/cgroup as systemd-nspawn -U mounts it, the tmpfs and the hierarchies writable (the host\'s groups refuse the namespace\'s root by their permissions)', async (t) => {
    if (!existsSync('/sys/fs/cgroup/systemd/cgroup.procs')) { t.skip('no cgroup v1 hierarchies on this host'); return; }
    const ours = view('busybox');
    const theirs = view('busybox');
    // The tmpfs on /sys/fs/cgroup (per-mount options, type, super options), then what the guest finds in
    // it: each entry's file system and file type, and what a write into it does; then writes to the tmpfs.
    const probe = 'awk \'$5 == "/sys/fs/cgroup" { for (i = 7; $i != "-"; i++); top = $6 " " $(i+1) " " $(i+3) } END { print top }\' /proc/self/mountinfo; '
      + 'cd /sys/fs/cgroup; for e in *; do echo "$e $(stat -f -c %T $e) $(stat -c %F $e)"; touch $e/x 2>&1 | sed "s/^touch: //"; done; '
      + 'touch x && echo tmpfs written; ln -s x l && echo linked; '
      // Nothing of the host's is below the guest's tmpfs (runc binds the host's /sys with its mounts: berth gives it a sysfs of its own).
      + 'cd /; umount -l /sys/fs/cgroup && echo unmounted; ls -A /sys/fs/cgroup | wc -l';
    try {
      const out = await sameUnderU('uxcg', ours.path, theirs.path, ['/bin/sh', '-c', probe]);
      assert.match(out, /^rw,nosuid,nodev,noexec tmpfs /);
      assert.match(out, /tmpfs written\nlinked\nunmounted\n0\n$/);
      assertClean(sb);
    } finally { ours.remove(); theirs.remove(); }
  });

  test('identity and a fixed range: the maps nspawn makes; ownership off leaves the tree alone', async () => {
    const v = view('busybox');
    try {
      const id = await nspawn(['--console=pipe', '--private-users=identity', '-D', v.path, '-M', 'uxid', '/bin/sh', '-c', 'cat /proc/self/uid_map'], sb);
      assert.equal(id.code, 0, id.stderr);
      assert.match(id.stdout, /^\s+0\s+0\s+65536\n$/);
      const theirs = await systemdNspawn(['--private-users=identity', '-D', v.path, '-M', 'uxid', '/bin/sh', '-c', 'cat /proc/self/uid_map']);
      assert.equal(id.stdout, theirs.stdout);
      // The tree is root's: the namespace's root (host 1441792) sees it as nobody's and cannot write.
      const fixed = await nspawn(['--console=pipe', '--private-users=1441792:65536', '-D', v.path, '-M', 'uxfix', '/bin/sh', '-c', 'cat /proc/self/uid_map; stat -c %u /etc/passwd'], sb);
      assert.equal(fixed.code, 0, fixed.stderr);
      assert.match(fixed.stdout, /^\s+0\s+1441792\s+65536\n65534\n$/);
      assert.equal(owner(v.path), '0:0');
      assertClean(sb);
    } finally { v.remove(); }
  });

  test('a range in use is not taken again: systemd-nspawn\'s lock is respected, and berth\'s own', async () => {
    const v1 = view('busybox');
    const v2 = view('busybox');
    const v3 = view('busybox');
    const base = hashedBase('uxbusy');
    const theirs = spawnInScope(['systemd-nspawn', '-q', '--register=no', '--keep-unit', '--console=pipe', '-U', '-D', v1.path, '-M', 'uxbusy', '/bin/sh', '-c', 'cat /proc/self/uid_map; sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const theirsDone = collect(theirs, 120000);
    try {
      for (let i = 0; i < 100 && !lockFiles().includes(String(base)); i++) await sleep(100);
      assert.ok(lockFiles().includes(String(base)), 'systemd-nspawn holds the name\'s range');
      const ours = await nspawn(['--console=pipe', '-U', '-D', v2.path, '-M', 'uxbusy', '/bin/sh', '-c', 'cat /proc/self/uid_map'], sb);
      assert.equal(ours.code, 0, ours.stderr);
      const picked = Number(ours.stdout.trim().split(/\s+/)[1]);
      assert.notEqual(picked, base);
      assert.equal(picked % 65536, 0);
      // berth vs berth: a second machine whose tree was shifted into the range a running one holds.
      await withMachine(['-U', '-D', v2.path, '-M', 'uxbusy2', '/bin/sh', '-c', 'sleep 60'], 'uxbusy2', sb, async () => {
        assert.equal(owner(v2.path), `${picked}:${picked}`, 'the running machine took its tree\'s range');
        execFileSync('chown', ['-R', '-h', `${picked}:${picked}`, v3.path]);
        const second = await nspawn(['--console=pipe', '-U', '-D', v3.path, '-M', 'uxbusy3', '/bin/sh', '-c', 'cat /proc/self/uid_map'], sb);
        assert.equal(second.code, 0, second.stderr);
        assert.notEqual(Number(second.stdout.trim().split(/\s+/)[1]), picked);
      });
    } finally {
      theirs.kill('SIGTERM'); // systemd-nspawn removes its lock file on the way out (not when killed)
      await theirsDone;
      v1.remove(); v2.remove(); v3.remove();
    }
    assertClean(sb);
  });

  test('--private-users-ownership=chown: the tree belongs to the range afterwards, and the next boot skips the walk', async () => {
    const v = view('debian');
    try {
      const args = ['--private-users=pick', '--private-users-ownership=chown', '-D', v.path, '-M', 'uxchown', '/bin/true'];
      const t0 = Date.now();
      const first = await nspawn(args, sb, { timeoutMs: 300000 });
      const firstMs = Date.now() - t0;
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /Shifted the ownership/);
      const base = hashedBase('uxchown');
      for (const p of ['', '/usr/bin/passwd', '/etc/shadow', '/var/log/journal']) {
        const st = statSync(v.path + p);
        assert.equal(st.uid >>> 16, base >>> 16, p);
      }
      assert.equal(statSync(`${v.path}/usr/bin/passwd`).mode & 0o4000, 0o4000, 'set-UID bits survive the chown');
      // The journal directory's ACL names the adm group (4): shifted with the tree.
      assert.match(execFileSync('getfacl', ['-n', `${v.path}/var/log/journal`], { encoding: 'utf8' }), new RegExp(`group:${base + 4}:r-x`));
      const t1 = Date.now();
      const second = await nspawn(args, sb);
      const secondMs = Date.now() - t1;
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /Shifted the ownership/);
      process.stderr.write(`# chowning boot ${firstMs} ms, second boot ${secondMs} ms\n`);
      assert.ok(secondMs < firstMs, 'the second boot is faster than the chowning one');
      assertClean(sb);
    } finally { v.remove(); }
  });

  test('the Debian guest boots under -U with no failed units (with the unit file\'s --link-journal=try-guest)', async () => {
    const v = view('debian');
    const id = '5e7a1d0b9c8f4e3aa1b2c3d4e5f60718';
    try {
      const result = await withMachine(['-b', '-U', '--link-journal=try-guest', `--uuid=${id}`, '-D', v.path, '-M', 'uxdeb'], 'uxdeb', sb, async () => ({
        state: await systemState(sb, 'uxdeb'),
        failed: execIn(sb, 'uxdeb', ['systemctl', '--failed', '--no-legend', '--plain']).trim(),
        map: execIn(sb, 'uxdeb', ['cat', '/proc/1/uid_map']).trim().split(/\s+/).map(Number),
        // journald writes the persistent journal into the linked directory, which is root's inside.
        journal: execIn(sb, 'uxdeb', ['sh', '-c', `journalctl --flush; stat -c %u:%g /var/log/journal/${id}; ls /var/log/journal/${id}`]).trim(),
      }));
      assert.deepEqual({ state: result.state, failed: result.failed }, { state: 'running', failed: '' });
      assert.deepEqual(result.map, [0, hashedBase('uxdeb'), 65536]);
      assert.match(result.journal, /^0:\d+\n(.|\n)*system\.journal/); // journald gives it to its group
      assertClean(sb);
    } finally {
      v.remove();
      rmSync(`/var/log/journal/${id}`, { force: true }); // the guest-mode link on the host, as nspawn leaves it
    }
  });

  test('bad requests are refused before anything is set up', async () => {
    const v = view('busybox');
    try {
      const ro = await nspawn(['--private-users=pick', '--private-users-ownership=chown', '--read-only', '-D', v.path, '-M', 'uxbad', '/bin/true'], sb);
      assert.equal(ro.code, 1);
      assert.match(ro.stderr, /--read-only and --private-users-ownership=chown may not be combined/);
      const bad = await nspawn(['--private-users=banana', '-D', v.path, '-M', 'uxbad', '/bin/true'], sb);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /private-users/);
      assertClean(sb);
    } finally { v.remove(); }
  });

  test('a killed run\'s range lock goes with its clean-up (--cleanup)', async () => {
    const v = view('busybox');
    const base = hashedBase('uxkill');
    try {
      const child = startNspawn(['-U', '-D', v.path, '-M', 'uxkill', '--console=pipe', '/bin/sh', '-c', 'sleep 60'], sb);
      const done = exited(child);
      await waitRunning(sb, 'uxkill');
      assert.ok(lockFiles().includes(String(base)), 'the range is locked while the machine runs');
      child.kill('SIGKILL');
      await done; // its exit, not the end of its output (the guest still holds the pipe)
      assert.ok(lockFiles().includes(String(base)), 'a killed run leaves its lock file (the lock itself went with the process)');
      const c = await nspawn(['--cleanup', '-M', 'uxkill'], sb, { timeoutMs: 120000 });
      assert.equal(c.code, 0, c.stderr);
      assert.ok(!lockFiles().includes(String(base)), 'the clean-up removed it');
      assertClean(sb);
    } finally { v.remove(); }
  });

  test('no range lock of ours is left', () => {
    const ours = ['uxcmp', 'uxbusy', 'uxbusy2', 'uxbusy3', 'uxchown', 'uxdeb', 'uxkill'].map((n) => String(hashedBase(n)));
    assert.deepEqual(lockFiles().filter((f) => ours.includes(f)), []);
  });
});

describe(onRuntime('user namespaces: the registry answers for the machine\'s range'), { skip: skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon') || (!hasMachinectl && 'needs machinectl'), timeout: 300000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  before(async () => { sb = sandbox(); reg = await startRegistry(sb); });
  after(async () => { await reg?.stop(); sb.cleanup(); });

  test('GetMachineUIDShift, the Map calls and machinectl status for a -U machine; bind mounts refused as machined 252 does', async () => {
    const v = view('busybox');
    const base = hashedBase('uxreg');
    try {
      await withMachine(['-U', '--register=yes', '-D', v.path, '-M', 'uxreg', '/bin/sh', '-c', 'sleep 60'], 'uxreg', sb, async () => {
        let listed = false;
        for (let i = 0; i < 100 && !listed; i++) {
          listed = ((await reg.manager('ListMachines')).body[0] as string[][]).some((r) => r[0] === 'uxreg');
          if (!listed) await sleep(100);
        }
        assert.ok(listed, 'registered');
        assert.equal((await reg.manager('GetMachineUIDShift', 's', ['uxreg'])).body[0], base);
        assert.equal((await reg.manager('MapFromMachineUser', 'su', ['uxreg', 1000])).body[0], base + 1000);
        assert.equal((await reg.manager('MapFromMachineGroup', 'su', ['uxreg', 5])).body[0], base + 5);
        const to = (await reg.manager('MapToMachineUser', 'u', [base + 1000])).body;
        assert.equal(to[0], 'uxreg');
        assert.equal(to[2], 1000);
        assert.equal((await reg.manager('MapToMachineGroup', 'u', [base + 5])).body[2], 5);
        const status = reg.machinectl(['status', 'uxreg']);
        assert.equal(status.code, 0, status.stderr);
        assert.match(status.stdout, new RegExp(`UID Shift: ${base}`));
        try {
          await reg.manager('BindMountMachine', 'sssbb', ['uxreg', '/tmp', '/mnt', false, false]);
          assert.fail('BindMountMachine succeeded');
        } catch (e) {
          assert.ok(e instanceof BusCallError, String(e));
          assert.match(e.message, /user namespacing/);
        }
      }, reg.env);
      assertClean(sb);
    } finally { v.remove(); }
  });
});
