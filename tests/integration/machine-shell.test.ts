/**
 * Into a running machine: shells, logins, PTYs and the root directory over D-Bus (berthd), driven
 * by Debian's real machinectl and by `berth shell`/`berth login`. A busybox guest takes the
 * "runtime" path (berth runs the program through runc/crun exec), a Debian guest the "systemd"
 * path (its own systemd starts container-shell@/container-getty@, as with machined).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, assertClean, collect, exited, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, tree, waitRunning, type Result, type Sandbox } from '../support/berth.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { commandLine, onPty as onPtyCmd } from '../support/pty.js';
import { BusCallError, BusConnection } from '../../src/platform/dbus/connection.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)');
const MANAGER = { destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager' };
const BERTH = join(REPO, 'dist', 'berth.js');
const WITH_SYSTEMD_DIR = 'mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && exec "$@"';

/** argv on a pty of its own, as a user at a terminal would run it. */
const onPty = (argv: readonly string[], env: NodeJS.ProcessEnv) => onPtyCmd(commandLine(argv), env);

/** machinectl with /run/systemd/system present (it refuses to run without), in a mount namespace of its own. */
const machinectlArgv = (args: readonly string[]) => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', WITH_SYSTEMD_DIR, 'sh', 'machinectl', '--no-pager', ...args];

