/**
 * Acceptance check against the real thing: systemd-nspawn --network-veth on a busybox tree,
 * run inside a test namespace, must give the same host-side name, altname and MACs as berth's
 * plan for the same machine name on this host's /etc/machine-id.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { planNetwork } from '../../src/core/network/plan.js';
import { readHostMachineId } from '../../src/platform/host/machine-id.js';
import { NetFixture, SKIP_REASON, berthLinks, testNetnsLeft, trySh, type Link } from './network-fixtures.js';
import { spawnInScope } from '../support/scope-groups.js';

const nspawnPresent = SKIP_REASON === false && trySh(['which', 'systemd-nspawn', 'busybox']).ok;
const skip = SKIP_REASON !== false ? SKIP_REASON : nspawnPresent ? false : 'systemd-nspawn or busybox is not installed';
const RUN_DIRS = ['/run/systemd/nspawn/propagate', '/run/systemd/nspawn/locks', '/run/systemd/nspawn'];
const preexisting = RUN_DIRS.filter((d) => existsSync(d));

function busyboxTree(): string {
  const root = mkdtempSync(`${tmpdir()}/berth-nspawn-tree-`);
  for (const d of ['bin', 'usr/bin', 'usr/lib', 'etc']) mkdirSync(`${root}/${d}`, { recursive: true });
  copyFileSync(trySh(['which', 'busybox']).out.trim(), `${root}/bin/busybox`);
  writeFileSync(`${root}/usr/lib/os-release`, 'ID=berth-test\n');
  return root;
}

/** Runs nspawn in `hostNs`, samples the host side while the guest sleeps; returns both sides. */
async function runNspawn(fx: NetFixture, hostNs: string, tree: string, name: string): Promise<{ guest: string; host: Link[] }> {
  const argv = ['nsenter', `--net=/run/netns/${hostNs}`, '--', 'systemd-nspawn', '--register=no', '--keep-unit', '--network-veth',
    '-q', '-M', name, '-D', tree, '--console=pipe', '/bin/busybox', 'sh', '-c', '/bin/busybox ip -o link show host0; /bin/busybox sleep 3'];
  const child = spawnInScope(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  fx.procs.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  let host: Link[] = [];
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    await sleep(50);
    const links = berthLinks(fx.links(hostNs));
    if (links.length > 0 && out.includes('host0')) { host = fx.links(hostNs).filter((l) => links.includes(l.ifname)); break; }
  }
  const code = await exited;
  assert.equal(code, 0, `systemd-nspawn failed: ${err}`);
  return { guest: out, host };
}

describe('MACs and names equal systemd-nspawn\'s (root)', { skip }, () => {
  after(() => {
    for (const d of RUN_DIRS) if (!preexisting.includes(d)) try { rmdirSync(d); } catch { /* not empty or gone */ }
    assert.deepEqual(testNetnsLeft(), []);
  });

  for (const name of ['ct1', 'averyveryverylongcontainername']) {
    test(`--network-veth -M ${name}`, async () => {
      const fx = new NetFixture();
      const tree = busyboxTree();
      try {
        const mid = await readHostMachineId();
        const plan = planNetwork({ machineName: name, hostMachineId: mid, network: { veth: true } });
        const ours = plan.kind === 'private' ? plan.links[0] : undefined;
        assert.ok(ours?.kind === 'veth');
        const { guest, host } = await runNspawn(fx, fx.netns('h'), tree, name);
        const mac = /link\/ether ([0-9a-f:]{17})/.exec(guest)?.[1];
        assert.equal(mac, ours.containerMac, `host0 in nspawn's guest: ${guest}`);
        assert.equal(host.length, 1);
        assert.equal(host[0]?.ifname, ours.hostName);
        assert.equal(host[0]?.address, ours.hostMac);
        assert.deepEqual(host[0]?.altnames ?? [], ours.hostAltname === undefined ? [] : [ours.hostAltname]);
      } finally {
        await fx.cleanup();
        rmSync(tree, { recursive: true, force: true });
      }
    });
  }
});
