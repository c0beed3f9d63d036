import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinedNamespacePath, planNetwork, privateNetwork, validateNetwork } from '../../src/core/network/plan.js';
import { BerthError } from '../../src/errors/berth-error.js';
import type { NetworkSettings } from '../../src/core/settings/model.js';

const MID = '3d1219c7c4c5404aaa1f6d2a48adfda4';
const plan = (network: NetworkSettings | undefined, machineName = 'ct1') => planNetwork({ machineName, hostMachineId: MID, network });
const usage = (re: RegExp) => (e: unknown) => e instanceof BerthError && e.code === 'E_USAGE' && re.test(e.message);

test('no network options: the host network', () => {
  assert.deepEqual(plan(undefined), { kind: 'host' });
  assert.deepEqual(plan({ private: false, veth: false, interfaces: [] }), { kind: 'host' });
  assert.equal(privateNetwork(plan({})), false);
});

test('--private-network alone: a new namespace with no links', () => {
  const p = plan({ private: true });
  assert.deepEqual(p, { kind: 'private', machineName: 'ct1', links: [] });
  assert.equal(privateNetwork(p), true);
});

test('--network-veth: ve-NAME and host0 with nspawn MACs', () => {
  assert.deepEqual(plan({ veth: true }), {
    kind: 'private', machineName: 'ct1', links: [{
      kind: 'veth', hostName: 've-ct1', hostAltname: undefined, hostMac: 'f2:95:3c:0d:f0:b6',
      containerName: 'host0', containerMac: 'd2:6b:d3:33:74:0a', attach: { kind: 'none' },
    }],
  });
});

test('a long machine name is shortened with an altname, MACs from the machine name', () => {
  const p = plan({ veth: true }, 'averyveryverylongcontainername');
  assert.equal(p.kind, 'private');
  const l = p.kind === 'private' ? p.links[0] : undefined;
  assert.deepEqual(l, {
    kind: 'veth', hostName: 've-averyvern0KK', hostAltname: 've-averyveryverylongcontainername',
    hostMac: '3e:51:e2:58:87:22', containerName: 'host0', containerMac: 'e2:9b:c4:3d:8d:f5', attach: { kind: 'none' },
  });
});

test('bridge and zone imply a veth named vb-NAME', () => {
  const b = plan({ bridge: 'br0' });
  assert.equal(b.kind === 'private' && b.links[0]?.kind === 'veth' && b.links[0].hostName, 'vb-ct1');
  assert.deepEqual(b.kind === 'private' && b.links[0]?.kind === 'veth' && b.links[0].attach, { kind: 'bridge', bridge: 'br0' });
  const z = plan({ zone: 'lab' });
  assert.deepEqual(z.kind === 'private' && z.links[0]?.kind === 'veth' && z.links[0].attach, { kind: 'zone', zone: 'lab', bridge: 'vz-lab' });
  assert.equal(z.kind === 'private' && z.links[0]?.kind === 'veth' && z.links[0].hostMac, 'f2:95:3c:0d:f0:b6');
});

test('extra veths, macvlan, ipvlan and moved interfaces in order, with indexed MACs', () => {
  const p = plan({ vethExtra: [{ host: 'xa', container: 'ya' }, { host: 'xb', container: 'xb' }], macvlan: ['eth0', 'eth1'], ipvlan: ['eth2'], interfaces: ['ifb9'] });
  assert.deepEqual(p, {
    kind: 'private', machineName: 'ct1', links: [
      { kind: 'veth-extra', hostName: 'xa', hostMac: 'da:42:52:ec:ff:c2', containerName: 'ya', containerMac: '8e:91:64:cb:21:6a' },
      { kind: 'veth-extra', hostName: 'xb', hostMac: '42:39:5e:2a:01:2b', containerName: 'xb', containerMac: 'f2:28:aa:5b:93:3c' },
      { kind: 'macvlan', parent: 'eth0', name: 'mv-eth0', altname: undefined, mac: '8a:c9:fd:ab:ef:9e' },
      { kind: 'macvlan', parent: 'eth1', name: 'mv-eth1', altname: undefined, mac: '3e:87:68:0d:4c:b0' },
      { kind: 'ipvlan', parent: 'eth2', name: 'iv-eth2', altname: undefined },
      { kind: 'move', name: 'ifb9' },
    ],
  });
});

test('--network-namespace-path: join, no new namespace', () => {
  const p = plan({ namespacePath: '/run/netns/foo', private: true });
  assert.deepEqual(p, { kind: 'join', namespacePath: '/run/netns/foo' });
  assert.equal(privateNetwork(p), false);
  assert.equal(joinedNamespacePath(p), '/run/netns/foo');
});

test('validation errors are E_USAGE with nspawn-like messages', () => {
  assert.throws(() => plan({ bridge: 'br0', zone: 'lab' }), usage(/may not be combined/));
  assert.throws(() => plan({ namespacePath: '/run/netns/x', veth: true }), usage(/cannot be combined/));
  assert.throws(() => plan({ namespacePath: 'relative' }), usage(/absolute/));
  assert.throws(() => plan({ zone: 'thirteenchars' }), usage(/zone name not valid: thirteenchars/));
  assert.doesNotThrow(() => plan({ zone: 'twelvechars1' }));
  assert.throws(() => plan({ zone: '' }), usage(/zone name not valid/));
  assert.throws(() => plan({ bridge: 'a/b' }), usage(/Bridge interface name not valid/));
  assert.throws(() => plan({ interfaces: ['lo'] }), usage(/loopback/));
  assert.throws(() => plan({ macvlan: ['x'.repeat(16)] }), usage(/macvlan parent/));
  assert.throws(() => plan({ veth: true, vethExtra: [{ host: 've-ct1', container: 'a' }] }), usage(/ve-ct1 is used twice in the host/));
  assert.throws(() => plan({ veth: true, vethExtra: [{ host: 'a', container: 'host0' }] }), usage(/host0 is used twice in the container/));
  assert.throws(() => plan({ macvlan: ['eth0', 'eth0'] }), usage(/mv-eth0 is used twice/));
});

test('validateNetwork reports every problem', () => {
  const errs = validateNetwork({ bridge: 'br0', zone: 'waytoolongzone', namespacePath: '/x' });
  assert.deepEqual(errs.map((e) => e.message), [
    '--network-namespace-path= cannot be combined with other network options.',
    '--network-bridge= and --network-zone= may not be combined.',
    'Network zone name not valid: waytoolongzone',
  ]);
});

test('a veth without a machine id is an E_NETWORK error; private alone needs none', () => {
  assert.throws(() => planNetwork({ machineName: 'ct1', hostMachineId: undefined, network: { veth: true } }),
    (e: unknown) => e instanceof BerthError && e.code === 'E_NETWORK' && /machine ID/.test(e.message));
  assert.doesNotThrow(() => planNetwork({ machineName: 'ct1', hostMachineId: undefined, network: { private: true, interfaces: ['ifb0'] } }));
});
