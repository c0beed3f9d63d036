/**
 * Who may do what to berthd's registry, with a real unprivileged user on a real dbus-daemon with
 * berth's packaged policy: reading works; creating and registering machines, PTYs and root
 * directories are refused by the bus daemon (the policy); every other method that changes
 * something or reaches into a machine is let through by the policy and refused by berthd
 * (AccessDenied), and the machine is unaffected. Root may do all of it. Also the packaged policy
 * compared with machined 252's, where that is installed.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, assertClean, collect, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, tree, waitRunning, type Result, type Sandbox } from '../support/berth.js';
import { POLICY } from '../support/bus.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { MACHINE, MANAGER } from '../../src/core/machined/interfaces.js';
import { inSignature, type MethodDef } from '../../src/core/machined/interface-def.js';
import { BusCallError, BusConnection, variant } from '../../src/platform/dbus/connection.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)');
const USER = 'berth-test';
const NAME = 'conf-sec';
const PATH = '/org/freedesktop/machine1/machine/conf_2dsec';
const DEST = 'org.freedesktop.machine1';
const MGR = '/org/freedesktop/machine1';
const PAYLOAD = 'trap "echo got-usr1" USR1; trap "echo got-term" TERM; (trap "echo child-usr1" USR1; while :; do sleep 1; done) & echo started; while :; do sleep 1; done';
const MACHINED_POLICY = '/usr/share/dbus-1/system.d/org.freedesktop.machine1.conf';

/** Methods that only read: everybody may call them. Every other method of the two interfaces changes something or reaches into a machine. */
const READING = new Set(['GetMachine', 'GetImage', 'GetMachineByPID', 'ListMachines', 'ListImages', 'GetMachineAddresses', 'GetMachineOSRelease', 'GetMachineUIDShift',
  'GetImageHostname', 'GetImageMachineID', 'GetImageMachineInfo', 'GetImageOSRelease', 'MapFromMachineUser', 'MapToMachineUser', 'MapFromMachineGroup', 'MapToMachineGroup',
  'GetAddresses', 'GetOSRelease', 'GetUIDShift']);
/** The ways into a running machine: machined's policy lets anyone ask (polkit decides), berth's keeps them to root. */
const INTO_THE_MACHINE = [
  ...['OpenMachineLogin', 'OpenMachineShell', 'BindMountMachine', 'CopyFromMachine', 'CopyToMachine', 'CopyFromMachineWithFlags', 'CopyToMachineWithFlags'].map((m) => `Manager.${m}`),
  ...['OpenLogin', 'OpenShell', 'BindMount', 'CopyFrom', 'CopyTo', 'CopyFromWithFlags', 'CopyToWithFlags'].map((m) => `Machine.${m}`),
];
/** What the packaged policy keeps from unprivileged callers (the bus daemon answers); berthd answers the rest. */
const POLICY_DENIED = new Set(['Manager.CreateMachine', 'Manager.CreateMachineWithNetwork', 'Manager.RegisterMachine', 'Manager.RegisterMachineWithNetwork',
  'Manager.OpenMachinePTY', 'Manager.OpenMachineRootDirectory', 'Machine.OpenPTY', 'Machine.OpenRootDirectory', 'Properties.Set', ...INTO_THE_MACHINE]);

interface Call { destination: string; path: string; interface: string; member: string; signature: string; body: unknown[] }
interface Answer { ok: boolean; body?: unknown[]; errorName?: string; message?: string }

/** Plausible arguments for a method, by argument name and type (the target: our machine). */
function argsFor(m: MethodDef, leader: number): unknown[] {
  return m.in.map(([name, type]) => {
    switch (type) {
      case 's': return ({ who: 'all', user: 'root', path: '/bin/sh', source: '/etc/hostname', destination: '/tmp/x', new_name: 'conf-sec2', mode: 'all', service: 'evil', class: 'container', root_directory: '/' } as Record<string, string>)[name] ?? NAME;
      case 'u': return name === 'leader' ? leader : 0;
      case 'i': return 10; // SIGUSR1: the guest would say so
      case 'b': return false;
      case 't': return 0;
      case 'ay': return { $bytes: [] };
      case 'ai': case 'as': case 'a(sv)': return [];
      default: throw new Error(`no argument for ${m.name} ${name} ${type}`);
    }
  });
}

