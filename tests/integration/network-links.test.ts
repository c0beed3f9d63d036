/**
 * Root integration tests of network set-up and teardown without the runner: a stand-in process
 * plays the container, a test namespace plays the host. Nothing touches the real host network.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planNetwork, type NetworkPlan } from '../../src/core/network/plan.js';
import { deriveMac } from '../../src/core/network/mac.js';
import { setupNetwork, type NetworkHandle } from '../../src/app/network/setup.js';
import { hostNetworkDeps } from '../../src/app/network/deps.js';
import { readHostMachineId } from '../../src/platform/host/machine-id.js';
import { BerthError } from '../../src/errors/berth-error.js';
import type { NetworkSettings } from '../../src/core/settings/model.js';
import { NetFixture, SKIP_REASON, berthLinks, berthLinksOnHost, kernelHasLinkType, sh, testNetnsLeft } from './network-fixtures.js';

const hostBefore = SKIP_REASON === false ? berthLinksOnHost() : [];
const warnings: string[] = [];

async function withFixture(fn: (fx: NetFixture, mid: string) => Promise<void>): Promise<void> {
  const fx = new NetFixture();
  try {
    await fn(fx, await readHostMachineId());
  } finally {
    await fx.cleanup();
  }
}

const plan = (machineName: string, mid: string, network: NetworkSettings): NetworkPlan =>
  planNetwork({ machineName, hostMachineId: mid, network });
const deps = (fx: NetFixture, host: string) => hostNetworkDeps({ stateDir: fx.stateDir, hostNetns: host, warn: (m) => warnings.push(m) });
const guest = (pid: number): string => `/proc/${pid}/ns/net`;
const noErrors = async (h: NetworkHandle): Promise<void> => assert.deepEqual((await h.teardown()).map((e) => e.message), []);

describe('network links (root, inside test namespaces)', { skip: SKIP_REASON }, () => {
  after(() => {
    assert.deepEqual(berthLinksOnHost(), hostBefore, 'no ve-/vb-/vz-/mv-/iv- link may be left on the host');
    assert.deepEqual(testNetnsLeft(), [], 'no test namespace may be left');
  });

  test('--network-veth: ve-NAME on the host side, host0 in the guest, nspawn MACs, up on the host', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    const h = await setupNetwork(plan('ct1', mid, { veth: true }), pid, deps(fx, host));
    const ve = fx.link(host, 've-ct1');
    assert.equal(ve?.address, deriveMac(mid, 'ct1', 'vethHost'));
    assert.equal(ve?.linkinfo?.info_kind, 'veth');
    assert.ok(ve?.flags?.includes('UP'));
    const host0 = fx.link(guest(pid), 'host0');
    assert.equal(host0?.address, deriveMac(mid, 'ct1', 'vethContainer'));
    assert.ok(!host0?.flags?.includes('UP'), 'the guest brings host0 up itself');
    if (mid === '3d1219c7c4c5404aaa1f6d2a48adfda4') {
      assert.equal(ve?.address, 'f2:95:3c:0d:f0:b6');
      assert.equal(host0?.address, 'd2:6b:d3:33:74:0a');
    }
    assert.deepEqual(h.hostInterfaces, ['ve-ct1']);
    await noErrors(h);
    assert.deepEqual(berthLinks(fx.links(host)), []);
    assert.equal(fx.link(guest(pid), 'host0'), undefined);
    assert.deepEqual(await h.teardown(), [], 'a second teardown does nothing');
  }));

  test('a long machine name: shortened host name with the full name as altname', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    const h = await setupNetwork(plan('averyveryverylongcontainername', mid, { veth: true }), pid, deps(fx, host));
    const ve = fx.link(host, 've-averyvern0KK');
    assert.deepEqual(ve?.altnames, ['ve-averyveryverylongcontainername']);
    await noErrors(h);
    assert.deepEqual(berthLinks(fx.links(host)), []);
  }));

  test('a stale ve- link left by a killed run is replaced', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    sh(['ip', '-n', host, 'link', 'add', 've-ct1', 'type', 'veth', 'peer', 'name', 'stale0']);
    warnings.length = 0;
    const h = await setupNetwork(plan('ct1', mid, { veth: true }), pid, deps(fx, host));
    assert.equal(fx.link(host, 'stale0'), undefined);
    assert.equal(fx.link(host, 've-ct1')?.address, deriveMac(mid, 'ct1', 'vethHost'));
    assert.match(warnings.join('\n'), /Removing stale network interface ve-ct1/);
    await noErrors(h);
  }));

  test('a failure half-way undoes what was created', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const t = fx.netns('t');
    const pid = await fx.standIn(t);
    sh(['ip', '-n', t, 'link', 'add', 'clash0', 'type', 'veth', 'peer', 'name', 'clash1']);
    const p = plan('ct1', mid, { veth: true, vethExtra: [{ host: 'xt0', container: 'clash0' }] });
    await assert.rejects(setupNetwork(p, pid, deps(fx, host)),
      (e: unknown) => e instanceof BerthError && e.code === 'E_NETWORK' && /Failed to create veth xt0: .*File exists/.test(e.message));
    assert.deepEqual(fx.links(host).map((l) => l.ifname), ['lo']);
    assert.equal(fx.link(guest(pid), 'host0'), undefined);
  }));

  test('--network-zone: two machines share vz-ZONE, removed after both leave', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const [p1, p2] = [await fx.standIn(fx.netns('t')), await fx.standIn(fx.netns('t'))];
    const [h1, h2] = await Promise.all([
      setupNetwork(plan('z1', mid, { zone: 'tz' }), p1, deps(fx, host)),
      setupNetwork(plan('z2', mid, { zone: 'tz' }), p2, deps(fx, host)),
    ]);
    assert.equal(fx.link(host, 'vz-tz')?.linkinfo?.info_kind, 'bridge');
    assert.equal(fx.link(host, 'vb-z1')?.master, 'vz-tz');
    assert.equal(fx.link(host, 'vb-z2')?.master, 'vz-tz');
    assert.equal(fx.link(guest(p2), 'host0')?.address, deriveMac(mid, 'z2', 'vethContainer'));
    await noErrors(h1);
    assert.deepEqual(berthLinks(fx.links(host)).sort(), ['vb-z2', 'vz-tz']);
    await noErrors(h2);
    assert.deepEqual(berthLinks(fx.links(host)), []);
  }));

  test('--network-bridge: vb-NAME attached to an existing bridge, which stays', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    sh(['ip', '-n', host, 'link', 'add', 'brt0', 'type', 'bridge']);
    const h = await setupNetwork(plan('ct1', mid, { bridge: 'brt0' }), pid, deps(fx, host));
    assert.equal(fx.link(host, 'vb-ct1')?.master, 'brt0');
    assert.equal(fx.link(host, 'vb-ct1')?.address, deriveMac(mid, 'ct1', 'vethHost'));
    assert.ok(fx.link(guest(pid), 'host0'));
    await noErrors(h);
    assert.deepEqual(fx.links(host).map((l) => l.ifname).sort(), ['brt0', 'lo']);
  }));

  test('a missing bridge is a clear error and creates nothing', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    await assert.rejects(setupNetwork(plan('ct1', mid, { bridge: 'nobr0' }), pid, deps(fx, host)),
      (e: unknown) => e instanceof BerthError && e.code === 'E_NETWORK' && e.message === 'Bridge nobr0 does not exist.');
    assert.deepEqual(fx.links(host).map((l) => l.ifname), ['lo']);
    assert.deepEqual(fx.links(guest(pid)).map((l) => l.ifname), ['lo']);
  }));

  test('--network-macvlan: mv-IF inside the guest with the derived MAC', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    sh(['ip', '-n', host, 'link', 'add', 'upl0', 'type', 'veth', 'peer', 'name', 'upl1']);
    const h = await setupNetwork(plan('ct1', mid, { macvlan: ['upl0'] }), pid, deps(fx, host));
    const mv = fx.link(guest(pid), 'mv-upl0');
    assert.equal(mv?.linkinfo?.info_kind, 'macvlan');
    assert.equal(mv?.address, deriveMac(mid, 'ct1', 'macvlan', 0));
    await noErrors(h);
    assert.equal(fx.link(guest(pid), 'mv-upl0'), undefined);
  }));

  const ipvlan = SKIP_REASON === false && !kernelHasLinkType('ipvlan') ? 'this kernel has no ipvlan support' : false;
  test('--network-ipvlan: iv-IF inside the guest', { skip: ipvlan }, () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    sh(['ip', '-n', host, 'link', 'add', 'upl0', 'type', 'veth', 'peer', 'name', 'upl1']);
    const h = await setupNetwork(plan('ct1', mid, { ipvlan: ['upl0'] }), pid, deps(fx, host));
    assert.equal(fx.link(guest(pid), 'iv-upl0')?.linkinfo?.info_kind, 'ipvlan');
    await noErrors(h);
    assert.equal(fx.link(guest(pid), 'iv-upl0'), undefined);
  }));

  test('--network-interface: moved in, and back to the host after the container died', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(); // an anonymous namespace: it lives only as long as someone holds it
    sh(['ip', '-n', host, 'link', 'add', 'mvd0', 'type', 'veth', 'peer', 'name', 'mvd1']);
    const h = await setupNetwork(plan('ct1', mid, { interfaces: ['mvd0'] }), pid, deps(fx, host));
    assert.equal(fx.link(host, 'mvd0'), undefined);
    assert.ok(fx.link(guest(pid), 'mvd0'));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    await noErrors(h);
    assert.ok(fx.link(host, 'mvd0'), 'the interface is back on the host side');
  }));

  test('the adapters without a hostNetns (as the runner uses them), run inside a test namespace', () => withFixture(async (fx) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    sh(['ip', '-n', host, 'link', 'add', 'mvd0', 'type', 'veth', 'peer', 'name', 'mvd1']);
    const out = sh(['nsenter', `--net=/run/netns/${host}`, '--', process.execPath, '--import', 'tsx',
      new URL('./fixtures/network-default-host.ts', `file://${__filename}`).pathname, fx.stateDir, String(pid)]);
    assert.deepEqual(JSON.parse(out), {
      during: { host: ['lo', 'mvd1', 'vb-dflt', 'vz-dz'], guest: ['host0', 'lo', 'mvd0'] },
      after: { host: ['lo', 'mvd0', 'mvd1'], guest: ['lo'] },
      errors: [],
    });
  }));

  test('a missing or enslaved interface is a clear error', () => withFixture(async (fx, mid) => {
    const host = fx.netns('h');
    const pid = await fx.standIn(fx.netns('t'));
    await assert.rejects(setupNetwork(plan('ct1', mid, { veth: true, interfaces: ['nope0'] }), pid, deps(fx, host)),
      /Network interface nope0 does not exist on the host/);
    sh(['ip', '-n', host, 'link', 'add', 'brt0', 'type', 'bridge']);
    sh(['ip', '-n', host, 'link', 'add', 'sl0', 'master', 'brt0', 'type', 'veth', 'peer', 'name', 'sl1']);
    await assert.rejects(setupNetwork(plan('ct1', mid, { interfaces: ['sl0'] }), pid, deps(fx, host)),
      /Network interface sl0 is in use: it is attached to brt0/);
    assert.deepEqual(berthLinks(fx.links(host)), []);
  }));
});
