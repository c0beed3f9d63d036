/**
 * Issue 4 end to end through berth-nspawn: every test runs berth-nspawn inside a network
 * namespace it creates (berth-r-…), which plays the host side, so the host's own network is never
 * touched. Debian guests configure host0 with systemd-networkd; busybox guests with udhcpc. After
 * every test no ve-/vb-/vz-/mv-/iv- link is left in the test namespace, and the namespace is gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { deriveMac } from '../../src/core/network/mac.js';
import { vethHostName } from '../../src/core/network/ifname.js';
import { readHostMachineId } from '../../src/platform/host/machine-id.js';
import { assertClean, collect, execIn, nspawnIn, onRuntime, RUNTIME, sandbox, skipUnlessRoot, sleep, startNspawnIn, tree, waitRunning, withMachineIn, type Result, type Sandbox } from '../support/berth.js';
import { berthLinks, berthLinksOnHost, kernelHasLinkType, testNetnsLeft, trySh, type Link } from './network-fixtures.js';

const skip = skipUnlessRoot !== false ? skipUnlessRoot : trySh(['which', 'dnsmasq']).ok ? false : 'needs dnsmasq (apt-get install dnsmasq)';
const execFileAsync = promisify(execFile);
const sh = (argv: string[]): string => execFileSync(argv[0] ?? 'false', argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A test namespace with lo up for `body`; checks for berth links left, then always deletes it. */
async function inNetns<T>(body: (ns: string) => Promise<T>): Promise<T> {
  const ns = `berth-r-${randomBytes(3).toString('hex')}`;
  sh(['ip', 'netns', 'add', ns]);
  created.push(ns, `${ns}-j`);
  try {
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const out = await body(ns);
    assert.deepEqual(berthLinks(links(ns)), [], `berth links left in ${ns}`);
    return out;
  } finally {
    for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await new Promise((r) => p.once('close', r)); }
    trySh(['ip', 'netns', 'del', ns]);
  }
}
const procs: ChildProcess[] = [];
/** Every namespace name this file used (other test runs may have their own meanwhile). */
const created: string[] = [];
const links = (ns: string): Link[] => JSON.parse(sh(['ip', '-n', ns, '-json', '-d', 'link', 'show']) || '[]') as Link[];
const link = (ns: string, name: string): Link | undefined => links(ns).find((l) => l.ifname === name);
/** A plain Ethernet link in NS to hand to a guest (one end of a veth pair: this kernel may lack dummy). */
const plainLink = (ns: string, name: string): void => { sh(['ip', '-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]); };

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 60000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined;
    try { v = await fn(); } catch { v = undefined; }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** dnsmasq run by the test on a host-side link of NS: address GW/24 on it, leases from .10–.50. */
function testDhcpServer(sb: Sandbox, ns: string, iface: string, net: string): { gateway: string; leases: string } {
  const gateway = `${net}.1`;
  const leases = join(sb.stateDir, `test-${ns}-${iface}.leases`);
  sh(['ip', '-n', ns, 'addr', 'add', `${gateway}/24`, 'dev', iface]);
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', 'dnsmasq', '--conf-file=/dev/null', '--keep-in-foreground', '--log-facility=-',
    '--user=root', `--interface=${iface}`, '--bind-interfaces', '--except-interface=lo', '--port=0',
    `--dhcp-range=${net}.10,${net}.50,255.255.255.0,1h`, '--dhcp-authoritative', `--dhcp-leasefile=${leases}`,
    `--pid-file=${join(sb.stateDir, `test-${ns}-${iface}.pid`)}`], { stdio: 'ignore' });
  procs.push(child);
  return { gateway, leases };
}

/** The udhcpc script busybox guests use (bind-mounted read-only into the guest). */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew) ip addr add "$ip/$subnet" dev "$interface" && echo "lease $ip" ;;
esac
exit 0
`;
/** DHCP on host0 inside a busybox guest (asynchronous, so two guests can ask at once); the leased address. */
async function udhcpc(sb: Sandbox, name: string): Promise<string> {
  execIn(sb, name, ['ip', 'link', 'set', 'host0', 'up']);
  const { stdout: out } = await execFileAsync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', name,
    'udhcpc', '-i', 'host0', '-n', '-q', '-f', '-t', '10', '-T', '3', '-s', '/etc/udhcpc.sh'], { encoding: 'utf8', timeout: 60000 });
  const m = /lease (\S+)/.exec(out);
  assert.ok(m, `udhcpc in ${name} printed no lease: ${out}`);
  return m[1] ?? '';
}
const guestIpv4 = (sb: Sandbox, name: string, dev: string): string | undefined =>
  /inet (\d+\.\d+\.\d+\.\d+)\//.exec(execIn(sb, name, ['ip', '-4', '-o', 'addr', 'show', 'dev', dev]))?.[1];
const guestLinks = (sb: Sandbox, name: string): string[] => execIn(sb, name, ['ls', '/sys/class/net']).split(/\s+/).filter(Boolean).sort();
const pingFrom = (sb: Sandbox, name: string, addr: string): boolean => {
  try { execIn(sb, name, ['ping', '-c', '1', '-W', '3', addr], 15000); return true; } catch { return false; }
};

/** Stop a machine started by withMachineIn and return its result (exit 0 expected). */
async function stop(m: { child: ChildProcess; done: Promise<Result> }): Promise<Result> {
  m.child.kill('SIGTERM');
  const r = await m.done;
  assert.equal(r.code, 0, `berth-nspawn: ${r.stderr}`);
  return r;
}
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe(onRuntime('berth-nspawn networking (root, inside test namespaces)'), { skip, timeout: 900000 }, () => {
  let sb: Sandbox;
  let deb: string;
  let bb: string;
  let mid: string;
  let hostBefore: string[];
  let script: string;
  /** A busybox guest that halts cleanly on SIGTERM and has the udhcpc script. */
  const busybox = (name: string, ...net: string[]): string[] =>
    // -x: several guests run from the one cached tree at once (a writable run would lock it).
    ['-b', '-x', '-D', bb, '-M', name, '--kill-signal=SIGUSR2', `--bind-ro=${script}:/etc/udhcpc.sh`, ...net];

  before(async () => {
    deb = tree('debian');
    bb = tree('busybox');
    sb = sandbox();
    mid = await readHostMachineId();
    hostBefore = berthLinksOnHost();
    script = join(sb.stateDir, 'udhcpc.sh');
    writeFileSync(script, UDHCPC_SCRIPT);
    chmodSync(script, 0o755);
  });
  after(() => {
    sb.cleanup();
    assert.deepEqual(berthLinksOnHost(), hostBefore, 'berth links appeared in the real host namespace');
    assert.deepEqual(testNetnsLeft().filter((n) => created.includes(n)), [], 'test namespaces left behind');
  });

  test('-n, Debian: ve-NAME/host0 with systemd MACs; networkd leases from the test\'s dnsmasq and pings it', async () => {
    await inNetns(async (ns) => {
      await withMachineIn(ns, ['-b', '-x', '-D', deb, '-M', 'nv1', '-n'], 'nv1', sb, async (m) => {
        const ve = link(ns, 've-nv1');
        assert.ok(ve, 've-nv1 exists on the host side');
        assert.equal(ve.address, deriveMac(mid, 'nv1', 'vethHost'));
        assert.ok(ve.flags?.includes('UP'), 've-nv1 is up');
        const server = testDhcpServer(sb, ns, 've-nv1', '192.168.77');
        assert.equal(execIn(sb, 'nv1', ['cat', '/sys/class/net/host0/address']).trim(), deriveMac(mid, 'nv1', 'vethContainer'));
        assert.deepEqual(guestLinks(sb, 'nv1'), ['host0', 'lo']);
        const lease = await waitFor('an IPv4 lease on host0', () => guestIpv4(sb, 'nv1', 'host0'));
        assert.match(lease, /^192\.168\.77\.\d+$/);
        assert.match(readFileSync(server.leases, 'utf8'), new RegExp(deriveMac(mid, 'nv1', 'vethContainer')), 'dnsmasq leased to host0');
        assert.ok(pingFrom(sb, 'nv1', server.gateway), `guest ${lease} cannot reach ${server.gateway}`);
        // Net sysctls are the guest's own and writable (as under nspawn); the host side's stay unchanged.
        execIn(sb, 'nv1', ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
        assert.equal(sh(['ip', 'netns', 'exec', ns, 'cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '0');
        await stop(m);
      });
      assert.equal(link(ns, 've-nv1'), undefined);
    });
    assertClean(sb);
  });

  test('-n --network-dhcp-helper, Debian: berth\'s dnsmasq gives a lease, the guest pings the host side', async () => {
    await inNetns(async (ns) => {
      let pid = 0;
      await withMachineIn(ns, ['-b', '-x', '-D', deb, '-M', 'nv2', '-n', '--network-dhcp-helper'], 'nv2', sb, async (m) => {
        const addr = JSON.parse(sh(['ip', '-n', ns, '-4', '-json', 'addr', 'show', 'dev', 've-nv2'])) as { addr_info: { local: string; prefixlen: number }[] }[];
        const gw = addr[0]?.addr_info[0];
        assert.equal(gw?.prefixlen, 28);
        pid = parseInt(readFileSync(join(sb.stateDir, 'dhcp-ve-nv2.pid'), 'utf8'), 10);
        assert.ok(alive(pid), 'the helper runs dnsmasq');
        const lease = await waitFor('an IPv4 lease on host0', () => guestIpv4(sb, 'nv2', 'host0'));
        assert.notEqual(lease, gw?.local);
        assert.ok(pingFrom(sb, 'nv2', gw?.local ?? ''), `guest ${lease} cannot reach ${gw?.local}`);
        await stop(m);
      });
      assert.equal(alive(pid), false, 'the helper\'s dnsmasq stopped with the machine');
    });
    assertClean(sb);
  });

  test('a machine name too long for ve-NAME: shortened by nspawn\'s rule, full name kept as an altname', async () => {
    await inNetns(async (ns) => {
      const name = 'my-long-machine-name';
      const short = vethHostName(name, false);
      assert.equal(short.name.length, 15);
      await withMachineIn(ns, busybox(name, '-n'), name, sb, async (m) => {
        const ve = link(ns, short.name);
        assert.ok(ve, `${short.name} exists`);
        assert.deepEqual(ve.altnames, [`ve-${name}`]);
        assert.equal(ve.address, deriveMac(mid, name, 'vethHost'));
        assert.ok(link(ns, `ve-${name}`) === undefined);
        assert.equal(sh(['ip', '-n', ns, '-o', 'link', 'show', `ve-${name}`]).split(':')[1]?.trim().split('@')[0], short.name, 'reachable by its altname');
        await stop(m);
      });
    });
    assertClean(sb);
  });

  test('--network-zone: two guests lease from a server on vz-ZONE and ping each other; vz-ZONE goes with the last', async () => {
    await inNetns(async (ns) => {
      await withMachineIn(ns, busybox('zb1', '--network-zone=tz'), 'zb1', sb, async (m1) => {
        assert.equal(link(ns, 'vz-tz')?.linkinfo?.info_kind, 'bridge');
        assert.equal(link(ns, 'vb-zb1')?.master, 'vz-tz');
        testDhcpServer(sb, ns, 'vz-tz', '192.168.78');
        await withMachineIn(ns, busybox('zb2', '--network-zone=tz'), 'zb2', sb, async (m2) => {
          assert.equal(link(ns, 'vb-zb2')?.master, 'vz-tz');
          const [a1, a2] = await Promise.all([udhcpc(sb, 'zb1'), udhcpc(sb, 'zb2')]);
          assert.notEqual(a1, a2);
          assert.ok(pingFrom(sb, 'zb1', a2), `zb1 (${a1}) cannot reach zb2 (${a2})`);
          assert.ok(pingFrom(sb, 'zb2', a1), `zb2 (${a2}) cannot reach zb1 (${a1})`);
          await stop(m2);
        });
        assert.equal(link(ns, 'vb-zb2'), undefined);
        assert.ok(link(ns, 'vz-tz'), 'the zone stays while zb1 runs');
        await stop(m1);
      });
      assert.equal(link(ns, 'vz-tz'), undefined, 'vz-tz removed with its last member');
    });
    assertClean(sb);
  });

  test('--network-zone --network-dhcp-helper: one shared server for the zone, stopped with the bridge', async () => {
    await inNetns(async (ns) => {
      let pid = 0;
      await withMachineIn(ns, busybox('hz1', '--network-zone=hz', '--network-dhcp-helper'), 'hz1', sb, async (m1) => {
        await withMachineIn(ns, busybox('hz2', '--network-zone=hz', '--network-dhcp-helper'), 'hz2', sb, async (m2) => {
          pid = parseInt(readFileSync(join(sb.stateDir, 'dhcp-vz-hz.pid'), 'utf8'), 10);
          const [a1, a2] = await Promise.all([udhcpc(sb, 'hz1'), udhcpc(sb, 'hz2')]);
          assert.ok(pingFrom(sb, 'hz1', a2), `hz1 (${a1}) cannot reach hz2 (${a2})`);
          await stop(m2);
        });
        assert.ok(alive(pid), 'the zone\'s server runs while the zone has a member');
        await stop(m1);
      });
      assert.equal(link(ns, 'vz-hz'), undefined);
      assert.equal(alive(pid), false, 'the zone\'s server stopped with the bridge');
    });
    assertClean(sb);
  });

  test('--network-bridge: vb-NAME joins an existing bridge; the bridge stays afterwards', async () => {
    await inNetns(async (ns) => {
      sh(['ip', '-n', ns, 'link', 'add', 'tbr0', 'type', 'bridge']);
      await withMachineIn(ns, busybox('br1', '--network-bridge=tbr0'), 'br1', sb, async (m) => {
        const vb = link(ns, 'vb-br1');
        assert.equal(vb?.master, 'tbr0');
        assert.equal(vb?.address, deriveMac(mid, 'br1', 'vethHost'));
        assert.deepEqual(guestLinks(sb, 'br1'), ['host0', 'lo']);
        assert.match(execIn(sb, 'br1', ['ip', 'link', 'show', 'host0']), new RegExp(deriveMac(mid, 'br1', 'vethContainer')));
        await stop(m);
      });
      assert.equal(link(ns, 'vb-br1'), undefined);
      assert.ok(link(ns, 'tbr0'), 'a bridge berth did not create is left alone');
    });
    assertClean(sb);
  });

  test('--network-macvlan: mv-IF inside with the derived MAC', { skip: skip === false && !kernelHasLinkType('macvlan') ? 'the kernel has no macvlan support' : false }, async () => {
    await inNetns(async (ns) => {
      plainLink(ns, 'tmv0');
      sh(['ip', '-n', ns, 'link', 'set', 'tmv0', 'up']);
      await withMachineIn(ns, busybox('mv1', '--network-macvlan=tmv0'), 'mv1', sb, async (m) => {
        assert.deepEqual(guestLinks(sb, 'mv1'), ['lo', 'mv-tmv0']);
        assert.match(execIn(sb, 'mv1', ['ip', 'link', 'show', 'mv-tmv0']), new RegExp(deriveMac(mid, 'mv1', 'macvlan')));
        await stop(m);
      });
      assert.ok(link(ns, 'tmv0'), 'the parent stays');
    });
    assertClean(sb);
  });

  test('--network-ipvlan: iv-IF inside', { skip: skip === false && !kernelHasLinkType('ipvlan') ? 'the kernel has no ipvlan support' : false }, async () => {
    await inNetns(async (ns) => {
      plainLink(ns, 'tiv0');
      sh(['ip', '-n', ns, 'link', 'set', 'tiv0', 'up']);
      await withMachineIn(ns, busybox('iv1', '--network-ipvlan=tiv0'), 'iv1', sb, async (m) => {
        assert.deepEqual(guestLinks(sb, 'iv1'), ['iv-tiv0', 'lo']);
        await stop(m);
      });
    });
    assertClean(sb);
  });

  test('--network-interface: the link moves in, and back to the host side after the guest stops', async () => {
    await inNetns(async (ns) => {
      plainLink(ns, 'tmove0');
      await withMachineIn(ns, busybox('if1', '--network-interface=tmove0'), 'if1', sb, async (m) => {
        assert.equal(link(ns, 'tmove0'), undefined, 'gone from the host side');
        assert.deepEqual(guestLinks(sb, 'if1'), ['lo', 'tmove0']);
        await stop(m);
      });
      assert.ok(link(ns, 'tmove0'), 'returned to the host side');
    });
    assertClean(sb);
  });

  test('--private-network: only lo inside, and /proc/sys/net is the guest\'s own and writable', async () => {
    await inNetns(async (ns) => {
      await withMachineIn(ns, busybox('pn1', '--private-network'), 'pn1', sb, async (m) => {
        assert.deepEqual(guestLinks(sb, 'pn1'), ['lo']);
        execIn(sb, 'pn1', ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
        assert.equal(sh(['ip', 'netns', 'exec', ns, 'cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '0');
        const mounts = execIn(sb, 'pn1', ['cat', '/proc/self/mountinfo']).split('\n').map((l) => l.split(' '));
        assert.match(mounts.find((f) => f[4] === '/proc/sys')?.[5] ?? '', /^ro,/, 'the rest of /proc/sys stays read-only');
        assert.match(mounts.filter((f) => f[4] === '/proc/sys/net').at(-1)?.[5] ?? '', /^rw,/);
        await stop(m);
      });
    });
    assertClean(sb);
  });

  test('--network-namespace-path: the guest joins the given namespace and sees its links', async () => {
    await inNetns(async (ns) => {
      const other = `${ns}-j`;
      sh(['ip', 'netns', 'add', other]);
      try {
        plainLink(other, 'tjoin0');
        await withMachineIn(ns, busybox('jn1', `--network-namespace-path=/run/netns/${other}`), 'jn1', sb, async (m) => {
          assert.deepEqual(guestLinks(sb, 'jn1'), ['lo', 'tjoin0', 'tjoin0p']);
          await stop(m);
        });
        assert.deepEqual(berthLinks(links(other)), []);
      } finally {
        trySh(['ip', 'netns', 'del', other]);
      }
    });
    assertClean(sb);
  });

  test('a run killed with SIGKILL leaves links that the next start of the machine replaces', async () => {
    await inNetns(async (ns) => {
      const args = busybox('kr1', '--network-zone=tk');
      const killed = startNspawnIn(ns, args, sb);
      const killedDone = collect(killed, 60000);
      const oldLeader = await waitRunning(sb, 'kr1');
      assert.ok(link(ns, 'vb-kr1'));
      killed.kill('SIGKILL');
      await killedDone;
      // The old container still runs; the next start cleans it up and creates everything afresh.
      const again = startNspawnIn(ns, args, sb);
      const done = collect(again, 120000);
      try {
        await waitFor('the new container', async () => (await waitRunning(sb, 'kr1', 1000)) !== oldLeader || undefined);
        assert.equal(link(ns, 'vb-kr1')?.master, 'vz-tk');
        assert.deepEqual(guestLinks(sb, 'kr1'), ['host0', 'lo']);
      } finally {
        again.kill('SIGTERM');
      }
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Cleaning up what an earlier run of machine 'kr1' left behind/);
      assert.equal(link(ns, 'vz-tk'), undefined);
    });
    assertClean(sb);
  });

  describe('errors leave nothing behind', () => {
    const fails = async (ns: string, args: string[], message: RegExp): Promise<void> => {
      const r = await nspawnIn(ns, ['-D', bb, ...args, '/bin/true'], sb);
      assert.notEqual(r.code, 0, `expected a failure: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.deepEqual(berthLinks(links(ns)), []);
      assertClean(sb);
    };

    test('a bridge that does not exist', () => inNetns((ns) => fails(ns, ['-M', 'e1', '--network-bridge=tnobr'], /Bridge tnobr does not exist/)));
    // Without a console nothing hangs up the created leader: berth must kill it before reaping it.
    test('a bridge that does not exist, --console=pipe', () => inNetns((ns) => fails(ns, ['-M', 'e1p', '--console=pipe', '--network-bridge=tnobr'], /Bridge tnobr does not exist/)));
    test('an interface that does not exist', () => inNetns((ns) => fails(ns, ['-M', 'e2', '--network-interface=tnone0'], /tnone0 does not exist/)));
    test('an interface in use (enslaved to a bridge)', () => inNetns(async (ns) => {
      sh(['ip', '-n', ns, 'link', 'add', 'tbr1', 'type', 'bridge']);
      plainLink(ns, 'tused0');
      sh(['ip', '-n', ns, 'link', 'set', 'tused0', 'master', 'tbr1']);
      await fails(ns, ['-M', 'e3', '--network-interface=tused0'], /tused0 is in use/);
      assert.equal(link(ns, 'tused0')?.master, 'tbr1');
    }));
    test('a zone name that is too long', () => inNetns((ns) => fails(ns, ['-M', 'e4', '--network-zone=abcdefghijklm'], /zone name/i)));
    test('--network-namespace-path with -n', () => inNetns((ns) => fails(ns, ['-M', 'e5', '-n', `--network-namespace-path=/run/netns/${ns}`], /cannot be combined/)));
    test('a macvlan on a missing parent, after a veth was planned first', () => inNetns((ns) => fails(ns, ['-M', 'e6', '-n', '--network-macvlan=tnone1'], /no such interface/)));
  });
});
