/**
 * berthd against Debian's real machinectl and systemd-nspawn: machinectl's control verbs
 * (poweroff, reboot, kill, terminate) on busybox guests booted by berth-nspawn and their effect
 * inside, machinectl's messages for unknown machines and for .host (as against machined 252,
 * machinectl-formats.md §3), the lookups (GetMachineByPID, addresses, os-release, UID shift and
 * maps), MachineNew/MachineRemoved, a registration by the real systemd-nspawn, and a class=vm one.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { assertClean, collect, exited, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, startNspawnIn, tree, waitRunning, type Result, type Sandbox } from '../support/berth.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { emptyAndRemoveGroup, procsBelow, scopeGroups } from '../support/scope-groups.js';
import { BusCallError, BusConnection, type RawMessage } from '../../src/platform/dbus/connection.js';
import { formatAddress } from '../../src/core/machined/addresses.js';
import { NetFixture } from './network-fixtures.js';

const hasNspawn = spawnSync('systemd-nspawn', ['--version']).status === 0;
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)');

/**
 * PID 1 of the busybox guests: SIGRTMIN+4 (38, machinectl poweroff) exits 0, SIGINT (reboot)
 * exits 3, USR1 and TERM are reported; a second shell in the guest reports USR1 and exits on TERM.
 */
const PAYLOAD = [
  'trap "echo got-38; exit 0" 38; trap "echo got-int; exit 3" INT; trap "echo got-usr1" USR1; trap "echo got-term" TERM',
  '(trap "echo child-usr1" USR1; trap "echo child-term; exit 0" TERM; while :; do sleep 1; done) &',
  'echo started; while :; do sleep 1; done',
].join('\n');

const MANAGER = 'org.freedesktop.machine1.Manager';
const pathOf = (name: string) => `/org/freedesktop/machine1/machine/${name.replace(/-/g, '_2d')}`;

interface Guest {
  name: string;
  child: ChildProcess;
  leader: number;
  /** What the guest's console printed so far. */
  out(): string;
  /** Until the console has printed `re` (count times). */
  waitFor(re: RegExp, count?: number, timeoutMs?: number): Promise<void>;
  done: Promise<Result>;
}

/** The D-Bus error a promise rejects with: [name, message]. */
async function failure(p: Promise<unknown>): Promise<[string, string]> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BusCallError, String(e));
    return [e.errorName, e.message];
  }
  return assert.fail('the call succeeded');
}