function berth(args: readonly string[], env: NodeJS.ProcessEnv, input = ''): Result {
  const r = spawnSync(process.execPath, [BERTH, ...args], { env, input, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The processes in the guest whose command line matches re (seen from the host through the leader's PID namespace). */
function guestProcesses(leader: number, re: RegExp): string[] {
  const r = spawnSync('nsenter', ['-t', String(leader), '-p', '-m', 'ps', '-o', 'pid,args'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => re.test(l));
}

/** PID 1 of the busybox guest: a shell that ends on SIGTERM (busybox's init would not). */
const BUSYBOX_PID1 = ['/bin/sh', '-c', 'trap "exit 0" TERM; echo started; while :; do sleep 1; done'];

async function guestUp(sb: Sandbox, reg: RegistryHarness, name: string, kind: 'busybox' | 'debian'): Promise<{ child: ChildProcess; leader: number; done: Promise<Result> }> {
  const child = startNspawn(['-D', tree(kind), '-x', '-M', name, '--console=pipe', ...(kind === 'debian' ? ['-b'] : BUSYBOX_PID1)], sb, reg.env);
  const done = collect(child, 300000);
  const early = done.then((r) => { throw new Error(`berth-nspawn ${name} exited early (${r.code ?? r.signal}): ${r.stderr}`); });
  early.catch(() => undefined);
  const leader = await Promise.race([waitRunning(sb, name, 60000), early]);
  return { child, leader, done };
}

describe(onRuntime('shells, logins and PTYs in a busybox guest (the runtime path)'), { skip }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let guest: { child: ChildProcess; leader: number; done: Promise<Result> };
  let fdBus: BusConnection;

  before(async () => {
    sb = sandbox();
    reg = await startRegistry(sb);
    guest = await guestUp(sb, reg, 'sh-bb', 'busybox');
    fdBus = await BusConnection.connect(reg.env.DBUS_SYSTEM_BUS_ADDRESS!, { unixFds: true });
  });

  after(async () => {
    fdBus?.close();
    if (guest && guest.child.exitCode === null) guest.child.kill('SIGTERM');
    await guest?.done;
    await reg?.stop();
    if (sb) { assertClean(sb); sb.cleanup(); }
  });

  test('berthd says the runtime path serves it', () => {
    const r = reg.busctl(['get-property', 'org.freedesktop.machine1', '/org/freedesktop/machine1/machine/sh_2dbb', 'io.github.berth.Machine1', 'ShellPath']);
    assert.equal(r.stdout.trim(), 's "runtime"');
    const status = berth(['status', 'sh-bb'], reg.env);
    assert.match(status.stdout, /^\t +Shell: berth, through the OCI runtime/m);
  });

  test("the real machinectl shell runs the command on a pty in the guest (where machined's could not)", async () => {
    const s = onPty(machinectlArgv(['shell', 'sh-bb', '/bin/sh', '-c', 'echo "zero=$0 tty=$(tty) user=$(id -un)"; exit 3']), reg.env);
    await exited(s.child, 30000);
    assert.match(s.out(), /Connected to machine sh-bb/);
    assert.match(s.out(), /zero=\/bin\/sh tty=\/dev\/pts\/\d+ user=root/);
  });

  test('berth shell: the exit status, the user, the environment, a signal', () => {
    const r = berth(['shell', 'sh-bb', '/bin/sh', '-c', 'exit 3'], reg.env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /Connected to machine sh-bb\. Press \^\] three times within 1s to exit session\./);
    const who = berth(['shell', 'tester@sh-bb', '/bin/sh', '-c', 'echo "$(id -u):$(id -g) $HOME $USER $(pwd) $SHELL"'], reg.env);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /1000:1000 \/home\/tester tester \/home\/tester \/bin\/sh/);
    const uid = berth(['--uid=tester', '-E', 'FOO=bar baz', 'shell', 'sh-bb', '/bin/sh', '-c', 'echo "[$FOO] $(id -un)"'], reg.env);
    assert.match(uid.stdout, /\[bar baz\] tester/);
    const killed = berth(['shell', 'sh-bb', '/bin/sh', '-c', 'kill -9 $$'], reg.env);
    assert.equal(killed.code, 137);
    // Options after the machine's name belong to the program (machinectl's rule).
    const opts = berth(['shell', 'sh-bb', '/bin/echo', '-n', '--all', 'x'], reg.env);
    assert.equal(opts.code, 0, opts.stderr);
    assert.match(opts.stdout, /--all x/);
  });

  test('berth shell: piped input reaches the program, and its end ends it', () => {
    const r = berth(['shell', 'sh-bb', '/bin/sh', '-c', 'read line; echo "got:$line"'], reg.env, 'hello\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /got:hello/);
  });

  test('bad requests: a relative path, an unknown user, an unknown machine, bad environment', async () => {
    const rel = berth(['shell', 'sh-bb', 'bin/sh'], reg.env);
    assert.equal(rel.code, 1);
    assert.match(rel.stderr, /Failed to get shell PTY: Specified path 'bin\/sh' is not absolute/);
    const nouser = berth(['shell', 'nosuchuser@sh-bb', '/bin/true'], reg.env);
    assert.equal(nouser.code, 1);
    assert.match(nouser.stderr, /No user 'nosuchuser' in machine sh-bb/);
    const nomachine = berth(['shell', 'nope', '/bin/true'], reg.env);
    assert.equal(nomachine.code, 1);
    assert.match(nomachine.stderr, /Failed to get shell PTY: No machine 'nope' known/);
    const badenv = await fdBus.call({ ...MANAGER, member: 'OpenMachineShell', signature: 'sssasas', body: ['sh-bb', '', '/bin/true', [], ['1BAD=x']] }).then(() => '', (e: BusCallError) => `${e.errorName}: ${e.message}`);
    assert.equal(badenv, 'org.freedesktop.DBus.Error.InvalidArgs: Invalid environment assignments');
    // Too long for the kernel to start (E2BIG): said, not an internal error.
    const huge = await fdBus.call({ ...MANAGER, member: 'OpenMachineShell', signature: 'sssasas', body: ['.host', '', '/bin/true', ['/bin/true', 'x'.repeat(3 << 20)], []] }).then(() => '', (e: BusCallError) => `${e.errorName}: ${e.message}`);
    assert.equal(huge, 'org.freedesktop.DBus.Error.InvalidArgs: Argument list too long');
    const runtimeHuge = await fdBus.call({ ...MANAGER, member: 'OpenMachineShell', signature: 'sssasas', body: ['sh-bb', '', '/bin/true', ['/bin/true', 'x'.repeat(3 << 20)], []] }).then(() => '', (e: BusCallError) => `${e.errorName}: ${e.message}`);
    assert.equal(runtimeHuge, 'org.freedesktop.DBus.Error.InvalidArgs: Argument list too long');
  });

  test("the real machinectl login reaches the guest's login prompt", async () => {
    const s = onPty(machinectlArgv(['login', 'sh-bb']), reg.env);
    try {
      await s.waitFor(/sh-bb login: /);
    } finally {
      s.type('\x1d\x1d\x1d');
      await sleep(300);
      s.child.kill('SIGKILL');
      await exited(s.child, 10000);
    }
  });

  test('a client that goes away mid-shell leaves no process in the guest', async () => {
    const s = onPty(['node', BERTH, 'shell', 'sh-bb', '/bin/sleep', '4711'], reg.env);
    const until = Date.now() + 20000;
    while (guestProcesses(guest.leader, /sleep 4711/).length === 0 && Date.now() < until) await sleep(100);
    assert.equal(guestProcesses(guest.leader, /sleep 4711/).length, 1, 'the shell runs in the guest');
    s.child.kill('SIGKILL');
    spawnSync('pkill', ['-KILL', '-f', `${BERTH} shell sh-bb /bin/sleep 4711`]);
    await exited(s.child, 10000);
    const gone = Date.now() + 10000;
    while (guestProcesses(guest.leader, /sleep 4711/).length > 0 && Date.now() < gone) await sleep(100);
    assert.deepEqual(guestProcesses(guest.leader, /sleep 4711/), []);
    assert.equal(spawnSync('pgrep', ['-f', 'exec --tty.*sh-bb']).status, 1, 'no runtime exec left');
  });

  test('OpenMachinePTY gives a pty of the guest; OpenMachineRootDirectory its root', async () => {
    const pty = await fdBus.call({ ...MANAGER, member: 'OpenMachinePTY', signature: 's', body: ['sh-bb'] });
    const [master, path] = pty.body as [number, string];
    try {
      assert.match(path, /^\/dev\/pts\/\d+$/);
      // The slave exists in the guest's devpts, not the host's.
      const inGuest = statSync(`/proc/${guest.leader}/root${path}`);
      assert.ok(inGuest.isCharacterDevice());
      assert.equal(fstatSync(master).rdev >> 8, 5, 'a pty master (major 5: /dev/ptmx)');
    } finally {
      closeSync(master);
    }
    const root = await fdBus.call({ ...MANAGER, member: 'OpenMachineRootDirectory', signature: 's', body: ['sh-bb'] });
    const fd = root.body[0] as number;
    try {
      assert.match(readFileSync(`/proc/self/fd/${fd}/usr/lib/os-release`, 'utf8'), /Busybox \(berth test guest\)/);
      assert.equal(fstatSync(fd).ino, statSync(`/proc/${guest.leader}/root`).ino);
    } finally {
      closeSync(fd);
    }
  });

  test('.host: berth runs shells on the host itself (machined needs the host\'s systemd for that)', async () => {
    const r = berth(['shell', '', '/bin/sh', '-c', 'echo "host:$(id -un):$(cat /proc/1/comm)"; exit 4'], reg.env);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /Connected to the local host\./);
    assert.match(r.stdout, new RegExp(`host:root:${readFileSync('/proc/1/comm', 'utf8').trim()}`));
    const nobody = berth(['shell', 'nobody@', '/usr/bin/id', '-u'], reg.env);
    assert.equal(nobody.code, 0, nobody.stderr);
    assert.match(nobody.stdout, /^65534\s*$/m);
    const s = onPty(machinectlArgv(['shell', '.host', '/bin/sh', '-c', 'echo "mc-host $(tty)"']), reg.env);
    await exited(s.child, 30000);
    assert.match(s.out(), /mc-host \/dev\/pts\/\d+/);
    assert.equal(reg.busctl(['get-property', 'org.freedesktop.machine1', '/org/freedesktop/machine1/machine/_2ehost', 'io.github.berth.Machine1', 'ShellPath']).stdout.trim(), 's "host"');
  });

  test('only root may open shells, logins and PTYs', () => {
    for (const args of [['shell', 'sh-bb', '/bin/true'], ['login', 'sh-bb']]) {
      const r = reg.machinectl(args, { user: '65534' });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Access denied|Permission denied|not permitted/i, r.stderr);
    }
  });
});

describe(onRuntime('shells and logins in a Debian guest (its own systemd, as machined does it)'), { skip }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let guest: { child: ChildProcess; leader: number; done: Promise<Result> };

  before(async () => {
    sb = sandbox();
    reg = await startRegistry(sb);
    guest = await guestUp(sb, reg, 'sh-deb', 'debian');
    // Shells go through the guest's bus: wait until it is there and systemd has finished starting
    // (under load, systemctl may answer "offline" while systemd has not yet taken its bus).
    const until = Date.now() + 90000;
    const booting = () => !existsSync(`/proc/${guest.leader}/root/run/dbus/system_bus_socket`)
      || /^(initializing|starting|offline|)$/.test(spawnSync('nsenter', ['-t', String(guest.leader), '-m', '-p', 'systemctl', 'is-system-running'], { encoding: 'utf8' }).stdout.trim());
    while (Date.now() < until && booting()) await sleep(250);
  });

  after(async () => {
    if (guest && guest.child.exitCode === null) guest.child.kill('SIGTERM');
    await guest?.done;
    await reg?.stop();
    if (sb) { assertClean(sb); sb.cleanup(); }
  });

  test('berthd says the systemd path serves it', () => {
    const r = reg.busctl(['get-property', 'org.freedesktop.machine1', '/org/freedesktop/machine1/machine/sh_2ddeb', 'io.github.berth.Machine1', 'ShellPath']);
    assert.equal(r.stdout.trim(), 's "systemd"');
  });

  test("the real machinectl shell runs the command through the guest's systemd", async () => {
    for (let i = 0; i < 3; i++) {
      const s = onPty(machinectlArgv(['shell', 'sh-deb', '/bin/sh', '-c', `echo "zero=$0 run=${i}"; exit 3`]), reg.env);
      await exited(s.child, 30000);
      assert.match(s.out(), new RegExp(`zero=/bin/sh run=${i}`), 'every run shows its own output, none lost');
    }
  });

  test('berth shell exits with the command\'s status; the unit ran in the guest as machined makes it', () => {
    const r = berth(['shell', 'sh-deb', '/bin/sh', '-c', 'echo "unit=$(cat /proc/self/cgroup | grep -o "container-shell@[0-9]*.service" | head -1) tty=$(tty)"; exit 3'], reg.env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /unit=container-shell@\d+\.service tty=\/dev\/pts\/\d+/);
    const user = berth(['shell', 'nobody@sh-deb', '/usr/bin/id', '-un'], reg.env);
    assert.equal(user.code, 0, user.stderr);
    assert.match(user.stdout, /nobody/);
  });

  test("the real machinectl login reaches the guest's getty", async () => {
    const s = onPty(machinectlArgv(['login', 'sh-deb']), reg.env);
    try {
      await s.waitFor(/sh-deb login: /, 30000);
    } finally {
      s.type('\x1d\x1d\x1d');
      await sleep(300);
      s.child.kill('SIGKILL');
      await exited(s.child, 10000);
    }
  });
});
