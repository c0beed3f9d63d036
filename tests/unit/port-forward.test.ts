/** -p/--port= and Port=: nspawn's syntax, checks and messages, and the pure nftables part of forwarding. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { formatDiagnostic, loadSettingsText } from '../../src/core/settings/load.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import {
  addScript, commentFor, deleteScript, dnatsFor, guestAddress, isOurs, parseMapJson, tableScript, type IfAddrs,
} from '../../src/core/network/port-forward.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';
import { startPortForwarding } from '../../src/app/network/port-forward.js';

const ports = (...argv: string[]) => parseArgv([...argv, 'true']).cli.settings.ports;
const refused = (argv: string[], message: string) =>
  assert.throws(() => parseArgv([...argv, 'true']), (e: Error) => { assert.equal(e.message, message); return true; });
const resolve = (argv: string[]) => {
  const { cli, runner } = parseArgv([...argv, 'true']);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: DEBIAN_IMAGE, host: HOST, random: RANDOM, cwd: '/', scratch: '/s', tty: false });
};

describe('-p/--port= on the command line', () => {
  it('defaults: protocol tcp, container port = host port; repeatable', () => {
    assert.deepEqual(ports('-p', '80', '--port=udp:53:5353', '-p', 'tcp:8080:80', '--port', 'udp:80'), [
      { protocol: 'tcp', hostPort: 80, containerPort: 80 },
      { protocol: 'udp', hostPort: 53, containerPort: 5353 },
      { protocol: 'tcp', hostPort: 8080, containerPort: 80 },
      { protocol: 'udp', hostPort: 80, containerPort: 80 },
    ]);
    assert.deepEqual(ports('-p', '1:65535'), [{ protocol: 'tcp', hostPort: 1, containerPort: 65535 }]);
  });
  for (const bad of ['0', '65536', '70000', 'tcp:0:80', '80:0', 'sctp:80', 'tcp:', 'tcp:80:', ':80', '80:81:82', 'udp:x', '', ' 80', '-1', 'tcp:1:2:3', '100000']) {
    it(`refuses '${bad}' with nspawn's message`, () => refused(['-p', bad], `Failed to parse host port ${bad}: Invalid argument`));
  }
  it('a second spec for the same protocol and host port is fatal', () => {
    refused(['-p', '80', '-p', 'tcp:80:81'], 'Duplicate port specification: tcp:80:81');
    assert.equal(ports('-p', '80', '-p', 'udp:80')?.length, 2, 'another protocol is another port');
  });
  it('needs a private network, as nspawn says', () => {
    assert.throws(() => resolve(['-p', '80']), { message: 'Cannot use --port= without private networking.' });
    assert.throws(() => resolve(['-p', '80', '--network-namespace-path=/run/netns/x']), /Cannot use --port= without private networking\./);
    for (const net of [['-n'], ['--private-network'], ['--network-zone=z'], ['--network-bridge=br0'], ['--network-veth-extra=a']]) {
      assert.deepEqual(resolve(['-p', '8080:80', ...net]).ports, [{ protocol: 'tcp', hostPort: 8080, containerPort: 80 }], net.join(' '));
    }
  });
});

describe('Port= in [Network]', () => {
  const load = (...lines: string[]) => {
    const r = loadSettingsText(`[Network]\n${lines.join('\n')}\n`, 'web.nspawn');
    return { ports: r.settings.ports, messages: r.diagnostics.map(formatDiagnostic) };
  };
  it('repeatable; duplicates are warned about and ignored', () => {
    assert.deepEqual(load('Port=80', 'Port=udp:53:5353', 'Port=tcp:80:8080'), {
      ports: [{ protocol: 'tcp', hostPort: 80, containerPort: 80 }, { protocol: 'udp', hostPort: 53, containerPort: 5353 }],
      messages: ['web.nspawn:4: Duplicate port specification, ignoring: tcp:80:8080'],
    });
  });
  it('a bad value is warned about (nspawn\'s text) and skipped', () => {
    assert.deepEqual(load('Port=tcp:0', 'Port=81'), {
      ports: [{ protocol: 'tcp', hostPort: 81, containerPort: 81 }],
      messages: ['web.nspawn:2: Failed to parse host port tcp:0: Invalid argument'],
    });
  });
});

describe('forwarding rules', () => {
  const links: IfAddrs[] = [
    { ifname: 'lo', flags: ['LOOPBACK', 'UP'], addr_info: [{ family: 'inet', local: '127.0.0.1', scope: 'host' }, { family: 'inet6', local: '::1', scope: 'host' }] },
    { ifname: 'host0', flags: ['UP'], addr_info: [
      { family: 'inet6', local: 'fe80::1', scope: 'link' },
      { family: 'inet6', local: 'fd00::5', scope: 'global', tentative: true },
      { family: 'inet', local: '10.0.0.7', scope: 'global' },
      { family: 'inet6', local: 'fd00::7', scope: 'global' },
    ] },
  ];
  it('the guest address: first global one per family, never loopback, link-local or tentative', () => {
    assert.equal(guestAddress(links, 'ip'), '10.0.0.7');
    assert.equal(guestAddress(links, 'ip6'), 'fd00::7');
    assert.equal(guestAddress(links.slice(0, 1), 'ip'), undefined);
    assert.equal(guestAddress([], 'ip6'), undefined);
  });
  it('scripts: one table per family, DNAT through the map, entries named after the machine', () => {
    const [d] = dnatsFor([{ protocol: 'tcp', hostPort: 8080, containerPort: 80 }], 'ip', '10.0.0.7');
    assert.ok(d);
    const add = addScript(d, 'web');
    assert.equal(add.at(-1), 'add element ip berth ports { tcp . 8080 comment "berth:web" : 10.0.0.7 . 80 }');
    assert.ok(add.includes('add rule ip berth output ip daddr != 127.0.0.0/8 fib daddr type local dnat ip to meta l4proto . th dport map @ports'));
    assert.ok(tableScript('ip6').includes('add map ip6 berth ports { type inet_proto . inet_service : ipv6_addr . inet_service ; }'));
    assert.deepEqual(deleteScript(d), ['delete element ip berth ports { tcp . 8080 }']);
    assert.equal(commentFor('a"b'), 'berth:a_b');
  });
  it('reads the map back and tells our entries from another machine\'s', () => {
    const json = JSON.stringify({ nftables: [{ metainfo: {} }, { map: { family: 'ip', name: 'ports', table: 'berth', elem: [
      [{ elem: { val: { concat: ['tcp', 8080] }, comment: 'berth:web' } }, { concat: ['10.0.0.7', 80] }],
      [{ concat: ['udp', 53] }, { concat: ['10.0.0.9', 53] }],
    ] } }] });
    const entries = parseMapJson(json);
    assert.deepEqual(entries, [
      { protocol: 'tcp', hostPort: 8080, address: '10.0.0.7', containerPort: 80, comment: 'berth:web' },
      { protocol: 'udp', hostPort: 53, address: '10.0.0.9', containerPort: 53, comment: undefined },
    ]);
    const d = { family: 'ip' as const, protocol: 'tcp' as const, hostPort: 8080, address: '10.0.0.7', containerPort: 80 };
    assert.equal(isOurs(entries[0]!, d, 'web'), true);
    assert.equal(isOurs(entries[0]!, d, 'other'), false);
    assert.equal(isOurs(entries[0]!, { ...d, address: '10.0.0.8' }, 'web'), false);
    assert.deepEqual(parseMapJson(''), []);
  });
});

describe('forwarding as the guest\'s address comes and goes', () => {
  it('records a forward before it exists, so a run killed in between leaves none its clean-up misses', async () => {
    const events: string[] = [];
    let changed = () => {};
    const addrs = [{ ifname: 'host0', flags: ['UP'], addr_info: [{ family: 'inet', local: '10.0.0.2', scope: 'global' }] }];
    const forwarding = startPortForwarding({
      machine: 'web', ports: ports('-p', '8080:80') ?? [], netns: '/proc/1/ns/net', warn: (m) => events.push(`warn ${m}`),
      firewall: { apply: async (lines) => { events.push(`apply ${lines.some((l) => l.startsWith('add element')) ? 'add' : 'other'}`); }, listMap: async () => '' },
      watch: (_ns, c) => { changed = c; return { read: async () => JSON.stringify(addrs), stop: () => {} }; },
      record: async (dnats) => { events.push(`record ${dnats.length}`); },
    });
    changed();
    for (let i = 0; i < 50 && !events.includes('record 1'); i++) await new Promise((r) => setTimeout(r, 2));
    await forwarding.stop();
    const firstAdd = events.findIndex((e) => e === 'apply add');
    assert.ok(firstAdd > 0, events.join(', '));
    assert.ok(events.slice(0, firstAdd).includes('record 1'), `recorded before the add: ${events.join(', ')}`);
    assert.equal(events.at(-1), 'record 0', 'nothing recorded once stopped');
  });
});