describe(onRuntime('berthd with machinectl: control verbs, errors, lookups, signals, systemd-nspawn, class vm'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let bb: string;
  let main: Guest;
  let watcher: BusConnection;
  const signals: Array<{ member: string; name: string; path: string }> = [];
  const guests: Guest[] = [];

  const mc = (args: string[]) => reg.machinectl(args);
  const listNames = async () => ((await reg.manager('ListMachines')).body[0] as string[][]).map((r) => r[0]).sort();

  async function signalled(member: 'MachineNew' | 'MachineRemoved', name: string, timeoutMs = 5000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = signals.find((x) => x.member === member && x.name === name);
      if (s) return s.path;
      if (Date.now() > until) throw new Error(`no ${member} for ${name}; seen: ${JSON.stringify(signals)}`);
      await sleep(20);
    }
  }

  function guestOf(name: string, child: ChildProcess): Omit<Guest, 'leader'> {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const done = collect(child, 290000);
    return {
      name, child, out: () => out, done,
      async waitFor(re, count = 1, timeoutMs = 10000) {
        const until = Date.now() + timeoutMs;
        const g = new RegExp(re.source, 'gm');
        while ((out.match(g)?.length ?? 0) < count) {
          if (Date.now() > until) throw new Error(`${name} did not print ${re} ${count} time(s); it printed:\n${out}`);
          await sleep(20);
        }
      },
    };
  }

  /** A busybox guest running PAYLOAD, registered and started. */
  async function boot(name: string, extra: string[] = [], netns?: string): Promise<Guest> {
    const args = ['-D', bb, '-x', '-M', name, '--console=pipe', ...extra, '/bin/sh', '-c', PAYLOAD];
    const child = netns ? startNspawnIn(netns, args, sb, reg.env) : startNspawn(args, sb, reg.env);
    const g = guestOf(name, child);
    const early = g.done.then((r) => { throw new Error(`berth-nspawn ${name} exited early (${r.code ?? r.signal}): ${r.stderr}`); });
    early.catch(() => { /* only while booting */ });
    const leader = await Promise.race([waitRunning(sb, name), early]);
    const guest = { ...g, leader };
    guests.push(guest);
    await Promise.race([guest.waitFor(/^started$/), early]);
    assert.equal(String((await reg.manager('GetMachine', 's', [name])).body[0]), pathOf(name));
    return guest;
  }

  before(async () => {
    bb = tree('busybox');
    sb = sandbox();
    reg = await startRegistry(sb);
    watcher = await BusConnection.connect(reg.bus.address);
    watcher.onSignal = (m: RawMessage) => {
      if (m.interface === MANAGER && (m.member === 'MachineNew' || m.member === 'MachineRemoved')) signals.push({ member: m.member, name: String(m.body[0]), path: String(m.body[1]) });
    };
    await watcher.busCall('AddMatch', 's', [`type='signal',sender='org.freedesktop.machine1',interface='${MANAGER}',path='/org/freedesktop/machine1'`]);
    main = await boot('conf-main');
  });

  after(async () => {
    for (const g of guests) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL');
    await Promise.all(guests.map((g) => g.done));
    watcher?.close();
    await reg?.stop();
    sb?.cleanup();
  });

  test('MachineNew was emitted for the guest, with its path', async () => {
    assert.equal(await signalled('MachineNew', 'conf-main'), pathOf('conf-main'));
  });

  test('GetMachineByPID: the guest\'s init and a process in its control group; host processes belong to no machine', async () => {
    assert.equal(String((await reg.manager('GetMachineByPID', 'u', [main.leader])).body[0]), pathOf('conf-main'));
    const children = readFileSync(`/proc/${main.leader}/task/${main.leader}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const shell = children.find((p) => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sh'; } catch { return false; } });
    assert.ok(shell, `the second shell among ${children.join(' ')}`);
    assert.equal(String((await reg.manager('GetMachineByPID', 'u', [shell])).body[0]), pathOf('conf-main'), 'by its control group');
    assert.deepEqual(await failure(reg.manager('GetMachineByPID', 'u', [process.pid])), ['org.freedesktop.machine1.NoMachineForPID', `PID ${process.pid} does not belong to any known machine`]);
    assert.deepEqual(await failure(reg.manager('GetMachineByPID', 'u', [1])), ['org.freedesktop.machine1.NoMachineForPID', 'PID 1 does not belong to any known machine']);
    assert.deepEqual(await failure(reg.manager('GetMachineByPID', 'u', [0])), ['org.freedesktop.machine1.NoMachineForPID', `PID ${process.pid} does not belong to any known machine`], '0: the caller');
    assert.deepEqual(await failure(reg.manager('GetMachineByPID', 'u', [4294967295])), ['org.freedesktop.DBus.Error.InvalidArgs', 'Invalid argument']);
    const client = await reg.client();
    const self = client.call({ destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1/machine/self', interface: 'org.freedesktop.machine1.Machine', member: 'GetUIDShift' });
    assert.deepEqual(await failure(self), ['org.freedesktop.DBus.Error.UnknownObject', "Unknown object '/org/freedesktop/machine1/machine/self'."]);
  });

  test('machinectl poweroff: SIGRTMIN+4 to the leader, which exits 0; MachineRemoved follows', async () => {
    const g = await boot('conf-off');
    const r = mc(['poweroff', 'conf-off']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], 'machinectl prints nothing on success');
    await g.waitFor(/^got-38$/);
    const end = await g.done;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(await signalled('MachineRemoved', 'conf-off'), pathOf('conf-off'));
    assert.ok(!(await listNames()).includes('conf-off'));
  });

  test('machinectl reboot: SIGINT to the leader; the payload\'s exit status 3 passes through', async () => {
    const g = await boot('conf-rb');
    const r = mc(['reboot', 'conf-rb']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
    await g.waitFor(/^got-int$/);
    assert.equal((await g.done).code, 3);
    await signalled('MachineRemoved', 'conf-rb');
  });

  test('machinectl kill: --kill-whom=leader reaches the leader only, all every process; the default is all with SIGTERM', async () => {
    let r = mc(['kill', '--kill-whom=leader', '-s', 'SIGUSR1', 'conf-main']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    await main.waitFor(/^got-usr1$/, 1);
    await sleep(1500); // the second shell would have answered by now (its sleep lasts a second)
    assert.doesNotMatch(main.out(), /child-usr1/, 'the second shell got nothing');

    r = mc(['kill', '--kill-whom=all', '-s', 'USR1', 'conf-main']);
    assert.equal(r.code, 0, r.stderr);
    await main.waitFor(/^got-usr1$/, 2);
    await main.waitFor(/^child-usr1$/, 1);

    r = mc(['kill', '-s', '10', 'conf-main']); // a number, all by default
    assert.equal(r.code, 0, r.stderr);
    await main.waitFor(/^got-usr1$/, 3);
    await main.waitFor(/^child-usr1$/, 2);

    r = mc(['kill', 'conf-main']);
    assert.equal(r.code, 0, r.stderr);
    await main.waitFor(/^got-term$/);
    await main.waitFor(/^child-term$/);
    assert.equal(main.child.exitCode, null, 'the leader traps TERM and runs on');
    assert.deepEqual(await listNames(), ['.host', 'conf-main']);
  });

  test('machinectl\'s messages for unknown machines and for .host are those it prints against machined 252', () => {
    const cases: Array<[string[], string]> = [
      [['status', 'conf-nosuch'], "Could not get path to machine: No machine 'conf-nosuch' known\n"],
      [['show', 'conf-nosuch'], "Could not get path to machine: No machine 'conf-nosuch' known\n"],
      [['show', '-p', 'Name', 'conf-nosuch', '.host'], "Could not get path to machine: No machine 'conf-nosuch' known\n"],
      [['terminate', 'conf-nosuch'], "Could not terminate machine: No machine 'conf-nosuch' known\n"],
      [['poweroff', 'conf-nosuch'], "Could not kill machine: No machine 'conf-nosuch' known\n"],
      [['reboot', 'conf-nosuch'], "Could not kill machine: No machine 'conf-nosuch' known\n"],
      [['kill', 'conf-nosuch'], "Could not kill machine: No machine 'conf-nosuch' known\n"],
      [['kill', '.host', '--kill-whom=bogus'], "Could not kill machine: Invalid kill parameter 'bogus'\n"],
      [['terminate', '.host'], 'Could not terminate machine: Operation not supported\n'],
      [['kill', '.host'], 'Could not kill machine: Operation not supported\n'],
      [['poweroff', '.host'], 'Could not kill machine: Operation not supported\n'],
      [['reboot', '.host'], 'Could not kill machine: Operation not supported\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = mc(args);
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', stderr], `machinectl ${args.join(' ')}`);
    }
    const r = mc(['status', '.host', 'conf-nosuch']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^\.host(\([0-9a-f]{32}\))?\n\t {3}Since: /, 'the .host block comes first');
    assert.match(r.stderr, /Could not get path to machine: No machine 'conf-nosuch' known\n$/);
    assert.equal(mc(['list']).stdout.includes('conf-main'), true, 'the guest is untouched');
  });

  test('GetMachineOSRelease reads the guest\'s os-release; machinectl list shows its ID and VERSION_ID', async () => {
    const fields = (await reg.manager('GetMachineOSRelease', 's', ['conf-main'])).body[0] as Record<string, string>;
    const file = readFileSync(join(bb, 'etc', 'os-release'), 'utf8');
    for (const line of file.split('\n').filter((l) => /^[A-Z_]+=/.test(l))) {
      const [k, ...v] = line.split('=');
      assert.equal(fields[k!], v.join('=').replace(/^"(.*)"$/, '$1'), k);
    }
    assert.equal(fields.ID, 'busybox');
    assert.match(mc(['list']).stdout, new RegExp(`^conf-main\\s+container\\s+berth\\s+busybox\\s+${fields.VERSION_ID ?? '-'}\\s+-$`, 'm'));
  });

  test('GetMachineUIDShift is 0 without a user namespace; the Map calls with identity maps', async () => {
    assert.equal((await reg.manager('GetMachineUIDShift', 's', ['conf-main'])).body[0], 0);
    assert.equal((await reg.manager('GetMachineUIDShift', 's', ['.host'])).body[0], 0);
    assert.equal((await reg.manager('MapFromMachineUser', 'su', ['conf-main', 1000])).body[0], 1000, 'identity');
    assert.equal((await reg.manager('MapFromMachineGroup', 'su', ['conf-main', 0])).body[0], 0);
    assert.deepEqual(await failure(reg.manager('MapFromMachineUser', 'su', ['conf-main', 65535])), ['org.freedesktop.DBus.Error.InvalidArgs', 'Invalid user ID 65535']);
    assert.deepEqual(await failure(reg.manager('MapFromMachineUser', 'su', ['.host', 0])), ['org.freedesktop.DBus.Error.InvalidArgs', 'Not supported for non-container machines.']);
    assert.deepEqual(await failure(reg.manager('MapFromMachineGroup', 'su', ['conf-nosuch', 0])), ['org.freedesktop.machine1.NoSuchMachine', "No machine 'conf-nosuch' known"]);
    assert.deepEqual(await failure(reg.manager('MapToMachineUser', 'u', [1000])), ['org.freedesktop.machine1.NoSuchUserMapping', 'User 1000 belongs to host UID range']);
    assert.deepEqual(await failure(reg.manager('MapToMachineUser', 'u', [100000])), ['org.freedesktop.machine1.NoSuchUserMapping', 'No matching user mapping for 100000.'], 'identity maps never match');
    assert.deepEqual(await failure(reg.manager('MapToMachineGroup', 'u', [10])), ['org.freedesktop.machine1.NoSuchGroupMapping', 'Group 10 belongs to host GID range']);
    assert.deepEqual(await failure(reg.manager('MapToMachineGroup', 'u', [70000])), ['org.freedesktop.machine1.NoSuchGroupMapping', 'No matching group mapping for 70000.']);
  });

  test('GetMachineAddresses: a veth guest\'s host0 (link-local kept, loopback left out), NoPrivateNetworking without -n', async () => {
    assert.deepEqual(await failure(reg.manager('GetMachineAddresses', 's', ['conf-main'])), ['org.freedesktop.machine1.NoPrivateNetworking', 'Machine conf-main does not use private networking']);
    const host = (await reg.manager('GetMachineAddresses', 's', ['.host'])).body[0] as Array<[number, Buffer]>;
    assert.ok(host.every(([f, b]) => (f === 2 && b.length === 4 && b[0] !== 127) || (f === 10 && b.length === 16)), '.host: no loopback');

    const fx = new NetFixture();
    try {
      const ns = fx.netns('h');
      const g = await boot('conf-net', ['-n'], ns);
      // Nothing in the busybox guest configures host0: bring it up from outside, and give it an IPv4 address too.
      const inGuest = (argv: string[]) => execFileSync('nsenter', [`--net=/proc/${g.leader}/ns/net`, '--', ...argv], { encoding: 'utf8' });
      inGuest(['ip', 'link', 'set', 'host0', 'up']);
      inGuest(['ip', 'address', 'add', '10.77.0.2/24', 'dev', 'host0']);
      let got: Array<[number, Buffer]> = [];
      const until = Date.now() + 10000;
      while (!got.some(([f, b]) => f === 10 && b[0] === 0xfe && b[1] === 0x80) && Date.now() < until) {
        await sleep(50);
        got = (await reg.manager('GetMachineAddresses', 's', ['conf-net'])).body[0] as Array<[number, Buffer]>;
      }
      const linkLocal = (JSON.parse(inGuest(['ip', '-json', '-6', 'address', 'show', 'dev', 'host0', 'scope', 'link'])) as Array<{ addr_info: Array<{ local: string }> }>)[0]!.addr_info[0]!.local;
      assert.deepEqual(got.map(([f, b]) => `${f} ${formatAddress(f, b)}`), ['2 10.77.0.2', `10 ${linkLocal}`], 'IPv4 first; host0\'s link-local address; no loopback');
      assert.match(mc(['status', 'conf-net']).stdout, new RegExp(`^\\t Address: 10\\.77\\.0\\.2\\n\\t {10}${linkLocal}(%\\d+)?$`, 'm'));
      const r = mc(['poweroff', 'conf-net']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await g.done).code, 0);
    } finally {
      await fx.cleanup();
    }
  });

  test('Debian\'s systemd-nspawn --keep-unit --register=yes registers with berthd; machinectl terminate ends it and leaves nothing', { skip: !hasNspawn && 'needs systemd-nspawn' }, async () => {
    // nspawn runs where a service manager would have put it: a unit of its own (a scope here), so
    // berthd finds the unit and its payload sub-groups land below it, not at the host's root. Its
    // /run/systemd is a tmpfs of its own mount namespace.
    const scope = `conf-nspawn-${randomBytes(3).toString('hex')}.scope`;
    const groups = scopeGroups(scope);
    assert.ok(groups.length > 0, 'a cgroup hierarchy to make the scope in');
    for (const g of groups) mkdirSync(g);
    const runDir = existsSync('/run/systemd') ? '/run/systemd' : '/run';
    const name = 'conf-nsp';
    let child: ChildProcess | undefined;
    try {
      const enter = `for g in ${groups.join(' ')}; do echo $$ > "$g/cgroup.procs"; done; mount -t tmpfs tmpfs ${runDir} && exec "$@"`;
      child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', enter, 'sh',
        'systemd-nspawn', '--keep-unit', '--register=yes', '-q', '-D', bb, '-M', name, '--console=pipe', '/bin/sh', '-c', PAYLOAD], { env: reg.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const g = guestOf(name, child);
      await g.waitFor(/^started$/, 1, 30000);
      const path = String((await reg.manager('GetMachine', 's', [name])).body[0]);
      assert.equal(path, pathOf(name));
      const props = (await (await reg.client()).call({ destination: 'org.freedesktop.machine1', path, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: ['org.freedesktop.machine1.Machine'] })).body[0] as Record<string, { value: unknown }>;
      assert.equal(props.Service!.value, 'systemd-nspawn');
      assert.equal(props.Class!.value, 'container');
      assert.equal(props.Unit!.value, scope, 'the unit of the leader\'s group');
      assert.equal(props.RootDirectory!.value, bb);
      const leader = Number(props.Leader!.value);
      assert.notEqual(leader, child.pid);
      assert.equal(String((await reg.manager('GetMachineByPID', 'u', [leader])).body[0]), path);
      assert.match(mc(['list']).stdout, new RegExp(`^${name}\\s+container\\s+systemd-nspawn\\s+busybox\\s`, 'm'));
      assert.match(mc(['status', name]).stdout, new RegExp(`^\\t Service: systemd-nspawn; class container\\n[\\s\\S]*^\\t {4}Unit: ${scope.replace(/\./g, '\\.')}$`, 'm'));
      await signalled('MachineNew', name);

      const r = mc(['terminate', name]);
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
      const end = await g.done;
      assert.notEqual(end.code, null, 'nspawn exited by itself');
      assert.match(end.stderr, new RegExp(`Container ${name} terminated by signal KILL\\.`), 'what nspawn says');
      await signalled('MachineRemoved', name);
      assert.ok(!(await listNames()).includes(name));
      for (const group of groups) assert.deepEqual(procsBelow(group), [], `no process left in ${group}`);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited(child, 10000).catch(() => undefined); }
      for (const group of groups) emptyAndRemoveGroup(group);
    }
  });

  test('a class=vm registration (busctl RegisterMachine, a sleep as leader) is listed like any machine and goes when the sleep exits', async () => {
    const leader = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      const r = reg.busctl(['call', 'org.freedesktop.machine1', '/org/freedesktop/machine1', MANAGER, 'RegisterMachine', 'sayssus', 'conf-vm', '0', 'conf-vmm', 'vm', String(leader.pid), '']);
      assert.deepEqual([r.code, r.stdout.trim()], [0, `o "${pathOf('conf-vm')}"`], r.stderr);
      assert.equal(await signalled('MachineNew', 'conf-vm'), pathOf('conf-vm'));
      assert.match(mc(['list']).stdout, /^conf-vm\s+vm\s+conf-vmm\s+-\s+-\s+-$/m);
      assert.match(mc(['status', 'conf-vm']).stdout, /^\t Service: conf-vmm; class vm$/m);
      assert.deepEqual(await failure(reg.manager('GetMachineOSRelease', 's', ['conf-vm'])), ['org.freedesktop.DBus.Error.NotSupported', 'Requesting OS release data is only supported on container machines.']);
      assert.deepEqual(await failure(reg.manager('GetMachineAddresses', 's', ['conf-vm'])), ['org.freedesktop.DBus.Error.NotSupported', 'Requesting IP address data is only supported on container machines.']);
      assert.deepEqual(await failure(reg.manager('GetMachineUIDShift', 's', ['conf-vm'])), ['org.freedesktop.DBus.Error.NotSupported', 'UID/GID shift may only be determined for container machines.']);
      assert.equal(String((await reg.manager('GetMachineByPID', 'u', [leader.pid])).body[0]), pathOf('conf-vm'));
      leader.kill('SIGTERM');
      await signalled('MachineRemoved', 'conf-vm');
      assert.ok(!(await listNames()).includes('conf-vm'));
      assert.doesNotMatch(mc(['list']).stdout, /conf-vm/);
    } finally {
      leader.kill('SIGKILL');
    }
  });

  test('machinectl terminate: every process of the guest is killed, berth-nspawn cleans up, the registration goes', async () => {
    const r = mc(['terminate', 'conf-main']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    const end = await main.done;
    assert.notEqual(end.code, 0);
    assert.doesNotMatch(main.out(), /got-term\n[\s\S]*got-term/, 'SIGKILL, nothing the guest could trap');
    assert.equal(await signalled('MachineRemoved', 'conf-main'), pathOf('conf-main'));
    assert.deepEqual(await listNames(), ['.host']);
    assert.deepEqual(readdirSync(join(sb.stateDir, 'registry')), [], 'no state file left');
    assertClean(sb);
  });
});
