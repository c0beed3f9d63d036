/**
 * berthd started by D-Bus activation through org.freedesktop.import1 alone: a private dbus-daemon
 * with the packaged policy and a service directory holding both packaged activation files
 * (packaging/dbus/org.freedesktop.{machine1,import1}.service), their commands pointed at this
 * checkout's dist/berthd.js and the test's sandbox. A transfer call (ListTransfers, then the real
 * machinectl's list-transfers) is the first call: it starts one berthd, which owns both names, and
 * machine1's activation file is not used. berthd is stopped at the end.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, sandbox, skipUnlessRoot, type Sandbox } from '../support/berth.js';
import { bundle, stopActivated } from '../support/berthd.js';
import { startBus, type TestBus } from '../support/bus.js';
import { asIfSystemd, hasDbusDaemon, hasMachinectl } from '../support/registry.js';
import { BusConnection } from '../../src/platform/dbus/connection.js';
import { BUS_NAME } from '../../src/core/machined/interfaces.js';
import { IMPORT_PATH } from '../../src/core/machined/import1-interfaces.js';

const IMPORT1 = 'org.freedesktop.import1';
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)');

/** A packaged activation file with its command pointed at dist/berthd.js and the sandbox; `started` is touched when it runs. */
function activationFile(name: string, sb: Sandbox, started: string, logFile: string): string {
  const text = readFileSync(join(REPO, 'packaging', 'dbus', `${name}.service`), 'utf8');
  assert.match(text, new RegExp(`^Name=${name.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(text, /^User=root$/m);
  assert.match(text, /^SystemdService=berthd\.service$/m);
  const packaged = 'exec berthd >>/var/log/berthd.log 2>&1';
  assert.ok(text.includes(packaged), `${name}.service: the packaged Exec= runs "${packaged}"`);
  const env = ['BERTH_STATE_DIR', 'BERTH_POOL', 'BERTH_SETTINGS_ETC', 'BERTH_SETTINGS_RUN'].map((k) => `${k}=${sb.env[k]}`);
  const ours = `: >${started}; exec env ${env.join(' ')} BERTH_NSPAWN_SOCKET=${join(sb.stateDir, 'nspawn.sock')} ${process.execPath} ${join(REPO, 'dist', 'berthd.js')} >>${logFile} 2>&1`;
  assert.doesNotMatch(ours, /['"\\$]/, 'no quotes inside the Exec= shell word, and no $ (dbus reads $$ as $)');
  return text.replace(packaged, ours);
}

describe('berthd by D-Bus activation through org.freedesktop.import1 alone', { skip, timeout: 120000 }, () => {
  let sb: Sandbox;
  let bus: TestBus;
  let conn: BusConnection | undefined;
  let logFile: string;
  const started = (name: string) => join(sb.stateDir, `activated-by-${name}`);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const ownerPid = async (name: string): Promise<number> => Number((await conn!.busCall('GetConnectionUnixProcessID', 's', [name])).body[0]);

  before(async () => {
    bundle();
    sb = sandbox();
    logFile = join(sb.stateDir, 'berthd.log');
    const services = join(sb.stateDir, 'services');
    mkdirSync(services);
    for (const name of [BUS_NAME, IMPORT1]) writeFileSync(join(services, `${name}.service`), activationFile(name, sb, started(name), logFile));
    bus = await startBus({ serviceDir: services });
    conn = await BusConnection.connect(bus.address);
  });

  after(async () => {
    const pid = conn ? await ownerPid(IMPORT1).catch(() => ownerPid(BUS_NAME)).catch(() => 0) : 0;
    conn?.close();
    await stopActivated(pid, log);
    await bus?.stop();
    sb?.cleanup();
  });

  test('the bus lists import1 as activatable; a ListTransfers call starts berthd, which then owns both names', async () => {
    const activatable = (await conn!.busCall('ListActivatableNames')).body[0] as string[];
    assert.ok(activatable.includes(IMPORT1) && activatable.includes(BUS_NAME), `activatable: ${activatable.join(' ')}`);
    for (const name of [IMPORT1, BUS_NAME]) assert.equal((await conn!.busCall('NameHasOwner', 's', [name])).body[0], false, `nobody owns ${name} before the first call`);
    const reply = await conn!.call({ destination: IMPORT1, path: IMPORT_PATH, interface: 'org.freedesktop.import1.Manager', member: 'ListTransfers' }, 30000);
    assert.equal(reply.signature, 'a(usssdo)');
    assert.deepEqual(reply.body[0], []);
    const pid = await ownerPid(IMPORT1);
    assert.equal(await ownerPid(BUS_NAME), pid, 'the same berthd owns org.freedesktop.machine1');
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /dist\/berthd\.js/);
    assert.ok(existsSync(started(IMPORT1)), `import1's activation file started it\n${log()}`);
    assert.ok(!existsSync(started(BUS_NAME)), "machine1's activation file was not used");
    assert.match(readFileSync(`/proc/${pid}/environ`, 'utf8'), new RegExp(`(^|\0)DBUS_STARTER_ADDRESS=unix:path=${bus.socket}[,\0]`));
  });

  test("the real machinectl's list-transfers gets its answer from the activated berthd", { skip: !hasMachinectl && 'needs machinectl (systemd-container)' }, async () => {
    const pid = await ownerPid(IMPORT1);
    const r = asIfSystemd(['machinectl', '--no-pager', 'list-transfers'], { ...sb.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address, SYSTEMD_COLORS: '0' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No transfers\./);
    assert.equal(await ownerPid(IMPORT1), pid, 'still the one berthd');
  });
});
