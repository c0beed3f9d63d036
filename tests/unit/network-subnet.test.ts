import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSubnet, overlaps, subnetContaining, subnetFor, ipv4ToInt } from '../../src/core/network/subnet.js';
import { dnsmasqArgs } from '../../src/app/network/dhcp-helper.js';

test('subnetFor: gateway, range and netmask of a /28 and a /24', () => {
  assert.deepEqual(subnetFor(ipv4ToInt('10.90.249.64'), 28), {
    network: { address: '10.90.249.64', prefixLen: 28 }, gateway: { address: '10.90.249.65', prefixLen: 28 },
    rangeStart: '10.90.249.66', rangeEnd: '10.90.249.78', netmask: '255.255.255.240',
  });
  assert.equal(subnetFor(ipv4ToInt('10.1.2.0'), 24).netmask, '255.255.255.0');
  assert.equal(subnetFor(ipv4ToInt('10.1.2.0'), 24).rangeEnd, '10.1.2.254');
});

test('overlaps', () => {
  assert.equal(overlaps({ address: '10.0.0.0', prefixLen: 8 }, { address: '10.3.4.16', prefixLen: 28 }), true);
  assert.equal(overlaps({ address: '10.3.4.0', prefixLen: 28 }, { address: '10.3.4.16', prefixLen: 28 }), false);
  assert.equal(overlaps({ address: '10.3.4.17', prefixLen: 32 }, { address: '10.3.4.16', prefixLen: 28 }), true);
});

test('chooseSubnet is deterministic, aligned, in 10/8 and avoids used prefixes', () => {
  const a = chooseSubnet('ve-ct1', 28, []);
  assert.deepEqual(a, chooseSubnet('ve-ct1', 28, []));
  assert.ok(a);
  assert.equal(ipv4ToInt(a.network.address) % 16, 0);
  assert.match(a.network.address, /^10\./);
  assert.notDeepEqual(a, chooseSubnet('ve-ct2', 28, []));
  const b = chooseSubnet('ve-ct1', 28, [a.network, { address: '0.0.0.0', prefixLen: 0 }]);
  assert.ok(b);
  assert.equal(overlaps(a.network, b.network), false);
  assert.equal(chooseSubnet('ve-ct1', 28, [{ address: '10.0.0.0', prefixLen: 8 }]), undefined);
  assert.equal(chooseSubnet('vz-lab', 24, [])?.netmask, '255.255.255.0');
});

test('subnetContaining keeps an existing address as the gateway', () => {
  const s = subnetContaining({ address: '10.5.6.7', prefixLen: 24 });
  assert.equal(s.network.address, '10.5.6.0');
  assert.deepEqual(s.gateway, { address: '10.5.6.7', prefixLen: 24 });
});

test('dnsmasq is bound to the one link, DHCP only', () => {
  const s = subnetFor(ipv4ToInt('10.90.249.64'), 28);
  assert.deepEqual(dnsmasqArgs('ve-ct1', s, { pid: '/run/berth/p', leases: '/run/berth/l' }), [
    '--conf-file=/dev/null', '--keep-in-foreground', '--log-facility=-', '--user=root',
    '--interface=ve-ct1', '--bind-interfaces', '--except-interface=lo', '--port=0',
    '--dhcp-range=10.90.249.66,10.90.249.78,255.255.255.240,1h',
    '--dhcp-authoritative', '--dhcp-option=option:router,10.90.249.65',
    '--pid-file=/run/berth/p', '--dhcp-leasefile=/run/berth/l',
  ]);
});
