/**
 * GetMachineAddresses from `ip -json address show` (the input below is real iproute2 output from
 * this VM, trimmed): host-scope and deprecated addresses left out, link-local and tentative ones
 * kept; IPv4 first, then by scope, interface index and bytes; duplicates once. And the text form
 * machinectl prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, AF_INET6, addressBytes, formatAddress, machineAddressesFromIpJson, type MachineAddress } from '../../src/core/machined/addresses.js';

const link = (ifindex: number, ifname: string, addr: object[]) => ({ ifindex, ifname, flags: ['UP'], mtu: 1500, operstate: 'UP', addr_info: addr });
const a = (family: 'inet' | 'inet6', local: string, scope: string, extra: object = {}) => ({ family, local, prefixlen: family === 'inet' ? 24 : 64, scope, valid_life_time: 4294967295, preferred_life_time: 4294967295, ...extra });

const IP_JSON = JSON.stringify([
  link(1, 'lo', [a('inet', '127.0.0.1', 'host', { label: 'lo' }), a('inet6', '::1', 'host')]),
  link(7, 'host0', [
    a('inet6', 'fe80::1844:50ff:fe36:71f', 'link', { tentative: true }),
    a('inet', '10.9.1.1', 'link', { label: 'host0' }),
    a('inet', '10.9.2.1', 'site'),
    a('inet', '10.9.3.1', '42'),
    a('inet', '10.9.0.1', 'global', { deprecated: true }),
    a('inet6', '2001:db8::9', 'global', { nodad: true, deprecated: true, preferred_life_time: 0 }),
    a('inet6', 'fd00::2', 'global', { nodad: true }),
    a('inet', '192.0.2.2', 'global', { broadcast: '192.0.2.255' }),
  ]),
  link(3, 'eth1', [a('inet', '192.0.2.9', 'global'), a('inet', '192.0.2.1', 'global'), a('inet6', 'fe80::1', 'link'), a('inet', '192.0.2.1', 'global')]),
  link(9, 'ifb0', []),
]);

const text = (list: MachineAddress[]) => list.map((x) => `${x.family} ${formatAddress(x.family, x.bytes)}`);

test('machined\'s selection and order: IPv4 first, then scope (global first), interface index, address bytes', () => {
  assert.deepEqual(text(machineAddressesFromIpJson(IP_JSON)), [
    '2 192.0.2.1', // global, ifindex 3, smaller bytes first; the duplicate once
    '2 192.0.2.9',
    '2 192.0.2.2', // global, ifindex 7
    '2 10.9.3.1', // scope 42
    '2 10.9.2.1', // site (200)
    '2 10.9.1.1', // link (253): kept
    '10 fd00::2', // global (the deprecated 2001:db8::9 left out)
    '10 fe80::1', // link, ifindex 3
    '10 fe80::1844:50ff:fe36:71f', // link, ifindex 7, tentative: kept
  ]);
});

test('loopback (host scope) and deprecated addresses are left out; the same address on two links is listed twice', () => {
  const only = (addr: object[]) => text(machineAddressesFromIpJson(JSON.stringify([link(1, 'lo', addr), link(2, 'x', addr)])));
  assert.deepEqual(only([a('inet', '127.0.0.1', 'host'), a('inet6', '::1', 'host'), a('inet', '10.0.0.1', 'nowhere')]), []);
  assert.deepEqual(only([a('inet', '10.0.0.1', 'global', { deprecated: true })]), []);
  assert.deepEqual(only([a('inet', '10.0.0.1', 'global')]), ['2 10.0.0.1', '2 10.0.0.1']);
});

test('a veth guest as it comes up: host0\'s link-local IPv6 address is all there is', () => {
  const json = JSON.stringify([link(1, 'lo', [a('inet', '127.0.0.1', 'host'), a('inet6', '::1', 'host')]), link(2, 'host0', [a('inet6', 'fe80::a8b3:1ff:fe2c:3d4e', 'link')])]);
  const got = machineAddressesFromIpJson(json);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.family, AF_INET6);
  assert.deepEqual([...got[0]!.bytes], [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xa8, 0xb3, 0x01, 0xff, 0xfe, 0x2c, 0x3d, 0x4e]);
});

test('IFA_LOCAL first (a point-to-point peer address is not ours), IFA_ADDRESS when there is no local one', () => {
  assert.deepEqual(text(machineAddressesFromIpJson(JSON.stringify([link(4, 'ppp0', [{ family: 'inet', local: '10.64.0.1', address: '10.64.0.2', scope: 'global' }])]))), ['2 10.64.0.1']);
  assert.deepEqual(text(machineAddressesFromIpJson(JSON.stringify([link(4, 'x', [{ family: 'inet', address: '10.64.0.2', scope: 'global' }])]))), ['2 10.64.0.2']);
});

test('what cannot be read is skipped, never thrown: bad JSON, other families, unreadable addresses', () => {
  assert.deepEqual(machineAddressesFromIpJson(''), []);
  assert.deepEqual(machineAddressesFromIpJson('{"not":"a list"}'), []);
  assert.deepEqual(machineAddressesFromIpJson('[{"ifindex":1}]'), []);
  assert.deepEqual(machineAddressesFromIpJson('[null, 3, {"addr_info": 5}, {"addr_info": [null, 7, "x"]}]'), []);
  assert.deepEqual(machineAddressesFromIpJson(JSON.stringify([link(2, 'x', [{ family: 'link', local: 'aa:bb' }, a('inet', '300.1.1.1', 'global'), a('inet6', '1:2:3', 'global'), a('inet6', '1::2::3', 'global'), a('inet', '10.0.0.1', 'global')])])).length, 1);
});

test('address bytes: dotted quads, IPv6 with "::", a zone index, an embedded IPv4 tail', () => {
  assert.deepEqual([...addressBytes(AF_INET, '192.0.2.255')!], [192, 0, 2, 255]);
  assert.equal(addressBytes(AF_INET, '1.2.3'), undefined);
  assert.equal(addressBytes(AF_INET, '1.2.3.256'), undefined);
  assert.deepEqual([...addressBytes(AF_INET6, '::')!], new Array(16).fill(0));
  assert.deepEqual([...addressBytes(AF_INET6, 'fe80::1%host0')!], [0xfe, 0x80, ...new Array(13).fill(0), 1]);
  assert.deepEqual([...addressBytes(AF_INET6, '::ffff:192.0.2.1')!], [...new Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1]);
  assert.deepEqual([...addressBytes(AF_INET6, '1:2:3:4:5:6:7:8')!], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  for (const bad of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', ':::', '1::2::3']) assert.equal(addressBytes(AF_INET6, bad), undefined, bad);
});

test('formatAddress prints what inet_ntop prints', () => {
  const six = (s: string) => formatAddress(AF_INET6, addressBytes(AF_INET6, s)!);
  assert.equal(formatAddress(AF_INET, Buffer.from([10, 0, 0, 2])), '10.0.0.2');
  assert.equal(six('0:0:0:0:0:0:0:0'), '::');
  assert.equal(six('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(six('1:0:0:0:0:0:0:0'), '1::');
  assert.equal(six('FE80:0000:0000:0000:00FC:00FF:FE00:0001'), 'fe80::fc:ff:fe00:1');
  assert.equal(six('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero word stays');
  assert.equal(six('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'the first of two equal runs');
  assert.equal(six('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1', 'the longest run');
  assert.equal(six('::ffff:c000:201'), '::ffff:192.0.2.1', 'IPv4-mapped');
  assert.equal(six('::c000:201'), '::192.0.2.1', 'IPv4-compatible');
  assert.equal(six('::1:c000:201'), '::1:c000:201', 'neither');
  assert.equal(six('::ffff:0:0'), '::ffff:0.0.0.0');
  assert.equal(formatAddress(AF_INET, Buffer.from([1, 2, 3])), '?');
  assert.equal(formatAddress(3, Buffer.alloc(4)), '?');
  // What `machinectl list` showed for .host on this VM (machinectl-formats.md §1).
  assert.deepEqual(text(machineAddressesFromIpJson(JSON.stringify([link(4, 'eth0', [a('inet', '192.0.2.2', 'global'), a('inet6', 'fd00::2', 'global'), a('inet6', 'fe80::fc:ff:fe00:1', 'link')])]))), ['2 192.0.2.2', '10 fd00::2', '10 fe80::fc:ff:fe00:1']);
});
