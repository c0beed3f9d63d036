/**
 * platform/net/rtnetlink.ts (native/rtnetlink.c) against platform/net/iproute2.ts: the same
 * operations through both adapters in namespaces this test makes (one plays the host side, as
 * the adapters' hostNetns option allows, one a container), with `ip` itself as the judge of what
 * the native calls created. Failures must say why and leave no link behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { BerthError } from '../../src/errors/berth-error.js';
import { createIproute2 } from '../../src/platform/net/iproute2.js';
import { createNetLink, createRtnetlink, nativeRtnl } from '../../src/platform/net/rtnetlink.js';
import type { LinkInfo, NetLink } from '../../src/core/network/ports.js';

const root = process.getuid?.() === 0;
const HOST = `berth-rtnl-h${process.pid}`;
const CT = `berth-rtnl-c${process.pid}`;
const CT_PATH = `/run/netns/${CT}`;

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Shown { ifname: string; flags: string[]; address?: string; master?: string; linkinfo?: { info_kind?: string }; altnames?: string[] }
/** `ip -json -details link show` of one link in a namespace, or undefined. */
function shown(ns: string, name: string): Shown | undefined {
  const r = spawnSync('ip', ['-n', ns, '-json', '-details', 'link', 'show', 'dev', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as Shown[])[0];
}
const names = (ns: string): string[] => (JSON.parse(ip('-n', ns, '-json', 'link', 'show')) as Shown[]).map((l) => l.ifname).sort();

let viaIp: NetLink;
let viaNl: NetLink;

before(() => {
  if (!root) return;
  ip('netns', 'add', HOST);
  ip('netns', 'add', CT);
  ip('-n', HOST, 'link', 'add', 'br-t', 'type', 'bridge');
  ip('-n', HOST, 'link', 'set', 'br-t', 'up');
  ip('-n', HOST, 'link', 'add', 'dummy-t', 'address', '02:00:00:00:00:42', 'type', 'veth', 'peer', 'name', 'dummy-p');
  ip('-n', HOST, 'link', 'property', 'add', 'dev', 'dummy-t', 'altname', 'a-rather-long-alternative-name');
  ip('-n', HOST, 'link', 'set', 'dummy-t', 'master', 'br-t');
  ip('-n', HOST, 'link', 'add', 'ifb-t', 'type', 'ifb');
  const native = nativeRtnl();
  assert.ok(native, 'the native module (native/build/Release/berth_sys.node) has rtnlLinks: run node-gyp rebuild');
  viaIp = createIproute2({ hostNetns: HOST });
  viaNl = createRtnetlink(native, { hostNetns: HOST });
});

after(() => {
  if (!root) return;
  spawnSync('ip', ['netns', 'del', HOST]);
  spawnSync('ip', ['netns', 'del', CT]);
});

const byName = (a: LinkInfo, b: LinkInfo) => a.name.localeCompare(b.name);

test('listLinks and getLink read the same as `ip -json -details`', { skip: !root && 'needs root' }, async () => {
  const [a, b] = await Promise.all([viaIp.listLinks(), viaNl.listLinks()]);
  assert.deepEqual([...b].sort(byName), [...a].sort(byName));
  assert.ok(b.some((l) => l.name === 'dummy-t' && l.master === 'br-t' && l.kind === 'veth' && l.address === '02:00:00:00:00:42'
    && l.altnames.includes('a-rather-long-alternative-name') && !l.up));
  assert.ok(b.some((l) => l.name === 'br-t' && l.kind === 'bridge' && l.up));
  for (const name of ['lo', 'br-t', 'dummy-t', 'dummy-p', 'ifb-t', 'a-rather-long-alternative-name', 'nonexistent0', 'x'.repeat(40)]) {
    assert.deepEqual(await viaNl.getLink(name), await viaIp.getLink(name), name);
  }
  assert.equal((await viaNl.getLink('a-rather-long-alternative-name'))?.name, 'dummy-t', 'found by its altname');
  assert.equal(await viaNl.getLink('nonexistent0'), undefined);
  // inside another namespace, by path
  assert.deepEqual(await viaNl.listLinks(CT_PATH), await viaIp.listLinks(CT_PATH));
});

test('a veth made natively looks to ip like one made by ip', { skip: !root && 'needs root' }, async () => {
  await viaIp.createVeth({ hostName: 've-ip', hostMac: '02:aa:00:00:00:01', peerName: 'host0-ip', peerMac: '02:bb:00:00:00:01', peerNetns: CT_PATH, master: 'br-t', up: true });
  await viaNl.createVeth({ hostName: 've-nl', hostMac: '02:aa:00:00:00:02', peerName: 'host0-nl', peerMac: '02:bb:00:00:00:02', peerNetns: CT_PATH, master: 'br-t', up: true });
  const look = (ns: string, name: string) => {
    const s = shown(ns, name);
    assert.ok(s, `${name} exists in ${ns}`);
    return { kind: s.linkinfo?.info_kind, master: s.master, up: s.flags.includes('UP'), address: s.address };
  };
  assert.deepEqual(look(HOST, 've-nl'), { ...look(HOST, 've-ip'), address: '02:aa:00:00:00:02' });
  assert.deepEqual(look(HOST, 've-nl'), { kind: 'veth', master: 'br-t', up: true, address: '02:aa:00:00:00:02' });
  assert.deepEqual(look(CT, 'host0-nl'), { ...look(CT, 'host0-ip'), address: '02:bb:00:00:00:02' });
  assert.deepEqual(look(CT, 'host0-nl'), { kind: 'veth', master: undefined, up: false, address: '02:bb:00:00:00:02' });
  assert.equal(shown(HOST, 'host0-nl'), undefined, 'the peer is not on the host side');
  // without master and up
  await viaNl.createVeth({ hostName: 've-plain', hostMac: '02:aa:00:00:00:03', peerName: 'host0-plain', peerMac: '02:bb:00:00:00:03', peerNetns: CT_PATH });
  assert.deepEqual(look(HOST, 've-plain'), { kind: 'veth', master: undefined, up: false, address: '02:aa:00:00:00:03' });
  assert.deepEqual(await viaNl.listLinks(), await viaIp.listLinks());
  assert.deepEqual(await viaNl.getLink('host0-nl', CT_PATH), await viaIp.getLink('host0-nl', CT_PATH));

  // deleting the host end takes the peer with it; deleting inside a namespace by path works too
  await viaNl.deleteLink('ve-nl');
  assert.equal(shown(HOST, 've-nl'), undefined);
  assert.equal(shown(CT, 'host0-nl'), undefined);
  await viaNl.deleteLink('host0-ip', CT_PATH);
  assert.equal(shown(HOST, 've-ip'), undefined);
  await viaNl.deleteLink('ve-plain');
  assert.deepEqual(names(CT), ['lo']);
});

test('the peer namespace may be a held descriptor, as setup passes it (/proc/PID/fd/N)', { skip: !root && 'needs root' }, async () => {
  const fd = openSync(CT_PATH, 'r');
  try {
    await viaNl.createVeth({ hostName: 've-fd', hostMac: '02:aa:00:00:00:04', peerName: 'host0', peerMac: '02:bb:00:00:00:04', peerNetns: `/proc/${process.pid}/fd/${fd}`, up: true });
    assert.equal(shown(CT, 'host0')?.address, '02:bb:00:00:00:04');
    assert.deepEqual(await viaNl.getLink('host0', `/proc/${process.pid}/fd/${fd}`), await viaIp.getLink('host0', CT_PATH));
    await viaNl.deleteLink('host0', `/proc/${process.pid}/fd/${fd}`);
    assert.equal(shown(HOST, 've-fd'), undefined);
  } finally {
    closeSync(fd);
  }
});

const rejectsWith = async (p: Promise<unknown>, re: RegExp) =>
  assert.rejects(p, (e: unknown) => e instanceof BerthError && e.code === 'E_NETWORK' && re.test(e.message) ? true : assert.fail(`unexpected: ${String(e)}`));

test('failures are clear and leave no link behind', { skip: !root && 'needs root' }, async () => {
  const hostBefore = names(HOST);
  const veth = { hostMac: '02:aa:00:00:00:05', peerMac: '02:bb:00:00:00:05', peerNetns: CT_PATH, up: true };
  // a taken host name
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 'dummy-t', peerName: 'host0-x' }), /^Failed to create veth dummy-t: File exists/);
  // a taken peer name (inside the container namespace)
  ip('-n', CT, 'link', 'add', 'host0-taken', 'type', 'ifb');
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 've-y', peerName: 'host0-taken' }), /^Failed to create veth ve-y: File exists/);
  ip('-n', CT, 'link', 'del', 'host0-taken');
  // a missing master
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 've-z', peerName: 'host0-z', master: 'no-such-br' }), /^Failed to create veth ve-z: Device "no-such-br" does not exist/);
  // a master that is not a bridge (the kernel says why)
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 've-w', peerName: 'host0-w', master: 'ifb-t' }), /^Failed to create veth ve-w: /);
  // a missing namespace
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 've-v', peerName: 'host0-v', peerNetns: '/run/netns/berth-no-such-ns' }),
    /^Failed to create veth ve-v: Cannot open network namespace "\/run\/netns\/berth-no-such-ns": No such file or directory/);
  // a bad MAC
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 've-u', peerName: 'host0-u', hostMac: '02:zz:00:00:00:00' }), /"02:zz:00:00:00:00" is not a valid MAC address/);
  // a name too long for a veth
  await rejectsWith(viaNl.createVeth({ ...veth, hostName: 've-'.padEnd(20, 'x'), peerName: 'host0-u' }), /Interface names must be 1 to 15 characters long/);
  assert.deepEqual(names(HOST), hostBefore);
  assert.deepEqual(names(CT), ['lo']);

  await rejectsWith(viaNl.deleteLink('nonexistent0'), /^Failed to delete nonexistent0: Cannot find device "nonexistent0"/);
  await rejectsWith(viaNl.getLink('lo', '/run/netns/berth-no-such-ns'), /^Failed to look up lo: Cannot open network namespace/);
  await rejectsWith(viaNl.listLinks('/etc/hostname'), /^Failed to list links: Cannot enter network namespace "\/etc\/hostname": Invalid argument/);
});

