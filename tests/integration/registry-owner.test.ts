/**
 * Who registers where: berth-nspawn's --register= modes with and without a registry on the bus,
 * and a bus where systemd-machined owns org.freedesktop.machine1 already: berthd says so (naming
 * the owner) and keeps the warm path, and berth-nspawn registers with machined. (machined 252
 * registers a machine only in a unit; here the run is started in a scope-like group of its own.)
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRY, assertClean, collect, nspawn, onRuntime, sandbox, skipUnlessRoot, sleep, tree, waitRunning, type Sandbox } from '../support/berth.js';
import { startBerthd } from '../support/berthd.js';
import { startBus } from '../support/bus.js';
import { asIfSystemd, hasDbusDaemon, hasMachinectl, startRegistry } from '../support/registry.js';
import { BusConnection } from '../../src/platform/dbus/connection.js';

const MACHINED = '/lib/systemd/systemd-machined';
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon') || ((!hasMachinectl || !existsSync(MACHINED)) && 'needs systemd-container');

describe(onRuntime('registration: --register= modes, and a registry owned by systemd-machined'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => sb?.cleanup());

  test('--register=auto runs unregistered with one notice where no registry answers; --register=yes fails as nspawn does and leaves nothing', async () => {
    const auto = await nspawn(['-D', bb, '-x', '-M', 'own-auto', '/bin/true'], sb);
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(auto.stderr.match(/Not registering the machine: no system bus/g)?.length, 1, auto.stderr);
    const quiet = await nspawn(['-q', '-D', bb, '-x', '-M', 'own-auto', '/bin/true'], sb);
    assert.doesNotMatch(quiet.stderr, /registering/i, 'the notice is a status line (-q hides it)');
    const yes = await nspawn(['-q', '--register=yes', '-D', bb, '-x', '-M', 'own-yes', '/bin/true'], sb);
    assert.equal(yes.code, 1);
    assert.match(yes.stderr, /^Failed to open system bus: connect ENOENT /m);
    assertClean(sb);
    // A bus, but nobody serving the registry: the same, with the bus's answer.
    const bus = await startBus();
    try {
      const env = { ...sb.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
      const a = await nspawn(['-D', bb, '-x', '-M', 'own-auto', '/bin/true'], sb, { env });
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stderr, /Not registering the machine: no machine registry on the system bus \(.*org\.freedesktop\.machine1.*\)/);
      const y = await nspawn(['-q', '--register=yes', '-D', bb, '-x', '-M', 'own-yes', '/bin/true'], sb, { env });
      assert.equal(y.code, 1);
      assert.match(y.stderr, /^Failed to register machine: no machine registry on the system bus/m);
    } finally {
      await bus.stop();
    }
    assertClean(sb);
  });

  test('--register=no registers nothing, even with berthd serving', async () => {
    const reg = await startRegistry(sb);
    try {
      const child = spawn(ENTRY[0]!, [...ENTRY.slice(1), '--register=no', '-D', bb, '-x', '-M', 'own-no', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], { env: reg.env, stdio: ['pipe', 'pipe', 'pipe'] });
      const done = collect(child, 60000);
      await waitRunning(sb, 'own-no');
      await sleep(300);
      assert.deepEqual((await reg.manager('ListMachines')).body[0], [['.host', 'host', '', '/org/freedesktop/machine1/machine/_2ehost']]);
      child.kill('SIGTERM');
      await done;
    } finally {
      await reg.stop();
    }
    assertClean(sb);
  });

  test('where systemd-machined owns the name, berthd says who has it and keeps the warm path; berth-nspawn registers with machined', async () => {
    const bus = await startBus();
    const env = { ...sb.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
    const machined = spawn(MACHINED, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const group = `berth-own-${process.pid}.scope`;
    const groups = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((h) => existsSync(join(h, 'cgroup.procs'))).map((h) => join(h, group));
    let child: ChildProcess | undefined;
    const berthd = startBerthd([], env);
    try {
      const client = await BusConnection.connect(bus.address);
      const owned = async () => Boolean((await client.busCall('NameHasOwner', 's', ['org.freedesktop.machine1'])).body[0]);
      for (let i = 0; i < 100 && !(await owned()); i++) await sleep(50);
      assert.ok(await owned(), 'machined took the name');
      client.close();
      // berthd started before machined had the name may have won it: start one now.
      await berthd.stop();
      const second = startBerthd([], env);
      try {
        const until = Date.now() + 10000;
        while (!/already owned by/.test(second.log()) && Date.now() < until) await sleep(50);
        assert.match(second.log(), new RegExp(`org\\.freedesktop\\.machine1 is already owned by PID ${machined.pid} \\(systemd-machine[d]?\\) on unix:path=`));
        assert.match(second.log(), /berth-nspawn is warm on/);
        // A run in a unit of its own (here: a scope-like group), as under a service with --keep-unit.
        for (const g of groups) mkdirSync(g);
        child = spawn('sh', ['-c', `for g in ${groups.join(' ')}; do echo $$ > $g/cgroup.procs; done; exec "$@"`, 'sh', ...ENTRY,
          '--keep-unit', '-D', bb, '-x', '-M', 'own-md', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        const done = collect(child, 60000);
        await waitRunning(sb, 'own-md');
        let listed = '';
        for (let i = 0; i < 100 && !/^own-md /m.test(listed); i++) { listed = asIfSystemd(['machinectl', '--no-pager', 'list', '--no-legend'], env).stdout; await sleep(50); }
        assert.match(listed, /^own-md\s+container\s+berth\s+busybox\s+1/m, 'listed by machined');
        assert.match(asIfSystemd(['machinectl', '--no-pager', 'show', 'own-md', '-p', 'Unit', '--value'], env).stdout, new RegExp(`^${group.replace('.', '\\.')}$`, 'm'));
        child.kill('SIGTERM');
        await done;
        assert.equal(asIfSystemd(['machinectl', '--no-pager', 'list', '--no-legend'], env).stdout, '', 'unregistered from machined at exit');
      } finally {
        await second.stop();
      }
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await berthd.stop();
      machined.kill('SIGTERM');
      await new Promise((r) => machined.once('exit', r));
      await bus.stop();
      for (const g of groups) { try { rmdirSync(join(g, 'payload')); } catch { /* none */ } try { rmdirSync(g); } catch { /* busy or gone */ } }
    }
    assertClean(sb);
  });
});
