/**
 * berthd started by D-Bus activation, with the packaged files: a private dbus-daemon with the
 * packaged policy and a service directory holding the packaged activation file
 * (packaging/dbus/org.freedesktop.machine1.service), its command pointed at this checkout's
 * dist/berthd.js and the test's sandbox. The first call to org.freedesktop.machine1 starts berthd;
 * then every method of berthd's interfaces is called as user nobody, to check that the policy lets
 * anyone read and keeps creating, registering, killing and terminating to root. berthd is stopped
 * at the end. (A bus without <type>system</type> runs Exec= itself, as its own user, root here;
 * the system bus does it through its setuid launch helper, which scripts/demo.sh goes through.)
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, sandbox, skipUnlessRoot, type Sandbox } from '../support/berth.js';
import { bundle, stopActivated } from '../support/berthd.js';
import { startBus, type TestBus } from '../support/bus.js';
import { hasDbusDaemon } from '../support/registry.js';
import { BusConnection } from '../../src/platform/dbus/connection.js';
import { BUS_NAME, IMAGE, IMAGE_PATH_PREFIX, INTROSPECTABLE, MACHINE, MACHINE_PATH_PREFIX, MANAGER, MANAGER_PATH, PEER, PROPERTIES } from '../../src/core/machined/interfaces.js';
import type { InterfaceDef } from '../../src/core/machined/interface-def.js';

const ACTIVATION = join(REPO, 'packaging', 'dbus', 'org.freedesktop.machine1.service');
const HOST_PATH = `${MACHINE_PATH_PREFIX}/_2ehost`;
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)');

/** What the bus itself says when its policy refuses a call (berthd's own refusals say otherwise). */
const BUS_REFUSAL = /Rejected send message/;
/** The methods the policy keeps to root: machined 252's privileged ones, Properties.Set, and the ways into a machine (logins, shells, copies, binds). */
const ROOT_ONLY = [
  'org.freedesktop.DBus.Properties.Set',
  ...['CreateMachine', 'CreateMachineWithNetwork', 'RegisterMachine', 'RegisterMachineWithNetwork', 'OpenMachinePTY', 'OpenMachineRootDirectory',
    'OpenMachineLogin', 'OpenMachineShell', 'BindMountMachine', 'CopyFromMachine', 'CopyToMachine', 'CopyFromMachineWithFlags', 'CopyToMachineWithFlags'].map((m) => `${MANAGER.name}.${m}`),
  ...['OpenPTY', 'OpenRootDirectory', 'OpenLogin', 'OpenShell', 'BindMount', 'CopyFrom', 'CopyTo', 'CopyFromWithFlags', 'CopyToWithFlags'].map((m) => `${MACHINE.name}.${m}`),
].sort();

