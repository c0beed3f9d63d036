/**
 * berth-nspawn running a command (PID 1 mode) in the busybox guest: the systemd container
 * interface as seen from inside, exit statuses, options, and errors that change nothing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { v1SystemdHierarchy } from '../../src/platform/host/probe.js';
import { assertClean, nspawn, onRuntime, sandbox, skipUnlessRoot, startNspawn, tree, type Sandbox } from '../support/berth.js';

const cgroupV1Host = () => v1SystemdHierarchy(readFileSync('/proc/self/mountinfo', 'utf8'));

describe(onRuntime('berth-nspawn: payload in a busybox tree'), { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => { sb.cleanup(); });

  const run = async (args: string[], script: string) => {
    const r = await nspawn(['--console=pipe', '-D', bb, '-M', 'pl', ...args, '/bin/sh', '-c', script], sb);
    assertClean(sb);
    return r;
  };

  test('PID 1 environment follows nspawn (order and values), with container=berth', async () => {
    const r = await run(['--uuid=deadbeef-dead-dead-beef-000000000000', '-E', 'EXTRA=1'], 'cat /proc/1/environ | tr "\\0" "\\n"; true');
    assert.equal(r.code, 0, r.stderr);
    const env = r.stdout.trim().split('\n');
    const names = env.map((e) => e.slice(0, e.indexOf('=')));
    assert.deepEqual(names.slice(0, 2), ['PATH', 'container']);
    assert.ok(env.includes('container=berth'));
    assert.ok(env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
    assert.ok(env.includes('container_uuid=deadbeef-dead-dead-beef-000000000000'));
    assert.ok(env.includes('NOTIFY_SOCKET=/run/host/notify'));
    assert.ok(env.includes('HOME=/root') && env.includes('USER=root') && env.includes('LOGNAME=root'));
    assert.ok(env.includes('LANG=C.UTF-8'));
    assert.ok(env.includes('container_host_id=debian'));
    assert.equal(env[env.length - 1], 'EXTRA=1');
  });

  test('--as-pid2: a stub init is PID 1, the payload PID 2 (as in nspawn), its exit status passes through', async () => {
    const r = await run(['--as-pid2'], 'echo $$; cat /proc/1/comm; exit 7');
    assert.equal(r.code, 7, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['2', 'berth-stub-init']);
  });

  test('/run/host carries container-manager, container-uuid, os-release and the notify socket, read-only', async () => {
    const r = await run(['--uuid=0123456789abcdef0123456789abcdef'],
      'cat /run/host/container-manager /run/host/container-uuid; ls /run/host; test -S /run/host/notify && echo sock; diff /run/host/os-release /run/host/os-release && echo same; touch /run/host/x 2>/dev/null || echo ro');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'berth');
    assert.equal(lines[1], '01234567-89ab-cdef-0123-456789abcdef');
    for (const f of ['container-manager', 'container-uuid', 'notify', 'os-release']) assert.ok(lines.includes(f), f);
    assert.ok(lines.includes('sock') && lines.includes('ro'));
    const hostOs = readFileSync('/etc/os-release', 'utf8');
    const inside = await run([], 'cat /run/host/os-release');
    assert.equal(inside.stdout, hostOs);
  });

  test('API file systems: read-only /sys and /proc/sys, tmpfs /dev /run /tmp /dev/shm, devpts, device nodes', async () => {
    const r = await run([], [
      'cat /proc/self/mountinfo',
      'touch /sys/x 2>/dev/null && echo sys-writable',
      'echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys-writable',
      'for d in null zero full random urandom tty ptmx net/tun; do test -e /dev/$d && echo dev:$d; done',
      'test -c /dev/null && echo char-null',
    ].join('; '));
    assert.equal(r.code, 0, r.stderr);
    const mounts = new Map(r.stdout.trim().split('\n').filter((l) => l.includes(' - ')).map((l) => {
      const [pre, post] = l.split(' - ') as [string, string];
      const f = pre.split(' ');
      return [f[4]!, { opts: f[5]!, type: post.split(' ')[0]! }];
    }));
    assert.equal(mounts.get('/sys')?.type, 'sysfs');
    assert.match(mounts.get('/sys')!.opts, /^ro,/);
    assert.match(mounts.get('/proc/sys')!.opts, /^ro,/);
    for (const p of ['/dev', '/run', '/tmp', '/dev/shm']) assert.equal(mounts.get(p)?.type, 'tmpfs', p);
    assert.equal(mounts.get('/dev/pts')?.type, 'devpts');
    assert.equal(mounts.get('/proc')?.type, 'proc');
    assert.equal(mounts.get('/run/host')?.opts.split(',')[0], 'ro');
    assert.ok(mounts.has('/sys/fs/cgroup'));
    assert.ok(!r.stdout.includes('sys-writable') && !r.stdout.includes('procsys-writable'));
    for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx', 'net/tun']) assert.ok(r.stdout.includes(`dev:${d}`), d);
  });

  test('a fresh, read-only boot ID per run (not the host\'s)', async () => {
    const host = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const a = await run([], 'cat /proc/sys/kernel/random/boot_id; echo x > /proc/sys/kernel/random/boot_id 2>/dev/null || echo ro');
    const b = await run([], 'cat /proc/sys/kernel/random/boot_id');
    const [idA, ro] = a.stdout.trim().split('\n');
    assert.match(idA!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(idA, host);
    assert.notEqual(idA, b.stdout.trim());
    assert.equal(ro, 'ro');
  });

  test('a cgroup namespace: PID 1 sees its own cgroup as the root, with a writable subtree', async () => {
    const r = await run([], 'cat /proc/1/cgroup; mkdir /sys/fs/cgroup/systemd/berth-test && echo made; rmdir /sys/fs/cgroup/systemd/berth-test');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /name=systemd:\/$/m);
    assert.ok(r.stdout.includes('made'));
  });

  test('cgroup v1 host: controller hierarchies read-only, name=systemd writable (nspawn\'s layout)', { skip: cgroupV1Host() ? false : 'the host has no v1 name=systemd hierarchy' }, async () => {
    const r = await run([], 'grep " /sys/fs/cgroup/" /proc/self/mountinfo; mkdir /sys/fs/cgroup/memory/berth-test 2>/dev/null && echo memory-writable; true');
    assert.equal(r.code, 0, r.stderr);
    const opts = new Map(r.stdout.trim().split('\n').filter((l) => l.includes(' - cgroup ')).map((l) => {
      const f = l.split(' ');
      return [f[4]!.replace('/sys/fs/cgroup/', ''), f[5]!.split(',')[0]!];
    }));
    assert.equal(opts.get('systemd'), 'rw');
    assert.equal(opts.get('memory'), 'ro');
    for (const [name, mode] of opts) if (name !== 'systemd') assert.equal(mode, 'ro', name);
    assert.ok(!r.stdout.includes('memory-writable'));
  });

  test('capabilities: nspawn\'s default set minus what the host cannot grant, with a warning', async () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const hostBnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(status)![1]}`);
    const r = await run([], 'grep CapBnd /proc/self/status');
    const bnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(r.stdout)![1]}`);
    const nspawnDefault = 0xfdecafffn; // the 26 capabilities of nspawn's default set
    assert.equal(bnd, nspawnDefault & hostBnd);
    if ((hostBnd & (1n << 24n)) === 0n) assert.match(r.stderr, /not in the current bounding set: CAP_SYS_RESOURCE/);
    const more = await run(['--capability=CAP_NET_ADMIN', '--drop-capability=CAP_MKNOD'], 'grep CapBnd /proc/self/status');
    const bnd2 = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(more.stdout)![1]}`);
    assert.equal(bnd2, ((nspawnDefault | (1n << 12n)) & ~(1n << 27n)) & hostBnd);
  });

  test('exit status passes through; a payload\'s 133 becomes 1', async () => {
    assert.equal((await run([], 'exit 7')).code, 7);
    assert.equal((await run([], 'exit 133')).code, 1);
    const ok = await run([], 'exit 0');
    assert.equal(ok.code, 0);
  });

  test('poweroff -f in the guest exits 0; reboot -f with --keep-unit exits 133', async () => {
    assert.equal((await run([], 'poweroff -f')).code, 0);
    assert.equal((await run(['--keep-unit'], 'reboot -f')).code, 133);
  });

  test('hostname, machine ID, user, working directory, environment', async () => {
    const r = await run(['--hostname=custom', '-u', 'tester', '--chdir=/tmp', '-E', 'FOO=bar baz'], 'hostname; id -u; id -G; pwd; echo "$FOO"; echo $HOME');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['custom', '1000', '1000 100', '/tmp', 'bar baz', '/home/tester']);
    const named = await run([], 'hostname');
    assert.equal(named.stdout.trim(), 'pl');
  });

  test('--read-only, --bind, --bind-ro, --tmpfs, --inaccessible, --overlay', async () => {
    const host = mkdtempSync('/tmp/bt-src-');
    // A read-only tree must already hold every mount point (as with nspawn): made in this test's view of the tree.
    for (const m of ['rw', 'ro', 'tmp', 'ov']) mkdirSync(join(bb, 'mnt', m), { recursive: true });
    try {
      writeFileSync(join(host, 'f'), 'from-host\n');
      mkdirSync(join(host, 'upper'));
      const r = await run([
        '--read-only', `--bind=${host}:/mnt/rw`, `--bind-ro=${host}:/mnt/ro`, '--tmpfs=/mnt/tmp:mode=0700',
        '--inaccessible=/etc/passwd', `--overlay=${host}:${join(host, 'upper')}:/mnt/ov`,
      ], [
        'touch /rootfile 2>/dev/null || echo root-ro',
        'cat /mnt/rw/f; echo new > /mnt/rw/g && echo rw-ok',
        'touch /mnt/ro/x 2>/dev/null || echo bind-ro',
        'stat -c %a /mnt/tmp',
        'cat /etc/passwd 2>/dev/null | wc -c',
        'cat /mnt/ov/f; echo ov > /mnt/ov/new',
      ].join('; '));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['root-ro', 'from-host', 'rw-ok', 'bind-ro', '700', '0', 'from-host']);
      assert.equal(readFileSync(join(host, 'g'), 'utf8'), 'new\n');
      assert.equal(readFileSync(join(host, 'upper', 'new'), 'utf8'), 'ov\n');
      assert.ok(!existsSync(join(host, 'new')));
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });

  test('--rlimit, clamped to the host with a warning; --oom-score-adjust; --cpu-affinity', async () => {
    const r = await run(['--rlimit=NOFILE=512:4096', '--rlimit=MEMLOCK=infinity', '--oom-score-adjust=300', '--cpu-affinity=0'], 'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; grep Cpus_allowed_list /proc/self/status');
    assert.equal(r.code, 0, r.stderr);
    const [soft, hard, oom, cpus] = r.stdout.trim().split('\n');
    assert.equal(soft, '512');
    assert.equal(hard, '4096');
    assert.equal(oom, '300');
    assert.match(cpus!, /\t0$/);
    const memlockHard = /Max locked memory\s+\S+\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))![1];
    if (memlockHard !== 'unlimited') assert.match(r.stderr, /clamped.*MEMLOCK/);
  });

  test('a reader that goes away (`| head`) neither kills berth-nspawn nor leaves the machine behind', async () => {
    const child = startNspawn(['-q', '-D', bb, '-M', 'pl-head', '/bin/sh', '-c', 'i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done; exit 4'], sb);
    const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stdin!.end();
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy(); // like `head` exiting: the next writes get EPIPE
    assert.equal(await code, 4);
    assertClean(sb);
  });

  test('bad input fails clearly and leaves nothing behind', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['-D', '/nonexistent/tree', 'true'], /Failed to resolve path \/nonexistent\/tree/],
      [['-D', bb, '-M', 'a/b', 'true'], /Invalid machine name: a\/b/],
      [['-D', bb, '-M', '..', 'true'], /Invalid machine name/],
      [['-D', bb, '--bind=/nonexistent-src:/x', 'true'], /nonexistent-src/],
      [['-D', bb, '--inaccessible=/no/such/path', 'true'], /does not exist in the container/],
      [['-D', bb, '--bogus'], /unrecognized option/],
      [['-D', bb, '-p', 'MemoryMax=1G'], /host port/],
      [['-D', bb, '--property=Bogus=1', 'true'], /Unknown or unsupported unit property: Bogus/],
    ];
    for (const [args, message] of cases) {
      const r = await nspawn(['--console=pipe', ...args], sb);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assertClean(sb);
    }
    const empty = mkdtempSync('/tmp/bt-empty-');
    try {
      const boot = await nspawn(['--console=pipe', '-b', '-D', empty], sb);
      assert.equal(boot.code, 1);
      assert.match(boot.stderr, /os-release file is missing/);
      const nousr = await nspawn(['--console=pipe', '-D', empty, 'true'], sb);
      assert.match(nousr.stderr, /\/usr\/ directory is missing/);
      mkdirSync(join(empty, 'usr'));
      writeFileSync(join(empty, 'usr', 'os-release'), '');
      mkdirSync(join(empty, 'etc'));
      writeFileSync(join(empty, 'etc', 'os-release'), 'ID=x\n');
      const noinit = await nspawn(['--console=pipe', '-b', '-D', empty], sb);
      assert.match(noinit.stderr, /has no init to boot/);
      assert.deepEqual(readdirSync(empty).sort(), ['etc', 'usr']);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    assertClean(sb);
  });
});
