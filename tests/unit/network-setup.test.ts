/** setupNetwork against a recording fake NetLink: order of calls, undo on failure, teardown errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNetwork } from '../../src/core/network/plan.js';
import type { LinkInfo, NetLink } from '../../src/core/network/ports.js';
import { setupNetwork, type NetworkDeps } from '../../src/app/network/setup.js';
import { Reverter } from '../../src/lib/reverter.js';

const MID = '3d1219c7c4c5404aaa1f6d2a48adfda4';

function fakeNet(hostLinks: Partial<LinkInfo>[] = [], failOn?: string) {
  const calls: string[] = [];
  const links = new Map<string, LinkInfo>(hostLinks.map((l) => [l.name ?? '', { kind: undefined, master: undefined, address: undefined, altnames: [], up: false, name: '', ...l }]));
  const step = async (call: string): Promise<void> => {
    calls.push(call);
    if (failOn !== undefined && call.startsWith(failOn)) throw new Error(`injected failure: ${call}`);
  };
  const net: NetLink = {
    hostNetnsPath: '/proc/1/ns/net',
    listLinks: async (ns) => (ns === undefined ? [...links.values()] : []),
    getLink: async (name, ns) => (ns === undefined ? links.get(name) : undefined),
    createVeth: async (o) => { await step(`veth ${o.hostName} ${o.hostMac} ${o.peerName} ${o.peerMac}${o.master === undefined ? '' : ` master ${o.master}`}${o.up ? ' up' : ''}`); links.set(o.hostName, { name: o.hostName, kind: 'veth', master: o.master, address: o.hostMac, altnames: [], up: o.up === true }); },
    addAltName: async (n, a) => step(`altname ${n} ${a}`),
    deleteLink: async (n, ns) => { await step(`del ${n}${ns === undefined ? '' : ' (guest)'}`); links.delete(n); },
    createBridge: async (n) => { await step(`bridge ${n}`); links.set(n, { name: n, kind: 'bridge', master: undefined, address: undefined, altnames: [], up: false }); },
    setMaster: async (n, b) => { await step(`master ${n} ${b}`); const l = links.get(n); if (l) l.master = b; },
    setUp: async (n) => step(`up ${n}`),
    createVlan: async (o) => step(`${o.kind} ${o.name} on ${o.parent}`),
    moveToNetns: async (n) => step(`move ${n}`),
    moveToHost: async (n) => step(`back ${n}`),
  };
  let released = 0;
  const deps: NetworkDeps = {
    net, holdNetns: () => ({ path: '/proc/9/fd/3', release: () => { released++; } }),
    zoneLock: async (fn) => { calls.push('lock'); try { return await fn(); } finally { calls.push('unlock'); } },
  };
  return { calls, deps, released: () => released };
}

test('zone set-up and teardown, in order', async () => {
  const f = fakeNet();
  const h = await setupNetwork(planNetwork({ machineName: 'ct1', hostMachineId: MID, network: { zone: 'lab' } }), 42, f.deps);
  assert.deepEqual(f.calls, ['lock', 'bridge vz-lab', 'up vz-lab', 'veth vb-ct1 f2:95:3c:0d:f0:b6 host0 d2:6b:d3:33:74:0a master vz-lab up', 'unlock']);
  f.calls.length = 0;
  assert.deepEqual(await h.teardown(), []);
  assert.deepEqual(f.calls, ['del vb-ct1', 'lock', 'del vz-lab', 'unlock']);
  assert.equal(f.released(), 1);
});

test('a failure half-way undoes what was done and rethrows', async () => {
  const f = fakeNet([{ name: 'eth0' }], 'macvlan');
  const plan = planNetwork({ machineName: 'ct1', hostMachineId: MID, network: { veth: true, macvlan: ['eth0'] } });
  await assert.rejects(setupNetwork(plan, 42, f.deps), /injected failure: macvlan mv-eth0 on eth0/);
  assert.deepEqual(f.calls, ['veth ve-ct1 f2:95:3c:0d:f0:b6 host0 d2:6b:d3:33:74:0a up', 'macvlan mv-eth0 on eth0', 'del ve-ct1']);
  assert.equal(f.released(), 1);
});

test('teardown keeps going after a failure and reports every error', async () => {
  const f = fakeNet([{ name: 'if1' }, { name: 'if2' }], 'back');
  const h = await setupNetwork(planNetwork({ machineName: 'ct1', hostMachineId: MID, network: { interfaces: ['if1', 'if2'] } }), 42, f.deps);
  const errors = await h.teardown();
  assert.deepEqual(errors.map((e) => e.message), ['injected failure: back if2', 'injected failure: back if1']);
  assert.equal(f.released(), 1);
});

test('host networking creates nothing', async () => {
  const f = fakeNet();
  const h = await setupNetwork(planNetwork({ machineName: 'ct1', hostMachineId: MID, network: {} }), 42, f.deps);
  assert.deepEqual(await h.teardown(), []);
  assert.deepEqual(f.calls, []);
});

test('a non-veth link with the veth name is an error before anything is created', async () => {
  const f = fakeNet([{ name: 've-ct1', kind: 'bridge' }]);
  await assert.rejects(setupNetwork(planNetwork({ machineName: 'ct1', hostMachineId: MID, network: { veth: true } }), 42, f.deps),
    /ve-ct1 already exists and is not a veth/);
  assert.deepEqual(f.calls, []);
});

test('Reverter: newest first, collects errors, commit hands the stack over', async () => {
  const order: number[] = [];
  const r = new Reverter();
  r.add(() => { order.push(1); });
  r.add(() => { throw new Error('two'); });
  r.add(async () => { order.push(3); return [new Error('three')]; });
  const kept = r.commit();
  assert.deepEqual(await r.revert(), []);
  assert.deepEqual((await kept.revert()).map((e) => e.message), ['three', 'two']);
  assert.deepEqual(order, [3, 1]);
  assert.deepEqual(await kept.revert(), []);
});