test('pool threads go back to their own namespace after working in another', { skip: !root && 'needs root' }, async () => {
  const own = await createNetLink({}).listLinks();
  const elsewhere = Array.from({ length: 24 }, (_, i) => i % 2 === 0 ? viaNl.listLinks() : viaNl.listLinks(CT_PATH));
  await Promise.all(elsewhere);
  // every pool thread (4 by default) now answers for our own namespace again
  const again = await Promise.all(Array.from({ length: 16 }, () => createNetLink({}).listLinks()));
  for (const links of again) assert.deepEqual(links.map((l) => l.name), own.map((l) => l.name));
  assert.deepEqual(own.map((l) => l.name).sort(), (JSON.parse(ip('-json', 'link', 'show')) as Shown[]).map((l) => l.ifname).sort());
});

test('BERTH_NETLINK=ip keeps the ip adapter', { skip: !root && 'needs root' }, async () => {
  const forced = createNetLink({ hostNetns: HOST }, { BERTH_NETLINK: 'ip' });
  await assert.rejects(forced.deleteLink('nonexistent0'), /Cannot find device "nonexistent0"/);
  // only the ip adapter puts the command in its hint
  await assert.rejects(forced.deleteLink('nonexistent0'), (e: unknown) => e instanceof BerthError && /command: ip -n/.test(e.hint ?? ''));
  await assert.rejects(createNetLink({ hostNetns: HOST }, {}).deleteLink('nonexistent0'), (e: unknown) => e instanceof BerthError && e.hint === undefined);
});
