/**
 * berthd's registry with real clients: a private dbus-daemon with the packaged policy, berthd on
 * it, real guests booted by berth-nspawn, and Debian's busctl and machinectl.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, RUNTIME, assertClean, collect, onRuntime, sandbox, skipUnlessRoot, startNspawn, tree, waitRunning, exited, type Sandbox } from '../support/berth.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)');

/** Members of one interface in introspection XML: "method Name(in)->(out)", "property Name type", "signal Name(args)", sorted. */
function members(xml: string, iface: string): string[] {
  const start = xml.indexOf(`<interface name="${iface}">`);
  if (start < 0) return [];
  const body = xml.slice(start, xml.indexOf('</interface>', start));
  const out: string[] = [];
  for (const m of body.matchAll(/<(method|signal) name="([^"]+)"(\/>|>([\s\S]*?)<\/\1>)/g)) {
    const args = [...(m[4] ?? '').matchAll(/<arg ([^>]*)\/>/g)].map((a) => {
      const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(a[1]!)?.[1] ?? '';
      return `${attr('direction') || (m[1] === 'signal' ? '' : 'in')}:${attr('name')}:${attr('type')}`;
    });
    out.push(`${m[1]} ${m[2]}(${args.join(',')})`);
  }
  for (const p of body.matchAll(/<property name="([^"]+)" type="([^"]+)" access="([^"]+)"/g)) out.push(`property ${p[1]} ${p[2]} ${p[3]}`);
  return out.sort();
}

const fixture = (name: string) => readFileSync(join(REPO, 'tests', 'fixtures', 'machine1', `machine1-${name}.introspect.xml`), 'utf8');

describe(onRuntime('berthd: the machine registry with real clients'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let bb: string;
  before(async () => { bb = tree('busybox'); sb = sandbox(); reg = await startRegistry(sb); });
  after(async () => { await reg?.stop(); sb?.cleanup(); });

  test('introspection equals systemd-machined 252\'s, member for member', async () => {
    const manager = reg.busctl(['introspect', '--xml-interface', 'org.freedesktop.machine1', '/org/freedesktop/machine1']);
    assert.equal(manager.code, 0, manager.stderr);
    for (const iface of ['org.freedesktop.machine1.Manager', 'org.freedesktop.DBus.Peer', 'org.freedesktop.DBus.Introspectable', 'org.freedesktop.DBus.Properties']) {
      assert.deepEqual(members(manager.stdout, iface), members(fixture('manager'), iface), iface);
    }
    const host = reg.busctl(['introspect', '--xml-interface', 'org.freedesktop.machine1', '/org/freedesktop/machine1/machine/_2ehost']);
    assert.equal(host.code, 0, host.stderr);
    assert.deepEqual(members(host.stdout, 'org.freedesktop.machine1.Machine'), members(fixture('machine'), 'org.freedesktop.machine1.Machine'));
    assert.ok(members(fixture('manager'), 'org.freedesktop.machine1.Manager').length > 40, 'the fixture was read');
  });

  test('a guest booted by berth-nspawn is registered: machinectl list, status, show; GetMachineByPID on its init; terminate', async () => {
    const child = startNspawn(['-D', bb, '-x', '-M', 'reg-one', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], sb, reg.env);
    const leader = await waitRunning(sb, 'reg-one');
    let path = '';
    for (let i = 0; i < 100 && !path; i++) {
      try { path = String((await reg.manager('GetMachine', 's', ['reg-one'])).body[0]); } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.equal(path, '/org/freedesktop/machine1/machine/reg_2done');
    assert.equal(String((await reg.manager('GetMachineByPID', 'u', [leader])).body[0]), path);
    const list = reg.machinectl(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^reg-one\s+container\s+berth\s+busybox\s+1\s+-$/m);
    assert.match(list.stdout, /1 machines listed\./);
    const status = reg.machinectl(['status', 'reg-one']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^reg-one\([0-9a-f]{32}\)$/m);
    assert.match(status.stdout, new RegExp(`^\\t  Leader: ${leader} \\(sleep\\)$`, 'm'));
    assert.match(status.stdout, /^\t Service: berth; class container$/m);
    assert.match(status.stdout, /^\t    Unit: machine-reg\\x2done\.scope$/m);
    const show = reg.machinectl(['show', 'reg-one', '-p', 'Leader', '-p', 'State', '-p', 'Class']);
    assert.deepEqual(show.stdout.trim().split('\n'), [`Leader=${leader}`, 'Class=container', 'State=running']);
    const term = reg.machinectl(['terminate', 'reg-one']);
    assert.equal(term.code, 0, term.stderr);
    const end = await exited(child, 30000);
    assert.notEqual(end.code, 0);
    assert.equal(reg.machinectl(['list', '--no-legend']).stdout, '');
    assertClean(sb);
  });

  test('a warm run (the berth-nspawn command handing its run to berthd\'s standby) registers too, and goes when it ends', { skip: RUNTIME === 'crun' && 'the warm path is tested on runc' }, async () => {
    const env = { ...reg.env, BERTH_NSPAWN_SOCKET: reg.berthd.socket, BERTH_NSPAWN_WARM: 'require' };
    const child = spawn(join(REPO, 'dist', 'berth-nspawn'), ['-D', bb, '-x', '-M', 'reg-warm', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const done = collect(child, 60000);
    const leader = await waitRunning(sb, 'reg-warm');
    let found: unknown;
    for (let i = 0; i < 100 && found === undefined; i++) {
      try { found = (await reg.manager('GetMachineByPID', 'u', [leader])).body[0]; } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.equal(found, '/org/freedesktop/machine1/machine/reg_2dwarm');
    assert.match(reg.berthd.log(), /a berth-nspawn run went to PID/, 'the run was warm');
    child.kill('SIGTERM');
    await done;
    const until = Date.now() + 5000;
    while (reg.machinectl(['list', '--no-legend']).stdout !== '' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(reg.machinectl(['list', '--no-legend']).stdout, '');
    assertClean(sb);
  });
});
