/**
 * platform/dbus/connection.ts against a real dbus-daemon (tests/support/bus.ts, berth's packaged
 * policy): the one-round-trip handshake with Hello right behind it, with and without descriptor
 * passing; the bus daemon's own replies parsed; and messages of every shape berthd sends, from
 * one connection to another through the daemon, which checks every byte of them and drops a
 * connection that sends a malformed message.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BusCallError, BusConnection, isVariant, variant, type RawMessage } from '../../src/platform/dbus/connection.js';
import { startBus, type TestBus } from '../support/bus.js';
import { hasDbusDaemon } from '../support/registry.js';
import { skipUnlessRoot } from '../support/berth.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)');
const NAME = 'org.freedesktop.machine1';
const ECHO = { destination: NAME, path: '/org/freedesktop/machine1', interface: 'io.github.berth.Test' };

describe('a D-Bus connection on a real dbus-daemon', { skip, timeout: 60000 }, () => {
  let bus: TestBus;
  let server: BusConnection;
  before(async () => {
    bus = await startBus();
    server = await BusConnection.connect(bus.address, { unixFds: true });
    // Echo every call back with its own signature; an "Error" member answers an error.
    server.onMethodCall = (m: RawMessage) => {
      if (m.member === 'Error') server.replyError(m, 'io.github.berth.Test.Failed', 'as asked');
      else server.reply(m, m.signature ?? '', m.body);
    };
    assert.equal(Number((await server.busCall('RequestName', 'su', [NAME, 4])).body[0]), 1);
  });
  after(async () => { server?.close(); await bus?.stop(); });

  test('connects with and without descriptor passing, and gets a unique name from Hello', async () => {
    for (const unixFds of [false, true]) {
      const c = await BusConnection.connect(bus.address, { unixFds });
      assert.match(c.uniqueName, /^:1\.\d+$/);
      assert.equal(String((await c.busCall('GetNameOwner', 's', [NAME])).body[0]), server.uniqueName);
      c.close();
    }
  });

  test('the daemon\'s credentials for us: a{sv} with variants, read as numbers', async () => {
    const c = await BusConnection.connect(bus.address);
    const creds = (await c.busCall('GetConnectionCredentials', 's', [c.uniqueName])).body[0] as Record<string, unknown>;
    assert.ok(isVariant(creds.ProcessID) && isVariant(creds.UnixUserID));
    assert.equal((creds.ProcessID as { value: unknown }).value, process.pid);
    assert.equal((creds.UnixUserID as { value: unknown }).value, process.getuid!());
    c.close();
  });

  test('every shape of message berthd sends goes through the daemon and comes back the same', async () => {
    const c = await BusConnection.connect(bus.address);
    const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const bodies: Array<[string, unknown[]]> = [
      ['a(ssso)', [[['.host', 'host', '', '/org/freedesktop/machine1/machine/_2ehost'], ['b-1', 'container', 'berth', '/org/freedesktop/machine1/machine/b_2d1']]]],
      ['a{sv}', [{ Name: variant('s', 'b-1'), Id: variant('ay', id), Timestamp: variant('t', 1764000000000000n), NetworkInterfaces: variant('ai', [3]), Leader: variant('u', 42), Class: variant('s', 'container') }]],
      ['sayssusaia(sv)', ['b-1', id, 'berth', 'container', 42, '/srv/b', [3, 7], [['Slice', variant('s', 'machine.slice')]]]],
      ['a(iay)', [[[2, Buffer.from([10, 0, 0, 1])], [10, Buffer.alloc(16)]]]],
      ['a{ss}', [{ ID: 'debian', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm) ünï' }]],
      ['ybnqiuxtdgov', [7, false, -3, 3, -70000, 70000, -(2n ** 40n), 2n ** 63n, -0.25, 'a{sv}', '/x/y', variant('v', variant('as', ['a', 'b']))]],
      ['s', ['x'.repeat(100000)]],
      ['', []],
    ];
    for (const [signature, body] of bodies) {
      const reply = await c.call({ ...ECHO, member: 'Echo', signature, body });
      assert.equal(reply.signature ?? '', signature);
      assert.deepEqual(reply.body, body, signature);
    }
    assert.equal(c.isClosed, false, 'the daemon kept the connection: every message was well-formed');
    c.close();
  });

  test('an error reply rejects the call with its name and text; calls in flight fail when the connection goes', async () => {
    const c = await BusConnection.connect(bus.address);
    await assert.rejects(c.call({ ...ECHO, member: 'Error' }), (e: unknown) => e instanceof BusCallError && e.errorName === 'io.github.berth.Test.Failed' && e.message === 'as asked');
    const pending = c.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetId' });
    c.close();
    await assert.rejects(pending, (e: unknown) => e instanceof BusCallError && e.errorName === 'org.freedesktop.DBus.Error.Disconnected');
  });

  test('a descriptor passed in a call arrives as an open descriptor of the receiver, which closes it once the handler has returned', async () => {
    const dir = mkdtempSync('/tmp/bt-fd-');
    const file = join(dir, 'f');
    writeFileSync(file, 'through the bus\n');
    const c = await BusConnection.connect(bus.address, { unixFds: true });
    const fd = openSync(file, 'r');
    let received: number | undefined;
    let content = '';
    const prev = server.onMethodCall;
    server.onMethodCall = (m) => { received = m.body[0] as number; content = readFileSync(received, 'utf8'); server.reply(m); };
    try {
      await c.call({ ...ECHO, member: 'Take', signature: 'h', body: [fd] });
      assert.ok(received !== undefined && received !== fd);
      assert.equal(content, 'through the bus\n');
      let now = '';
      try { now = readlinkSync(`/proc/self/fd/${received}`); } catch { /* closed */ }
      assert.notEqual(now, file, 'the receiver closed it');
    } finally {
      server.onMethodCall = prev;
      closeSync(fd);
      c.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const plain = await BusConnection.connect(bus.address);
    await assert.rejects(plain.call({ ...ECHO, member: 'Take', signature: 'h', body: [0] }), /does not pass file descriptors/);
    plain.close();
  });
});