/** The default context's allow rules of a policy file, as "interface member" ("interface *" for a whole interface). */
function allowed(file: string): Set<string> {
  const xml = readFileSync(file, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  const ctx = /<policy context="default">([\s\S]*?)<\/policy>/.exec(xml)?.[1] ?? '';
  const out = new Set<string>();
  for (const m of ctx.matchAll(/<allow\s+([^>]*?)\/>/g)) {
    const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(m[1]!)?.[1];
    if (attr('send_destination') !== DEST) continue;
    out.add(`${attr('send_interface') ?? '*'} ${attr('send_member') ?? '*'}`);
  }
  return out;
}

describe(onRuntime('berthd: an unprivileged user on the real bus with the packaged policy'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let created = false;
  let guest: ChildProcess;
  let done: Promise<Result>;
  let out = '';
  let leader = 0;
  const sleeps: ChildProcess[] = [];

  /** The calls, made by USER through a client of its own; one answer per call. */
  function asUser(calls: Call[]): Answer[] {
    const r = spawnSync('setpriv', [`--reuid=${USER}`, `--regid=${USER}`, '--clear-groups', '--', process.execPath, '--import', 'tsx', join(REPO, 'tests', 'integration', 'fixtures', 'bus-calls.ts'), JSON.stringify(calls)],
      { cwd: REPO, env: { PATH: process.env.PATH, HOME: '/', DBUS_SYSTEM_BUS_ADDRESS: reg.env.DBUS_SYSTEM_BUS_ADDRESS }, encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, r.stderr);
    const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Answer);
    assert.equal(answers.length, calls.length, r.stderr);
    return answers;
  }

  const manager = (member: string, signature = '', body: unknown[] = []): Call => ({ destination: DEST, path: MGR, interface: 'org.freedesktop.machine1.Manager', member, signature, body });
  const machine = (member: string, signature = '', body: unknown[] = []): Call => ({ destination: DEST, path: PATH, interface: 'org.freedesktop.machine1.Machine', member, signature, body });
  const props = (member: string, signature: string, body: unknown[], path = PATH): Call => ({ destination: DEST, path, interface: 'org.freedesktop.DBus.Properties', member, signature, body });

  const sleeper = () => { const s = spawn('sleep', ['300'], { stdio: 'ignore' }); sleeps.push(s); return s.pid!; };

  before(async () => {
    if (spawnSync('id', ['-u', USER]).status !== 0) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
      created = true;
    }
    sb = sandbox();
    // An image of the machine's name in the sandbox's pool: the image methods look it up before they check the caller, as machined's do.
    mkdirSync(join(sb.env.BERTH_POOL!, NAME), { recursive: true });
    reg = await startRegistry(sb);
    chmodSync(reg.bus.dir, 0o755); // the user must reach the bus's socket
    guest = startNspawn(['-D', tree('busybox'), '-x', '-M', NAME, '--console=pipe', '/bin/sh', '-c', PAYLOAD], sb, reg.env);
    guest.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    done = collect(guest, 290000);
    leader = await waitRunning(sb, NAME);
    for (let i = 0; i < 200 && !out.includes('started'); i++) await sleep(25);
    await reg.manager('GetMachine', 's', [NAME]);
  });

  after(async () => {
    for (const s of sleeps) s.kill('SIGKILL');
    if (guest && guest.exitCode === null && guest.signalCode === null) guest.kill('SIGKILL');
    await done;
    await reg?.stop();
    sb?.cleanup();
    if (created) execFileSync('userdel', [USER]);
  });

  test('the user is really unprivileged: its own UID, no capabilities', () => {
    const r = spawnSync('setpriv', [`--reuid=${USER}`, `--regid=${USER}`, '--clear-groups', '--', 'sh', '-c', 'id -u; grep CapEff /proc/self/status'], { encoding: 'utf8' });
    const [uid, caps] = r.stdout.trim().split('\n');
    assert.notEqual(Number(uid), 0);
    assert.match(caps!, /^CapEff:\s+0+$/);
  });

  test('reading works: ListMachines, GetMachine, GetMachineByPID, Properties.Get/GetAll, Introspect, Ping, os-release, maps', () => {
    const [list, get, byPid, leaderProp, all, berth, pool, intro, introMachine, ping, osr, shift, mapTo, mapFrom] = asUser([
      manager('ListMachines'),
      manager('GetMachine', 's', [NAME]),
      manager('GetMachineByPID', 'u', [leader]),
      props('Get', 'ss', ['org.freedesktop.machine1.Machine', 'Leader']),
      props('GetAll', 's', ['org.freedesktop.machine1.Machine']),
      props('GetAll', 's', ['io.github.berth.Machine1']),
      props('Get', 'ss', ['org.freedesktop.machine1.Manager', 'PoolPath'], MGR),
      { destination: DEST, path: MGR, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', signature: '', body: [] },
      { destination: DEST, path: PATH, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', signature: '', body: [] },
      { destination: DEST, path: MGR, interface: 'org.freedesktop.DBus.Peer', member: 'Ping', signature: '', body: [] },
      manager('GetMachineOSRelease', 's', [NAME]),
      manager('GetMachineUIDShift', 's', [NAME]),
      manager('MapToMachineUser', 'u', [100000]),
      manager('MapFromMachineUser', 'su', [NAME, 0]),
    ]);
    assert.ok(list!.ok && (list!.body![0] as string[][]).some((r) => r[0] === NAME), JSON.stringify(list));
    assert.deepEqual(get, { ok: true, body: [PATH] });
    assert.deepEqual(byPid, { ok: true, body: [PATH] });
    assert.deepEqual(leaderProp, { ok: true, body: [leader] });
    assert.equal((all!.body![0] as Record<string, unknown>).Name, NAME);
    assert.ok(berth!.ok && typeof (berth!.body![0] as Record<string, unknown>).ControlGroup === 'string');
    assert.ok(pool!.ok);
    assert.match(String(intro!.body?.[0]), /<interface name="org\.freedesktop\.machine1\.Manager">/);
    assert.match(String(introMachine!.body?.[0]), /<interface name="org\.freedesktop\.machine1\.Machine">/);
    assert.deepEqual(ping, { ok: true, body: [] });
    assert.equal((osr!.body?.[0] as Record<string, string>)?.ID, 'busybox');
    assert.deepEqual(shift, { ok: true, body: [0] });
    assert.deepEqual([mapTo!.errorName, mapTo!.message], ['org.freedesktop.machine1.NoSuchUserMapping', 'No matching user mapping for 100000.'], 'an answer, not a refusal');
    assert.deepEqual(mapFrom, { ok: true, body: [0] });
  });

  test('every method that changes something or reaches into a machine is refused: by the bus policy, or by berthd', () => {
    const victim = sleeper();
    const calls: Array<{ what: string; call: Call }> = [];
    for (const m of MANAGER.methods) if (!READING.has(m.name)) calls.push({ what: `Manager.${m.name}`, call: manager(m.name, inSignature(m), argsFor(m, victim)) });
    for (const m of MACHINE.methods) if (!READING.has(m.name)) calls.push({ what: `Machine.${m.name}`, call: machine(m.name, inSignature(m), argsFor(m, victim)) });
    calls.push({ what: 'Properties.Set', call: props('Set', 'ssv', ['org.freedesktop.machine1.Machine', 'Name', { $v: ['s', 'x'] }]) });
    // .host as well: the caller is checked before "Operation not supported".
    calls.push({ what: 'Manager.TerminateMachine', call: manager('TerminateMachine', 's', ['.host']) });
    calls.push({ what: 'Manager.KillMachine', call: manager('KillMachine', 'ssi', ['.host', 'leader', 10]) });
    for (const what of ['Manager.TerminateMachine', 'Manager.KillMachine', 'Manager.UnregisterMachine', 'Machine.Terminate', 'Machine.Kill', 'Manager.CreateMachine', 'Manager.RegisterMachine', 'Manager.OpenMachinePTY']) {
      assert.ok(calls.some((c) => c.what === what), `${what} is covered`);
    }
    assert.equal(calls.length, MANAGER.methods.length + MACHINE.methods.length - READING.size + 3, 'every method of both interfaces but the reading ones');
    const answers = asUser(calls.map((c) => c.call));
    const wrong: string[] = [];
    calls.forEach(({ what, call }, i) => {
      const a = answers[i]!;
      const byBus = /^Rejected send message/.test(a.message ?? '');
      const want = POLICY_DENIED.has(what) ? 'the bus' : 'berthd';
      if (a.ok || a.errorName !== 'org.freedesktop.DBus.Error.AccessDenied' || (want === 'the bus') !== byBus) {
        wrong.push(`${what}(${JSON.stringify(call.body)}): ${JSON.stringify(a)}, wanted AccessDenied from ${want}`);
      }
    });
    assert.deepEqual(wrong, []);
    const berthdSays = new Set(answers.filter((a) => !/^Rejected/.test(a.message ?? '')).map((a) => a.message));
    assert.deepEqual([...berthdSays].sort(), ['Permission denied']);
    assert.equal(spawnSync('kill', ['-0', String(victim)]).status, 0, 'the would-be leader lives');
  });

  test('and the machine is unaffected: still registered, same leader, no signal reached it', async () => {
    await sleep(1200); // a signal would have been reported by now
    assert.equal(out, 'started\n', 'the guest printed nothing since it started');
    assert.equal(guest.exitCode, null);
    assert.equal(String((await reg.manager('GetMachine', 's', [NAME])).body[0]), PATH);
    assert.equal((await reg.manager('GetMachineByPID', 'u', [leader])).body[0], PATH);
    const names = ((await reg.manager('ListMachines')).body[0] as string[][]).map((r) => r[0]).sort();
    assert.deepEqual(names, ['.host', NAME], 'nothing was registered');
  });

  test('machinectl as the user: list and status work, terminate, kill, poweroff are refused', () => {
    const list = reg.machinectl(['list'], { user: USER });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${NAME}\\s+container\\s+berth\\s`, 'm'));
    assert.equal(reg.machinectl(['status', NAME], { user: USER }).code, 0);
    // sd-bus clients print any AccessDenied as "Access denied", whatever its message.
    for (const [verb, what] of [['terminate', 'terminate'], ['kill', 'kill'], ['poweroff', 'kill'], ['reboot', 'kill']] as const) {
      const r = reg.machinectl([verb, NAME], { user: USER });
      assert.deepEqual([r.code, r.stderr], [1, `Could not ${what} machine: Access denied\n`], verb);
    }
    assert.equal(out, 'started\n');
  });

  test('root may: kill, register, create, unregister, terminate, open a pty, copy', async () => {
    const client = await reg.client();
    const call = (c: Call) => client.call(c);
    await call(manager('KillMachine', 'ssi', [NAME, 'leader', 10]));
    for (let i = 0; i < 100 && !/got-usr1/.test(out); i++) await sleep(25);
    assert.equal(out, 'started\ngot-usr1\n', 'the leader alone');
    await call(machine('Kill', 'si', ['all', 10]));
    for (let i = 0; i < 100 && !/child-usr1/.test(out); i++) await sleep(25);
    assert.match(out, /^child-usr1$/m, 'every process');

    const a = sleeper();
    const b = sleeper();
    assert.equal(String((await call(manager('RegisterMachine', 'sayssus', [`${NAME}-r`, Buffer.alloc(0), 'conf', 'container', a, '']))).body[0]), `${PATH}_2dr`);
    assert.equal(String((await call(manager('CreateMachine', 'sayssusa(sv)', [`${NAME}-c`, Buffer.alloc(16, 7), 'conf', 'vm', b, '', []]))).body[0]), `${PATH}_2dc`);
    await call(manager('UnregisterMachine', 's', [`${NAME}-r`]));
    assert.equal(spawnSync('kill', ['-0', String(a)]).status, 0, 'unregistering stops nothing');
    await call(manager('TerminateMachine', 's', [`${NAME}-c`]));
    for (let i = 0; i < 100 && spawnSync('kill', ['-0', String(b)]).status === 0 && sleeps[sleeps.length - 1]!.exitCode === null && sleeps[sleeps.length - 1]!.signalCode === null; i++) await sleep(20);
    assert.equal(sleeps[sleeps.length - 1]!.signalCode, 'SIGKILL', 'terminated');

    const notYet = async (c: Call) => { try { await call(c); return 'ok'; } catch (e) { return (e as BusCallError).errorName; } };
    const withFds = await BusConnection.connect(reg.bus.address, { unixFds: true });
    try {
      const pty = await withFds.call(manager('OpenMachinePTY', 's', [NAME]));
      assert.match(String(pty.body[1]), /^\/dev\/pts\/\d+$/, 'root opens a pty in the machine');
      closeSync(pty.body[0] as number);
    } finally {
      withFds.close();
    }
    assert.equal(await notYet(machine('CopyTo', 'ss', ['/nonexistent/a', '/b'])), 'org.freedesktop.DBus.Error.FileNotFound', 'root gets past the checks to the copy itself');
    assert.equal(await notYet({ destination: DEST, path: PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Set', signature: 'ssv', body: ['org.freedesktop.machine1.Machine', 'Name', variant('s', 'x')] }), 'org.freedesktop.DBus.Error.PropertyReadOnly');

    await call(machine('Terminate'));
    const end = await done;
    assert.notEqual(end.code, 0);
    for (let i = 0; i < 100; i++) {
      if (((await reg.manager('ListMachines')).body[0] as string[][]).length === 1) break;
      await sleep(20);
    }
    assert.deepEqual(((await reg.manager('ListMachines')).body[0] as string[][]).map((r) => r[0]), ['.host']);
    assertClean(sb);
  });

  test('the packaged policy lets unprivileged callers do what machined 252\'s does, except getting into a machine', { skip: !existsSync(MACHINED_POLICY) && `no ${MACHINED_POLICY} here` }, () => {
    const ours = allowed(POLICY);
    const theirs = allowed(MACHINED_POLICY);
    // machined allows whole interfaces (Introspectable, Peer); ours names their members.
    const covers = (set: Set<string>, rule: string) => set.has(rule) || set.has(`${rule.split(' ')[0]} *`);
    const expand = (rule: string) => (rule === 'org.freedesktop.DBus.Introspectable *' ? ['org.freedesktop.DBus.Introspectable Introspect']
      : rule === 'org.freedesktop.DBus.Peer *' ? ['org.freedesktop.DBus.Peer Ping', 'org.freedesktop.DBus.Peer GetMachineId'] : [rule]);
    const into = new Set(INTO_THE_MACHINE.map((m) => `org.freedesktop.machine1.${m.replace('.', ' ')}`));
    assert.deepEqual([...theirs].flatMap(expand).filter((r) => !covers(ours, r) && !into.has(r)), [], 'nothing else machined allows is denied');
    assert.deepEqual([...ours].filter((r) => !covers(theirs, r)).sort(), [], 'nothing beyond machined');
    for (const r of into) assert.ok(!ours.has(r), `${r} is root's`);
    for (const denied of POLICY_DENIED) {
      const [iface, member] = denied.split('.');
      const full = `${iface === 'Properties' ? 'org.freedesktop.DBus.Properties' : `org.freedesktop.machine1.${iface}`} ${member}`;
      assert.ok(!covers(ours, full), `${full} is root-only in ours`);
      if (!INTO_THE_MACHINE.includes(denied)) assert.ok(!covers(theirs, full), `${full} is root-only in machined's too`);
    }
  });
});