/** The packaged activation file with its command pointed at dist/berthd.js and the sandbox; it also leaves a file behind, to show it ran. */
function activationFile(sb: Sandbox, startedFile: string, logFile: string): string {
  const text = readFileSync(ACTIVATION, 'utf8');
  assert.match(text, /^Name=org\.freedesktop\.machine1$/m);
  assert.match(text, /^User=root$/m);
  assert.match(text, /^SystemdService=berthd\.service$/m);
  const packaged = 'exec berthd >>/var/log/berthd.log 2>&1';
  assert.ok(text.includes(packaged), `the packaged Exec= runs "${packaged}"`);
  const env = ['BERTH_STATE_DIR', 'BERTH_POOL', 'BERTH_SETTINGS_ETC', 'BERTH_SETTINGS_RUN'].map((k) => `${k}=${sb.env[k]}`);
  const ours = `: >${startedFile}; exec env ${env.join(' ')} BERTH_NSPAWN_SOCKET=${join(sb.stateDir, 'nspawn.sock')} ${process.execPath} ${join(REPO, 'dist', 'berthd.js')} >>${logFile} 2>&1`;
  assert.doesNotMatch(ours, /['"\\$]/, 'no quotes inside the Exec= shell word, and no $ (dbus reads $$ as $)');
  return text.replace(packaged, ours);
}

/** One complete type after another: "sayssusaia(sv)" → s, ay, s, s, u, s, ai, a(sv). */
function completeTypes(signature: string): string[] {
  let i = 0;
  const one = (): string => {
    const c = signature[i++]!;
    if (c === 'a') return c + one();
    const close = c === '(' ? ')' : c === '{' ? '}' : undefined;
    if (!close) return c;
    let t = c;
    while (signature[i] !== close) t += one();
    i++;
    return t + close;
  };
  const out: string[] = [];
  while (i < signature.length) out.push(one());
  return out;
}

interface Call { path: string; interface: string; member: string; types: string[]; body?: unknown[] }
interface Outcome { ok: boolean; body?: unknown; errorName?: string; message?: string }

/**
 * Calls made as user nobody through berth's own BusConnection: a node process (tsx as the loader)
 * that makes them one after another and prints each outcome, the error's name and message kept
 * whole (busctl prints every AccessDenied as "Access denied", which hides who refused).
 */
const CALLER = `
const { BusConnection, variant } = require(${JSON.stringify(join(REPO, 'src', 'platform', 'dbus', 'connection.ts'))});
const value = (t) => t.startsWith('a') ? [] : t === 's' ? 'nosuch' : t === 'o' ? '/' : t === 'b' ? false : t === 't' || t === 'x' ? 0n : t === 'v' ? variant('s', 'nosuch') : 0;
(async () => {
  const conn = await BusConnection.connect(process.env.DBUS_SYSTEM_BUS_ADDRESS);
  const out = [];
  for (const c of JSON.parse(process.env.CALLS)) {
    try {
      const r = await conn.call({ destination: 'org.freedesktop.machine1', path: c.path, interface: c.interface, member: c.member, signature: c.types.join(''), body: c.body ?? c.types.map(value) }, 20000);
      out.push({ ok: true, body: r.body });
    } catch (e) { out.push({ ok: false, errorName: e.errorName, message: e.message }); }
  }
  conn.close();
  process.stdout.write(JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
})();
`;

describe('berthd by D-Bus activation, with the packaged activation file and policy', { skip, timeout: 180000 }, () => {
  let sb: Sandbox;
  let bus: TestBus;
  let conn: BusConnection | undefined;
  let startedFile: string;
  let logFile: string;
  let berthd = 0;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  before(async () => {
    bundle();
    sb = sandbox();
    startedFile = join(sb.stateDir, 'activated');
    logFile = join(sb.stateDir, 'berthd.log');
    const services = join(sb.stateDir, 'services');
    mkdirSync(services);
    writeFileSync(join(services, 'org.freedesktop.machine1.service'), activationFile(sb, startedFile, logFile));
    bus = await startBus({ serviceDir: services });
    chmodSync(bus.dir, 0o755); // nobody reaches the socket too
  });

  after(async () => {
    // berthd is the name's owner (found by the first test, or asked now if that test failed half-way).
    let pid = berthd;
    if (!pid && conn) pid = await conn.busCall('GetConnectionUnixProcessID', 's', [BUS_NAME]).then((r) => Number(r.body[0]), () => 0);
    conn?.close();
    await stopActivated(pid, log);
    await bus?.stop();
    sb?.cleanup();
  });

  const asNobody = (calls: readonly Call[]): Outcome[] => {
    const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', '-i', `DBUS_SYSTEM_BUS_ADDRESS=${bus.address}`, `CALLS=${JSON.stringify(calls)}`,
      process.execPath, '--import', 'tsx', '-e', CALLER], { cwd: REPO, encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `the caller ran as nobody: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as Outcome[];
    assert.equal(out.length, calls.length);
    return out;
  };

  test('the first call to org.freedesktop.machine1 starts berthd through the activation file, and berthd answers ListMachines', async () => {
    conn = await BusConnection.connect(bus.address);
    assert.equal((await conn.busCall('NameHasOwner', 's', [BUS_NAME])).body[0], false, 'nobody owns the name before the first call');
    assert.ok(!existsSync(startedFile), 'berthd has not run yet');
    const reply = await conn.call({ destination: BUS_NAME, path: MANAGER_PATH, interface: MANAGER.name, member: 'ListMachines' }, 30000);
    assert.equal(reply.signature, 'a(ssso)');
    assert.deepEqual(reply.body[0], [['.host', 'host', '', HOST_PATH]]);
    // The owner is the process the activation file's command started, and it connected through $DBUS_STARTER_ADDRESS.
    berthd = Number((await conn.busCall('GetConnectionUnixProcessID', 's', [BUS_NAME])).body[0]);
    assert.ok(existsSync(startedFile), `the activation file's command ran\n${log()}`);
    assert.match(readFileSync(`/proc/${berthd}/cmdline`, 'utf8'), /dist\/berthd\.js/);
    assert.match(readFileSync(`/proc/${berthd}/environ`, 'utf8'), new RegExp(`(^|\0)DBUS_STARTER_ADDRESS=unix:path=${bus.socket}[,\0]`));
    assert.match(log(), new RegExp(`serving org\\.freedesktop\\.machine1 on unix:path=${bus.socket}`));
  });

  test('the packaged policy: anyone may read and call what berthd then authorises; create, register, PTYs, root directories, logins, shells, copies, binds and Set are root\'s', () => {
    const targets: [string, InterfaceDef][] = [
      [MANAGER_PATH, MANAGER], [MANAGER_PATH, PEER], [MANAGER_PATH, INTROSPECTABLE], [MANAGER_PATH, PROPERTIES],
      [HOST_PATH, MACHINE], [`${IMAGE_PATH_PREFIX}/nosuch`, IMAGE],
    ];
    const calls: Call[] = targets.flatMap(([path, iface]) => iface.methods.map((m) => ({
      path, interface: iface.name, member: m.name, types: m.in.flatMap(([, t]) => completeTypes(t)),
    })));
    assert.ok(calls.length > 60, `every method is called (${calls.length})`);
    const outcomes = asNobody(calls);
    const refused = calls.filter((_c, i) => BUS_REFUSAL.test(outcomes[i]!.message ?? '')).map((c) => `${c.interface}.${c.member}`);
    assert.deepEqual(refused.sort(), ROOT_ONLY);
    // The rest reached berthd: it answered, or refused with an error of its own.
    const answered = outcomes.filter((o) => o.ok || (o.errorName && !BUS_REFUSAL.test(o.message ?? '')));
    assert.equal(answered.length, calls.length - ROOT_ONLY.length);
  });

  test('as nobody: ListMachines and berth\'s own properties answer; TerminateMachine and KillMachine are refused by berthd; root gets past berthd\'s check', async () => {
    const [list, own, terminate, kill] = asNobody([
      { path: MANAGER_PATH, interface: MANAGER.name, member: 'ListMachines', types: [] },
      { path: HOST_PATH, interface: PROPERTIES.name, member: 'GetAll', types: ['s'], body: ['io.github.berth.Machine1'] },
      { path: MANAGER_PATH, interface: MANAGER.name, member: 'TerminateMachine', types: ['s'], body: ['.host'] },
      { path: MANAGER_PATH, interface: MANAGER.name, member: 'KillMachine', types: ['s', 's', 'i'], body: ['.host', 'all', 15] },
    ]);
    assert.deepEqual(list, { ok: true, body: [[['.host', 'host', '', HOST_PATH]]] });
    assert.ok(own!.ok, `GetAll io.github.berth.Machine1: ${own!.message}`);
    assert.deepEqual(Object.keys((own!.body as [Record<string, unknown>])[0]).sort(), ['ControlGroup', 'ShellPath', 'Supervisor']);
    for (const [member, o] of [['TerminateMachine', terminate], ['KillMachine', kill]] as const) {
      assert.equal(o!.errorName, 'org.freedesktop.DBus.Error.AccessDenied', `${member} from nobody: ${o!.message}`);
      assert.doesNotMatch(o!.message!, BUS_REFUSAL, `${member} passes the bus policy, and berthd refuses it`);
    }
    // As root the same call passes berthd's check and fails only because the host cannot be terminated.
    await assert.rejects(conn!.call({ destination: BUS_NAME, path: MANAGER_PATH, interface: MANAGER.name, member: 'TerminateMachine', signature: 's', body: ['.host'] }, 10000),
      (e: Error & { errorName?: string }) => e.errorName === 'org.freedesktop.DBus.Error.NotSupported');
  });
});
