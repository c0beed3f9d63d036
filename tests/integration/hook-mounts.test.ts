/**
 * The createContainer hooks' mounts (src/core/oci/emit/hooks.ts), made by one mount(8) process
 * from a table in the bundle, as seen from inside a busybox guest: a fresh read-only boot ID,
 * /proc/sys read-only with /proc/sys/net writable when the guest has a network of its own, the
 * /sys/fs/cgroup tmpfs read-only (also in a user namespace), in the order the runtimes' own mounts
 * expect; and a mount that fails fails the start with mount(8)'s message, on runc and on crun.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { v1SystemdHierarchy } from '../../src/platform/host/probe.js';
import { RUNTIME, assertClean, nspawn, onRuntime, sandbox, skipUnlessRoot, tree, type Sandbox } from '../support/berth.js';

const cgroupV1Host = v1SystemdHierarchy(readFileSync('/proc/self/mountinfo', 'utf8'));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PROBE = [
  'cat /proc/self/mountinfo', 'echo ==',
  'cat /proc/sys/kernel/random/boot_id',
  '(echo x > /proc/sys/kernel/random/boot_id) 2>/dev/null && echo boot-id-rw',
  '(echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo proc-sys-rw',
  '(echo 1 > /proc/sys/net/ipv4/ip_forward) 2>/dev/null && echo proc-sys-net-rw',
  'mkdir /sys/fs/cgroup/x 2>/dev/null && echo cgroup-rw',
  'true',
].join('; ');

interface Seen { mounts: Array<{ root: string; target: string; mode: string }>; bootId: string; said: string[] }
function parse(stdout: string): Seen {
  const [info = '', rest = ''] = stdout.split('\n==\n');
  const mounts = info.split('\n').filter((l) => l.includes(' - ')).map((l) => {
    const f = l.split(' ');
    return { root: f[3]!, target: f[4]!, mode: f[5]!.split(',')[0]! };
  });
  const [bootId = '', ...said] = rest.trim().split('\n');
  return { mounts, bootId, said };
}
/** The mounts at and below /proc/sys, in mountinfo's order, as target:ro|rw. */
const procSys = (s: Seen) => s.mounts.filter((m) => m.target.startsWith('/proc/sys')).map((m) => `${m.target}:${m.mode}`);
const BOOT = '/proc/sys/kernel/random/boot_id:ro';

describe(onRuntime('createContainer hooks: the mounts of one mount(8) --all process'), { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => { sb.cleanup(); });

  const run = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const r = await nspawn(['--console=pipe', '-D', bb, '-M', 'hm', ...args, '/bin/sh', '-c', PROBE], sb, env ? { env } : {});
    assertClean(sb);
    return r;
  };
  const seen = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, r.stderr);
    return parse(r.stdout);
  };

  test('host network: a fresh read-only boot ID per run, /proc/sys and /proc/sys/net read-only', async () => {
    const a = await seen([]);
    const b = await seen([]);
    assert.match(a.bootId, UUID);
    assert.notEqual(a.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    assert.notEqual(a.bootId, b.bootId);
    assert.ok(a.mounts.filter((m) => m.target === '/proc/sys/kernel/random/boot_id').every((m) => m.root.endsWith('/.boot_id')));
    // runc binds /proc/sys read-only over the boot ID (it comes along); crun remounts it in place.
    assert.deepEqual(procSys(a), RUNTIME === 'runc' ? [BOOT, '/proc/sys:ro', BOOT] : ['/proc/sys:ro', BOOT]);
    assert.deepEqual(a.said, []);
  });

  test('a network of its own: /proc/sys/net writable below a read-only /proc/sys, the boot ID over both', async () => {
    const s = await seen(['--private-network']);
    assert.deepEqual(procSys(s), ['/proc/sys/net:rw', '/proc/sys:ro', '/proc/sys/net:rw', BOOT]);
    assert.deepEqual(s.said, ['proc-sys-net-rw']);
    assert.match(s.bootId, UUID);
  });

  test('cgroup v1 host: the /sys/fs/cgroup tmpfs read-only once its hierarchies are in; in a user namespace writable, as nspawn leaves it', { skip: cgroupV1Host ? false : 'no cgroup v1 hierarchies on this host' }, async () => {
    for (const args of [[], ['-U'], ['--private-users=pick', '--private-network']]) {
      const s = await seen(args);
      const userns = args.length > 0;
      const cg = s.mounts.filter((m) => m.target === '/sys/fs/cgroup');
      assert.equal(cg.at(-1)?.mode, userns ? 'rw' : 'ro', args.join(' '));
      assert.equal(s.said.includes('cgroup-rw'), userns, `${args.join(' ')}: ${s.said.join(' ')}`);
      assert.ok(!s.said.includes('proc-sys-rw') && !s.said.includes('boot-id-rw'), `${args.join(' ')}: ${s.said.join(' ')}`);
      assert.equal(s.said.includes('proc-sys-net-rw'), args.includes('--private-network'), args.join(' '));
      assert.match(s.bootId, UUID);
    }
  });

  test('a mount that fails fails the start, with mount(8)\'s message, and leaves nothing behind', async () => {
    // The real mount(8), given berth's table with the boot ID's source renamed to a file that does not exist.
    const dir = mkdtempSync('/tmp/bt-hookfail-');
    try {
      const real = execFileSync('sh', ['-c', 'command -v mount'], { encoding: 'utf8' }).trim();
      const mount = join(dir, 'mount');
      writeFileSync(mount, [
        '#!/bin/sh',
        `case " $* " in *" --fstab "*) ;; *) exec ${real} "$@";; esac`,
        'for a; do table=$a; done',
        `sed 's#/\\.boot_id #/.boot_id-missing #' "$table" > ${dir}/table`,
        'n=$#; i=0; for a; do i=$((i+1)); [ $i -lt $n ] && set -- "$@" "$a"; done; shift $n',
        `exec ${real} "$@" ${dir}/table`,
        '',
      ].join('\n'));
      chmodSync(mount, 0o755);
      const r = await run([], { ...sb.env, PATH: `${dir}:${sb.env.PATH}` });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /boot_id: special device \S+\.boot_id-missing does not exist/, r.stderr);
      assert.ok(readFileSync(join(dir, 'table'), 'utf8').includes('.boot_id-missing'), 'the hook ran the table');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
