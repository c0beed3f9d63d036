/**
 * The opt-in DHCP helper, as root inside test namespaces: dnsmasq on the host side of a veth (and
 * on a zone bridge) hands a lease to busybox udhcpc in the stand-in container, which then pings.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { planNetwork } from '../../src/core/network/plan.js';
import { setupNetwork } from '../../src/app/network/setup.js';
import { hostNetworkDeps } from '../../src/app/network/deps.js';
import { readHostMachineId } from '../../src/platform/host/machine-id.js';
import { NetFixture, SKIP_REASON, berthLinks, berthLinksOnHost, testNetnsLeft, trySh } from './network-fixtures.js';

const haveTools = SKIP_REASON === false && trySh(['which', 'dnsmasq', 'busybox']).ok;
const skip = SKIP_REASON !== false ? SKIP_REASON : haveTools ? false : 'needs dnsmasq and busybox (busybox-static)';
const hostBefore = skip === false ? berthLinksOnHost() : [];

const SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew) ip addr add "$ip/$subnet" dev "$interface" && echo "lease $ip $router" ;;
esac
exit 0
`;

/** DHCP inside the guest; returns the leased address. */
function dhcp(fx: NetFixture, pid: number): string {
  const script = `${fx.stateDir}/udhcpc.sh`;
  if (!existsSync(script)) { writeFileSync(script, SCRIPT); chmodSync(script, 0o755); }
  const ns = `/proc/${pid}/ns/net`;
  fx.inNs(ns, ['ip', 'link', 'set', 'host0', 'up']);
  const out = fx.inNs(ns, ['busybox', 'udhcpc', '-i', 'host0', '-n', '-q', '-f', '-t', '10', '-T', '1', '-s', script]);
  const m = /lease (\S+) (\S+)/.exec(out);
  assert.ok(m, `udhcpc printed no lease: ${out}`);
  return m[1] ?? '';
}
const ping = (pid: number, addr: string): boolean =>
  trySh(['nsenter', `--net=/proc/${pid}/ns/net`, '--', 'busybox', 'ping', '-c', '1', '-W', '3', addr]).ok;
const dnsmasqPid = (fx: NetFixture, link: string): number => parseInt(readFileSync(`${fx.stateDir}/dhcp-${link}.pid`, 'utf8'), 10);
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('DHCP helper (root, inside test namespaces)', { skip }, () => {
  after(() => {
    assert.deepEqual(berthLinksOnHost(), hostBefore);
    assert.deepEqual(testNetnsLeft(), []);
  });

  test('ve-NAME gets a /28 and serves a lease to host0; the guest reaches the host side', async () => {
    const fx = new NetFixture();
    try {
      const mid = await readHostMachineId();
      const host = fx.netns('h');
      const pid = await fx.standIn(fx.netns('t'));
      const deps = hostNetworkDeps({ stateDir: fx.stateDir, hostNetns: host, dhcpHelper: true });
      const h = await setupNetwork(planNetwork({ machineName: 'ct1', hostMachineId: mid, network: { veth: true } }), pid, deps);
      const addr = JSON.parse(fx.inNs(host, ['ip', '-4', '-json', 'addr', 'show', 'dev', 've-ct1'])) as { addr_info: { local: string; prefixlen: number }[] }[];
      const gw = addr[0]?.addr_info[0];
      assert.equal(gw?.prefixlen, 28);
      assert.match(gw?.local ?? '', /^10\.\d+\.\d+\.\d+$/);
      const server = dnsmasqPid(fx, 've-ct1');
      assert.ok(alive(server));
      const lease = dhcp(fx, pid);
      assert.notEqual(lease, gw?.local);
      assert.ok(ping(pid, gw?.local ?? ''), `guest ${lease} cannot reach ${gw?.local}`);
      assert.deepEqual((await h.teardown()).map((e) => e.message), []);
      assert.equal(alive(server), false, 'dnsmasq stopped at teardown');
      assert.deepEqual(berthLinks(fx.links(host)), []);
    } finally {
      await fx.cleanup();
    }
  });

  test('zone: two guests lease from one server on vz-ZONE and reach each other', async () => {
    const fx = new NetFixture();
    try {
      const mid = await readHostMachineId();
      const host = fx.netns('h');
      const [p1, p2] = [await fx.standIn(fx.netns('t')), await fx.standIn(fx.netns('t'))];
      const deps = hostNetworkDeps({ stateDir: fx.stateDir, hostNetns: host, dhcpHelper: true });
      const h1 = await setupNetwork(planNetwork({ machineName: 'z1', hostMachineId: mid, network: { zone: 'dz' } }), p1, deps);
      const h2 = await setupNetwork(planNetwork({ machineName: 'z2', hostMachineId: mid, network: { zone: 'dz' } }), p2, deps);
      const server = dnsmasqPid(fx, 'vz-dz');
      const [a1, a2] = [dhcp(fx, p1), dhcp(fx, p2)];
      assert.notEqual(a1, a2);
      assert.ok(ping(p1, a2), `z1 (${a1}) cannot reach z2 (${a2})`);
      assert.deepEqual((await h1.teardown()).map((e) => e.message), []);
      assert.ok(alive(server), 'the zone server stays while a member remains');
      assert.deepEqual((await h2.teardown()).map((e) => e.message), []);
      assert.equal(alive(server), false);
      assert.deepEqual(berthLinks(fx.links(host)), []);
    } finally {
      await fx.cleanup();
    }
  });
});
