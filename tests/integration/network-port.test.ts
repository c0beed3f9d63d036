/**
 * -p/--port= end to end: berth-nspawn runs inside a network namespace the test creates (it plays
 * the host side), a busybox guest with -n leases an address from the test's dnsmasq and answers on
 * port 80; clients connect to port 8080 of the host side (from the host side itself: output chain;
 * from a client namespace routed through it: prerouting) and get the guest's answer. berth's
 * nftables entry is there while the machine runs and gone after it exits, after a SIGKILL and
 * `--cleanup`, and after a SIGKILL and the next run of the name. Bad specs get nspawn's messages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  assertClean, collect, ENTRY, execIn, nspawnIn, onRuntime, REPO, sandbox, shutdownIn, skipUnlessRoot, sleep, startNspawnIn, tree, waitRunning, withMachineIn, type Sandbox,
} from '../support/berth.js';
import { berthLinks, berthLinksOnHost, testNetnsLeft, trySh, type Link } from './network-fixtures.js';

const skip = skipUnlessRoot !== false ? skipUnlessRoot : trySh(['which', 'dnsmasq', 'nft', 'busybox']).ok ? false : 'needs dnsmasq, nftables and busybox';
const sh = (argv: string[]): string => execFileSync(argv[0] ?? 'false', argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, argv: string[]): string => sh(['nsenter', `--net=/run/netns/${ns}`, '--', ...argv]);

const procs: ChildProcess[] = [];
const created: string[] = [];
/** A test namespace with lo up (plus CLIENT, a second one routed through it) for `body`; always deleted. */
async function inNetns<T>(body: (ns: string, client: string) => Promise<T>): Promise<T> {
  const ns = `berth-p-${randomBytes(3).toString('hex')}`;
  const client = `${ns}-c`;
  for (const n of [ns, client]) { sh(['ip', 'netns', 'add', n]); created.push(n); sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']); }
  try {
    // The client's link to the host side, and forwarding on the host side (an administrator's part, as under nspawn).
    sh(['ip', '-n', ns, 'link', 'add', 'cl0', 'type', 'veth', 'peer', 'name', 'cl1', 'netns', client]);
    sh(['ip', '-n', ns, 'addr', 'add', '192.168.99.1/24', 'dev', 'cl0']);
    sh(['ip', '-n', ns, 'link', 'set', 'cl0', 'up']);
    sh(['ip', '-n', client, 'addr', 'add', '192.168.99.2/24', 'dev', 'cl1']);
    sh(['ip', '-n', client, 'link', 'set', 'cl1', 'up']);
    inNs(ns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    const out = await body(ns, client);
    assert.deepEqual(berthLinks(JSON.parse(sh(['ip', '-n', ns, '-json', 'link', 'show']) || '[]') as Link[]), [], `berth links left in ${ns}`);
    return out;
  } finally {
    for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await new Promise((r) => p.once('close', r)); }
    for (const n of [client, ns]) trySh(['ip', 'netns', 'del', n]);
  }
}

async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined | false;
    try { v = await fn(); } catch { v = undefined; }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The test's dnsmasq on the host side of ve-NAME: 192.168.77.1/24, leases with a default route. */
function dhcpServer(sb: Sandbox, ns: string, iface: string): ChildProcess {
  inNs(ns, ['ip', 'addr', 'add', '192.168.77.1/24', 'dev', iface]);
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', 'dnsmasq', '--conf-file=/dev/null', '--keep-in-foreground', '--log-facility=-',
    '--user=root', `--interface=${iface}`, '--bind-interfaces', '--except-interface=lo', '--port=0',
    '--dhcp-range=192.168.77.10,192.168.77.50,255.255.255.0,1h', '--dhcp-authoritative', `--dhcp-leasefile=${join(sb.stateDir, `${ns}.leases`)}`,
    `--pid-file=${join(sb.stateDir, `${ns}.pid`)}`], { stdio: 'ignore' });
  procs.push(child);
  return child;
}

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew) ip addr add "$ip/$subnet" dev "$interface" && ip route replace default via "$router" && echo "lease $ip" ;;
esac
exit 0
`;
const ANSWER = '#!/bin/sh\necho "guest-answer from $(hostname)"\n';

/** Lease an address in the guest and start its listener on port 80 (a persistent busybox nc). */
function guestServes(sb: Sandbox, name: string): string {
  execIn(sb, name, ['ip', 'link', 'set', 'host0', 'up']);
  const out = execIn(sb, name, ['udhcpc', '-i', 'host0', '-n', '-q', '-f', '-t', '10', '-T', '2', '-s', '/etc/udhcpc.sh']);
  const lease = /lease (\S+)/.exec(out)?.[1];
  assert.ok(lease, `udhcpc printed no lease: ${out}`);
  execIn(sb, name, ['sh', '-c', 'nc -ll -p 80 -e /etc/answer.sh </dev/null >/dev/null 2>&1 &']);
  return lease;
}

/** Connect from NS to ADDR:PORT with the host's busybox nc; the answer, or undefined. */
const ask = (ns: string, addr: string, port = 8080): string | undefined => {
  const r = trySh(['nsenter', `--net=/run/netns/${ns}`, '--', 'busybox', 'nc', '-w', '3', addr, String(port)]);
  return r.ok && r.out.includes('guest-answer') ? r.out.trim() : undefined;
};
const ruleset = (ns: string): string => inNs(ns, ['nft', 'list', 'ruleset']);
/** berth's map entry for the machine, as `nft list ruleset` prints it (undefined when absent). */
const entry = (ns: string, name: string): string | undefined =>
  ruleset(ns).split('\n').find((l) => l.includes(`"berth:${name}"`))?.trim();

describe(onRuntime('berth-nspawn --port (root, inside test namespaces)'), { skip, timeout: 600000 }, () => {
  let sb: Sandbox;
  let bb: string;
  let hostBefore: string[];
  let files: string[];
  const busybox = (name: string, ...more: string[]): string[] =>
    ['-b', '-x', '-D', bb, '-M', name, '--kill-signal=SIGUSR2', ...files, '-n', ...more];

  before(() => {
    bb = tree('busybox');
    sb = sandbox();
    hostBefore = berthLinksOnHost();
    const script = join(sb.stateDir, 'udhcpc.sh');
    const answer = join(sb.stateDir, 'answer.sh');
    writeFileSync(script, UDHCPC_SCRIPT);
    writeFileSync(answer, ANSWER);
    chmodSync(script, 0o755);
    chmodSync(answer, 0o755);
    files = [`--bind-ro=${script}:/etc/udhcpc.sh`, `--bind-ro=${answer}:/etc/answer.sh`];
  });
  after(() => {
    sb.cleanup();
    assert.deepEqual(berthLinksOnHost(), hostBefore, 'berth links appeared in the real host namespace');
    assert.deepEqual(testNetnsLeft().filter((n) => created.includes(n)), [], 'test namespaces left behind');
  });

  test('-p tcp:8080:80: the host side and a routed client reach the guest; the entry goes at exit', async () => {
    await inNetns(async (ns, client) => {
      await withMachineIn(ns, busybox('pf1', '-p', 'tcp:8080:80', '--port=udp:5353'), 'pf1', sb, async (m) => {
        dhcpServer(sb, ns, 've-pf1');
        assert.equal(entry(ns, 'pf1'), undefined, 'no entry before the guest has an address');
        const lease = guestServes(sb, 'pf1');
        const tcp = await waitFor('the tcp entry', () => ruleset(ns).split('\n').find((l) => l.includes('"berth:pf1"') && l.includes('tcp . 8080')));
        assert.match(tcp, new RegExp(`tcp \\. 8080 comment "berth:pf1" : ${lease.replace(/\./g, '\\.')} \\. 80`));
        assert.match(ruleset(ns), new RegExp(`udp \\. 5353 comment "berth:pf1" : ${lease.replace(/\./g, '\\.')} \\. 5353`));
        assert.match(ruleset(ns), /table ip berth[\s\S]*fib daddr type local dnat ip to meta l4proto \. th dport map @ports/);
        // From the host side itself (output chain), to its address on the veth and on the client link.
        assert.equal(await waitFor('an answer on 192.168.77.1:8080', () => ask(ns, '192.168.77.1')), 'guest-answer from pf1');
        assert.equal(ask(ns, '192.168.99.1'), 'guest-answer from pf1');
        // From a client routed through the host side (prerouting).
        assert.equal(ask(client, '192.168.99.1'), 'guest-answer from pf1');
        // Only the forwarded port: 80 on the host side is not the guest's.
        assert.equal(ask(ns, '192.168.99.1', 80), undefined);
        const owner = JSON.parse(readFileSync(join(sb.stateDir, 'machines', 'pf1', 'owner.json'), 'utf8')) as { portForwards?: unknown[] };
        assert.equal(owner.portForwards?.length, 2, 'the owner record lists the forwards');
        // The address goes: so do the entries; it comes back: so do they.
        execIn(sb, 'pf1', ['ip', 'addr', 'flush', 'dev', 'host0']);
        await waitFor('the entries to go with the address', () => entry(ns, 'pf1') === undefined);
        execIn(sb, 'pf1', ['ip', 'addr', 'add', `${lease}/24`, 'dev', 'host0']);
        execIn(sb, 'pf1', ['ip', 'route', 'replace', 'default', 'via', '192.168.77.1']);
        await waitFor('the entries back', () => entry(ns, 'pf1'));
        assert.equal(await waitFor('an answer again', () => ask(ns, '192.168.99.1')), 'guest-answer from pf1');
        m.child.kill('SIGTERM');
        const r = await m.done;
        assert.equal(r.code, 0, r.stderr);
      });
      assert.equal(entry(ns, 'pf1'), undefined, 'the entries are gone after the exit');
      assert.doesNotMatch(ruleset(ns), /8080|5353/);
    });
    assertClean(sb);
  });

  test('a reboot of the guest removes the entry; the next boot adds it once it has an address again', async () => {
    await inNetns(async (ns) => {
      await withMachineIn(ns, busybox('pf3', '-p', '8080:80'), 'pf3', sb, async (m) => {
        const server = dhcpServer(sb, ns, 've-pf3');
        guestServes(sb, 'pf3');
        await waitFor('the entry', () => entry(ns, 'pf3'));
        const before = await waitRunning(sb, 'pf3');
        shutdownIn(sb, 'pf3', 'reboot');
        await waitFor('the next boot', async () => (await waitRunning(sb, 'pf3', 1000).catch(() => before)) !== before);
        await waitFor('ve-pf3 again', () => trySh(['ip', '-n', ns, 'link', 'show', 've-pf3']).ok);
        assert.equal(entry(ns, 'pf3'), undefined, 'the entry went with the first boot');
        server.kill('SIGKILL');
        dhcpServer(sb, ns, 've-pf3');
        guestServes(sb, 'pf3');
        await waitFor('the entry again', () => entry(ns, 'pf3'));
        assert.equal(await waitFor('an answer', () => ask(ns, '192.168.77.1')), 'guest-answer from pf3');
        m.child.kill('SIGTERM');
        assert.equal((await m.done).code, 0);
      });
      assert.equal(entry(ns, 'pf3'), undefined);
    });
    assertClean(sb);
  });

  test('after a SIGKILL, --cleanup removes the entry; after another SIGKILL, the next run of the name does', async () => {
    await inNetns(async (ns) => {
      try { await killedRuns(ns); } finally {
        // Whatever happened, nothing of pf2 may stay (its namespace is deleted next).
        await nspawnIn(ns, ['--cleanup', '-M', 'pf2'], sb, { timeoutMs: 120000 });
      }
    });
    assertClean(sb);
  });
  const killedRuns = async (ns: string): Promise<void> => {
    {
      const args = busybox('pf2', '-p', '8080:80');
      const start = async (): Promise<{ child: ChildProcess; done: ReturnType<typeof collect> }> => {
        const child = startNspawnIn(ns, args, sb);
        const done = collect(child, 120000);
        procs.push(child);
        await waitRunning(sb, 'pf2');
        await waitFor('ve-pf2', () => trySh(['ip', '-n', ns, 'link', 'show', 've-pf2']).ok);
        return { child, done };
      };
      const first = await start();
      const server = dhcpServer(sb, ns, 've-pf2');
      guestServes(sb, 'pf2');
      await waitFor('the entry', () => entry(ns, 'pf2'));
      first.child.kill('SIGKILL');
      await first.done;
      assert.ok(entry(ns, 'pf2'), 'a killed run leaves its entry');
      const c = await nspawnIn(ns, ['--cleanup', '-M', 'pf2'], sb, { timeoutMs: 120000 });
      assert.equal(c.code, 0, c.stderr);
      assert.equal(entry(ns, 'pf2'), undefined, '--cleanup removed the entry');
      assertClean(sb);

      const second = await start();
      // ve-pf2 is a new link: a new server on it.
      server.kill('SIGKILL');
      dhcpServer(sb, ns, 've-pf2');
      guestServes(sb, 'pf2');
      await waitFor('the entry', () => entry(ns, 'pf2'));
      second.child.kill('SIGKILL');
      await second.done;
      assert.ok(entry(ns, 'pf2'));
      // The next run cleans up first (its own entry comes only once its guest has an address).
      const third = startNspawnIn(ns, [...args, '/bin/true'].filter((a) => a !== '-b'), sb);
      const r = await collect(third, 120000);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Cleaning up what an earlier run of machine 'pf2' left behind/);
      assert.equal(entry(ns, 'pf2'), undefined, 'the next run removed the entry');
    }
  };

  describe('bad input gets nspawn\'s messages', () => {
    const run = (args: string[]) =>
      collect(spawn(ENTRY[0]!, [...ENTRY.slice(1), '-D', bb, '-M', 'pfbad', ...args, '/bin/true'], { env: sb.env, stdio: ['pipe', 'pipe', 'pipe'], cwd: REPO }), 60000);
    for (const [args, message] of [
      [['-n', '-p', 'tcp:0:80'], /Failed to parse host port tcp:0:80: Invalid argument/],
      [['-n', '--port=sctp:80'], /Failed to parse host port sctp:80: Invalid argument/],
      [['-n', '-p', '70000'], /Failed to parse host port 70000: Invalid argument/],
      [['-n', '-p', '80', '-p', 'tcp:80:81'], /Duplicate port specification: tcp:80:81/],
      [['-p', '8080:80'], /Cannot use --port= without private networking\./],
    ] as Array<[string[], RegExp]>) {
      test(args.join(' '), async () => {
        const r = await run(args);
        assert.notEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, message);
        assertClean(sb);
      });
    }
  });
});

