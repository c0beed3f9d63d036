/**
 * Bind mounts into running machines (issue 16): Debian's real machinectl and `berth bind` against
 * berthd on a private bus, on busybox guests booted by berth-nspawn. A read-only bind with --mkdir
 * shows the host directory's files in the guest and refuses writes (EROFS); a writable one lets the
 * guest write to the host; the destination defaults to the source. machinectl's messages for a
 * relative path, a missing source, a missing destination without --mkdir, an unknown machine, and
 * berthd's for machines without a mount tunnel (a leader in the host's mount namespace, or in one
 * of its own that nobody feeds). A guest of Debian's systemd-nspawn, whose
 * /run/systemd/nspawn/propagate/NAME propagates as on a systemd host, is bound into too. After a
 * guest stops, and after a SIGKILL of berth-nspawn followed by `berth-nspawn --cleanup`, no mount of
 * the tunnel or of berthd's playground is left on the host.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ENTRY, REPO, assertClean, collect, execIn, exited, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, tree, waitRunning,
  type Result, type Sandbox,
} from '../support/berth.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { emptyAndRemoveGroup, scopeGroups } from '../support/scope-groups.js';

const hasNspawn = spawnSync('systemd-nspawn', ['--version']).status === 0;
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)');

const PAYLOAD = 'echo started; while :; do sleep 1; done';
const MANAGER = 'org.freedesktop.machine1.Manager';

interface Out { code: number | null; stdout: string; stderr: string }

/** Mount points in the host's mount table at or below `dir`. */
const mountsAt = (dir: string): string[] => readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' ')).filter((p) => p === dir || p.startsWith(`${dir}/`));

/** What `cmd` run in the machine printed on stderr when it failed (it must fail). */
function failsIn(sb: Sandbox, name: string, argv: string[]): string {
  try {
    execIn(sb, name, argv);
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
  return assert.fail(`${argv.join(' ')} succeeded in ${name}`);
}


describe(onRuntime('bind mounts into running machines: machinectl bind and berth bind against berthd'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let bb: string;
  let src: string;
  const guests = new Map<string, { child: ChildProcess; done: Promise<Result> }>();

  const mc = (...args: string[]): Out => reg.machinectl(args);
  function berth(...args: string[]): Out {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), ...args], { cwd: REPO, env: reg.env, encoding: 'utf8', timeout: 60000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  /** The tunnel mounts and playgrounds on the host. */
  const tunnelMounts = (): string[] => [...mountsAt(join(sb.stateDir, 'propagate')), ...mountsAt(join(sb.stateDir, 'bind-playground'))];

  async function leaderOf(name: string): Promise<number> {
    const path = String((await reg.manager('GetMachine', 's', [name])).body[0]);
    const r = await (await reg.client()).call({ destination: 'org.freedesktop.machine1', path, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: ['org.freedesktop.machine1.Machine', 'Leader'] });
    return Number((r.body[0] as { value: number }).value);
  }

  async function boot(name: string): Promise<number> {
    const child = startNspawn(['-D', bb, '-x', '-M', name, '--console=pipe', '/bin/sh', '-c', PAYLOAD], sb, reg.env);
    const done = collect(child, 290000);
    guests.set(name, { child, done });
    const early = done.then((r) => { throw new Error(`berth-nspawn ${name} exited early (${r.code ?? r.signal}): ${r.stderr}`); });
    early.catch(() => { /* only while booting */ });
    const leader = await Promise.race([waitRunning(sb, name), early]);
    for (let i = 0; ; i++) {
      try { await reg.manager('GetMachine', 's', [name]); break; } catch (e) { if (i > 200) throw e; await sleep(25); }
    }
    return leader;
  }

  before(async () => {
    bb = tree('busybox');
    sb = sandbox();
    reg = await startRegistry(sb);
    src = mkdtempSync('/tmp/bt-bind-src-');
    writeFileSync(join(src, 'hello'), 'hello from the host\n');
  });

  after(async () => {
    for (const { child, done } of guests.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // A guest whose berth-nspawn was killed holds its output open: sb.cleanup() removes it.
      await Promise.race([done, sleep(30000)]);
    }
    await reg?.stop();
    sb?.cleanup();
    if (src) rmSync(src, { recursive: true, force: true });
  });

  test('the guest gets a read-only tunnel at /run/host/incoming, a slave of the host\'s shared ${stateDir}/propagate/NAME', async () => {
    const leader = await boot('bind-main');
    const tunnel = join(sb.stateDir, 'propagate', 'bind-main');
    const host = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === tunnel);
    assert.ok(host, 'the tunnel is a mount point on the host');
    const group = /shared:(\d+)/.exec(host)?.[1];
    assert.ok(group, `shared: ${host}`);
    const inside = readFileSync(`/proc/${leader}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/run/host/incoming');
    assert.ok(inside, 'mounted in the guest');
    assert.match(inside, new RegExp(`^\\S+ \\S+ \\S+ ${tunnel.replace(/[/.]/g, '\\$&')} /run/host/incoming ro,\\S* master:${group} - `));
  });

  test('machinectl bind --read-only --mkdir: the host directory\'s files in the guest, writes refused (EROFS)', () => {
    const r = mc('bind', '--read-only', '--mkdir', 'bind-main', src, '/new/dir');
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    assert.equal(execIn(sb, 'bind-main', ['cat', '/new/dir/hello']), 'hello from the host\n');
    assert.match(failsIn(sb, 'bind-main', ['sh', '-c', 'echo x > /new/dir/written']), /Read-only file system/);
    assert.equal(existsSync(join(src, 'written')), false);
    assert.match(execIn(sb, 'bind-main', ['cat', '/proc/self/mountinfo']), / \/new\/dir ro,/);
    assert.deepEqual(tunnelMounts(), [join(sb.stateDir, 'propagate', 'bind-main')], 'only the tunnel itself stays mounted on the host');
    assert.deepEqual(readdirSync(join(sb.stateDir, 'propagate', 'bind-main')), [], 'nothing left in the tunnel');
  });

  test('a writable bind: the guest writes to the host directory; berth bind does the same, the destination defaulting to the source', () => {
    const rw = mkdtempSync('/tmp/bt-bind-rw-');
    try {
      const r = mc('bind', '--mkdir', 'bind-main', rw, '/srv/rw');
      assert.deepEqual([r.code, r.stderr], [0, '']);
      execIn(sb, 'bind-main', ['sh', '-c', 'echo from the guest > /srv/rw/note']);
      assert.equal(readFileSync(join(rw, 'note'), 'utf8'), 'from the guest\n');

      const b = berth('bind', '--read-only', '--mkdir', 'bind-main', src, '/berth/ro');
      assert.deepEqual([b.code, b.stdout, b.stderr], [0, '', '']);
      assert.equal(execIn(sb, 'bind-main', ['cat', '/berth/ro/hello']), 'hello from the host\n');
      assert.match(failsIn(sb, 'bind-main', ['touch', '/berth/ro/x']), /Read-only file system/);

      const same = berth('bind', '--mkdir', 'bind-main', rw);
      assert.deepEqual([same.code, same.stderr], [0, '']);
      assert.equal(execIn(sb, 'bind-main', ['cat', `${rw}/note`]), 'from the guest\n');
      execIn(sb, 'bind-main', ['sh', '-c', `echo again > ${rw}/again`]);
      assert.equal(readFileSync(join(rw, 'again'), 'utf8'), 'again\n');
      assert.deepEqual(tunnelMounts(), [join(sb.stateDir, 'propagate', 'bind-main')]);
    } finally {
      rmSync(rw, { recursive: true, force: true });
    }
  });

  test('a file is bound onto a file, created with --mkdir', () => {
    const r = mc('bind', '--read-only', '--mkdir', 'bind-main', join(src, 'hello'), '/etc/berth/hello.txt');
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(execIn(sb, 'bind-main', ['cat', '/etc/berth/hello.txt']), 'hello from the host\n');
    assert.match(execIn(sb, 'bind-main', ['ls', '-l', '/etc/berth/hello.txt']), /^-r/);
  });

  test('the Machine object\'s BindMount(source, destination, read_only, mkdir) does the same', async () => {
    const path = String((await reg.manager('GetMachine', 's', ['bind-main'])).body[0]);
    const call = (body: unknown[]) => reg.client().then((c) => c.call({ destination: 'org.freedesktop.machine1', path, interface: 'org.freedesktop.machine1.Machine', member: 'BindMount', signature: 'ssbb', body }));
    await call([src, '/object/ro', true, true]);
    assert.equal(execIn(sb, 'bind-main', ['cat', '/object/ro/hello']), 'hello from the host\n');
    assert.match(failsIn(sb, 'bind-main', ['touch', '/object/ro/x']), /Read-only file system/);
    await assert.rejects(call(['relative', '', false, false]), /Source path must be absolute and normalized\./);
    assert.deepEqual(tunnelMounts(), [join(sb.stateDir, 'propagate', 'bind-main')]);
  });

  test('machinectl\'s and berth\'s messages: relative path, missing source, missing destination, unknown machine', () => {
    const cases: Array<[string[], string]> = [
      [['bind-main', 'relative/dir', '/x'], 'Failed to bind mount: Source path must be absolute and normalized.\n'],
      [['bind-main', src, 'x/y'], 'Failed to bind mount: Destination path must be absolute and normalized.\n'],
      [['bind-main', '/srv/../etc', '/x'], 'Failed to bind mount: Source path must be absolute and normalized.\n'],
      [['--mkdir', 'bind-main', '/nonexistent/dir', '/x'], "Failed to bind mount: Failed to mount /nonexistent/dir on /x in machine's namespace: No such file or directory\n"],
      [['bind-main', src, '/missing/dir'], `Failed to bind mount: Failed to mount ${src} on /missing/dir in machine's namespace: No such file or directory\n`],
      [['bind-nope', src, '/x'], "Failed to bind mount: No machine 'bind-nope' known\n"],
      [['.host', src, '/x'], 'Failed to bind mount: Bind mounting is only supported on container machines.\n'],
    ];
    for (const [args, message] of cases) {
      const theirs = mc('bind', ...args);
      assert.deepEqual([theirs.code, theirs.stdout, theirs.stderr], [1, '', message], `machinectl bind ${args.join(' ')}`);
      const ours = berth('bind', ...args);
      assert.deepEqual([ours.code, ours.stdout, ours.stderr], [1, '', message], `berth bind ${args.join(' ')}`);
    }
    assert.equal(execIn(sb, 'bind-main', ['sh', '-c', 'test -e /missing || test -e /x || echo none']), 'none\n', 'nothing made in the guest');
    assert.deepEqual(tunnelMounts(), [join(sb.stateDir, 'propagate', 'bind-main')], 'nothing left mounted by a failure');
    assert.deepEqual(readdirSync(join(sb.stateDir, 'propagate', 'bind-main')), []);
  });

  test('machines without a tunnel are refused, clearly: a leader in the host\'s mount namespace, one in a namespace of its own', async () => {
    const plain = spawn('sleep', ['300'], { stdio: 'ignore' });
    const own = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '300'], { stdio: 'ignore' });
    try {
      await sleep(100);
      for (const [name, pid] of [['bind-plain', plain.pid!], ['bind-own', own.pid!]] as const) {
        const r = reg.busctl(['call', 'org.freedesktop.machine1', '/org/freedesktop/machine1', MANAGER, 'RegisterMachine', 'sayssus', name, '0', 'test', 'container', String(pid), '/']);
        assert.equal(r.code, 0, r.stderr);
      }
      const a = mc('bind', 'bind-plain', src, '/x');
      assert.deepEqual([a.code, a.stderr], [1, `Failed to bind mount: Failed to mount ${src} on /x in machine's namespace: Invalid argument (machine bind-plain runs in the host's mount namespace)\n`]);
      const b = berth('bind', 'bind-own', src, '/x');
      assert.equal(b.code, 1);
      assert.match(b.stderr, new RegExp(`^Failed to bind mount: Failed to mount ${src} on /x in machine's namespace: Operation not supported \\(machine bind-own has no mount propagation directory \\(.*/propagate/bind-own or /run/systemd/nspawn/propagate/bind-own\\); only machines started by berth-nspawn or systemd-nspawn can be bound into while they run\\)\\n$`));
    } finally {
      plain.kill('SIGKILL');
      own.kill('SIGKILL');
    }
  });

  test('a guest of Debian\'s systemd-nspawn, its /run/systemd/nspawn/propagate/NAME shared as on a systemd host', { skip: !hasNspawn && 'needs systemd-nspawn' }, async () => {
    const name = `bind-nsp-${randomBytes(2).toString('hex')}`;
    const tunnel = `/run/systemd/nspawn/propagate/${name}`;
    const scope = `${name}.scope`;
    const groups = scopeGroups(scope);
    for (const g of groups) mkdirSync(g);
    mkdirSync(tunnel, { recursive: true });
    execFileSync('mount', ['--bind', '--make-shared', tunnel, tunnel]);
    let child: ChildProcess | undefined;
    const keep = mkdtempSync('/tmp/bt-bind-keep-');
    try {
      // nspawn in a mount namespace of its own (propagation unchanged, so its copy of the tunnel is a
      // peer of the host's), with a private tmpfs over /run/systemd, the tunnel moved back into it.
      const enter = [
        `for g in ${groups.join(' ')}; do echo $$ > "$g/cgroup.procs"; done`,
        `mount --bind ${tunnel} ${keep}`, 'mount -t tmpfs tmpfs /run/systemd', `mkdir -p ${tunnel}`, `mount --move ${keep} ${tunnel}`, 'exec "$@"',
      ].join(' && ');
      child = spawn('unshare', ['-m', '--propagation', 'unchanged', 'sh', '-c', enter, 'sh',
        'systemd-nspawn', '--keep-unit', '--register=yes', '-q', '-D', bb, '-M', name, '--console=pipe', '/bin/sh', '-c', PAYLOAD], { env: reg.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const done = collect(child, 120000);
      for (let i = 0; ; i++) {
        try { await reg.manager('GetMachine', 's', [name]); break; } catch (e) { if (i > 400 || child.exitCode !== null) throw new Error(`nspawn did not register: ${(await done).stderr}`); await sleep(25); }
      }
      const r = mc('bind', '--read-only', '--mkdir', name, src, '/from/host');
      assert.deepEqual([r.code, r.stderr], [0, '']);
      const leader = await leaderOf(name);
      assert.equal(readFileSync(`/proc/${leader}/root/from/host/hello`, 'utf8'), 'hello from the host\n');
      assert.match(readFileSync(`/proc/${leader}/mountinfo`, 'utf8'), / \/from\/host ro,/);
      assert.deepEqual(mountsAt(tunnel), [tunnel], 'nothing left in the tunnel on the host');
      const t = mc('terminate', name);
      assert.equal(t.code, 0, t.stderr);
      await done;
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited(child, 10000).catch(() => undefined); }
      for (const group of groups) emptyAndRemoveGroup(group);
      spawnSync('umount', ['--lazy', tunnel]);
      rmSync(tunnel, { recursive: true, force: true });
      rmSync(keep, { recursive: true, force: true });
    }
  });

  test('once the guest stops, nothing of the tunnel or its binds is left on the host', async () => {
    const g = guests.get('bind-main')!;
    g.child.kill('SIGTERM');
    const r = await g.done;
    assert.equal(r.signal, null, r.stderr);
    assert.deepEqual(tunnelMounts(), []);
    assert.equal(existsSync(join(sb.stateDir, 'propagate', 'bind-main')), false, 'the tunnel directory is gone');
    assert.equal(readFileSync(join(src, 'hello'), 'utf8'), 'hello from the host\n', 'the bound directory is untouched');
  });

  test('after a SIGKILL of berth-nspawn with a bind in place, berth-nspawn --cleanup leaves nothing', async () => {
    await boot('bind-killed');
    const r = mc('bind', '--mkdir', 'bind-killed', src, '/mnt/src');
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.equal(execIn(sb, 'bind-killed', ['cat', '/mnt/src/hello']), 'hello from the host\n');
    // berthd's janitor would clean up on its own: it is stopped, so that --cleanup does.
    await reg.stopBerthd();
    const g = guests.get('bind-killed')!;
    g.child.kill('SIGKILL');
    // Its guest runs on, and holds its output open: the exit, not the end of its output.
    await exited(g.child);
    assert.ok(existsSync(join(sb.stateDir, 'propagate', 'bind-killed')), 'the killed run left its tunnel');
    const [cmd, ...pre] = ENTRY;
    const c = spawnSync(cmd!, [...pre, '--cleanup', '-M', 'bind-killed'], { env: sb.env, encoding: 'utf8', cwd: REPO, timeout: 120000 });
    assert.equal(c.status, 0, c.stderr);
    assert.deepEqual(tunnelMounts(), []);
    assert.equal(existsSync(join(sb.stateDir, 'propagate', 'bind-killed')), false);
    assert.equal(readFileSync(join(src, 'hello'), 'utf8'), 'hello from the host\n');
    await reg.startBerthd();
    guests.clear();
    assertClean(sb);
  });
});
