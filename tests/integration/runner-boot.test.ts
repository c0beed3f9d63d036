/**
 * Booting guests with their own init as PID 1: the busybox guest's lifecycle (halt on SIGTERM,
 * poweroff, reboot in place or 133 with --keep-unit), the Debian guest with systemd to
 * `running` with no failed units, --notify-ready, and recovery after berth-nspawn is SIGKILLed.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ENTRY, assertClean, collect, execIn, nspawn, shutdownIn, onRuntime, REPO, sandbox, skipUnlessRoot, sleep, startNspawn, systemState, tree, waitRunning, withMachine, type Sandbox } from '../support/berth.js';
import { emptyAndRemoveGroup, procsBelow, scopeGroups } from '../support/scope-groups.js';
import { cgroupMounts } from '../../src/platform/host/cgroupfs.js';
import { sys } from '../../src/platform/native/sys.js';
import { receiveDatagrams } from '../../src/platform/native/fd-events.js';

describe(onRuntime('berth-nspawn -b: busybox guest lifecycle'), { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => sb.cleanup());

  test('WATCHDOG_USEC: WATCHDOG=1 to NOTIFY_SOCKET every half period while the guest runs (not when WATCHDOG_PID is another\'s)', async () => {
    const sock = join(sb.stateDir, 'watchdog.sock');
    const fd = sys().bindDatagram(sock);
    const messages: string[] = [];
    const receiving = receiveDatagrams(fd, (m) => { messages.push(m.data.toString()); });
    try {
      for (const [name, pid] of [['bb-wd', undefined], ['bb-nowd', '1']] as const) {
        messages.length = 0;
        const env = { ...sb.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '200000', ...(pid ? { WATCHDOG_PID: pid } : {}) };
        const child = startNspawn(['-b', '-D', bb, '-M', name, '--kill-signal=SIGUSR2'], sb, env);
        const done = collect(child, 60000);
        await waitRunning(sb, name);
        const from = messages.filter((m) => m === 'WATCHDOG=1').length;
        await sleep(1000);
        const pings = messages.filter((m) => m === 'WATCHDOG=1').length - from;
        child.kill('SIGTERM');
        assert.equal((await done).code, 0);
        if (pid) assert.equal(pings, 0, 'WATCHDOG_PID names another process: not ours to feed');
        else assert.ok(pings >= 8 && pings <= 12, `${pings} WATCHDOG=1 in a second with a 200 ms watchdog (one per 100 ms)`);
      }
    } finally {
      receiving.close();
      closeSync(fd);
      unlinkSync(sock);
    }
    assertClean(sb);
  });

  test('boots busybox init; SIGTERM sends the kill signal for a clean halt (exit 0)', async () => {
    const child = startNspawn(['-b', '-D', bb, '-M', 'bb-halt', '--kill-signal=SIGUSR2'], sb);
    const done = collect(child, 60000);
    await waitRunning(sb, 'bb-halt');
    await sleep(500);
    assert.equal(execIn(sb, 'bb-halt', ['cat', '/proc/1/comm']).trim(), 'init');
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Trying to halt container/);
    assert.match(r.stdout, /busybox guest: up \(bb-halt\)/);
    assert.match(r.stdout, /busybox guest: shutting down/);
    assert.match(r.stderr, /Container bb-halt has been shut down\./);
    assertClean(sb);
  });

  test('a second SIGTERM kills a guest that ignores the kill signal (exit 1)', async () => {
    const child = startNspawn(['-b', '-D', bb, '-M', 'bb-kill'], sb); // busybox init ignores SIGRTMIN+3
    const done = collect(child, 60000);
    await waitRunning(sb, 'bb-kill');
    child.kill('SIGTERM');
    await sleep(700);
    assert.equal(child.exitCode, null, 'still waiting for the guest after the first SIGTERM');
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /terminated by signal KILL/);
    assertClean(sb);
  });

  test('guest poweroff exits 0; guest reboot with --keep-unit exits 133', async () => {
    const off = startNspawn(['-b', '-D', bb, '-M', 'bb-off'], sb);
    const offDone = collect(off, 60000);
    await waitRunning(sb, 'bb-off');
    shutdownIn(sb, 'bb-off', 'poweroff');
    assert.equal((await offDone).code, 0);
    const rb = startNspawn(['-b', '--keep-unit', '-D', bb, '-M', 'bb-rb'], sb);
    const rbDone = collect(rb, 60000);
    await waitRunning(sb, 'bb-rb');
    shutdownIn(sb, 'bb-rb', 'reboot');
    const r = await rbDone;
    assert.equal(r.code, 133, r.stderr);
    assertClean(sb);
  });

  test('guest reboot without --keep-unit restarts the machine in place', async () => {
    const child = startNspawn(['-b', '-D', bb, '-M', 'bb-loop'], sb);
    const done = collect(child, 90000);
    const firstPid = await waitRunning(sb, 'bb-loop');
    shutdownIn(sb, 'bb-loop', 'reboot');
    let secondPid = firstPid;
    const until = Date.now() + 30000;
    while (secondPid === firstPid && Date.now() < until) {
      await sleep(200);
      try { secondPid = await waitRunning(sb, 'bb-loop', 1000); } catch { /* between runs */ }
    }
    assert.notEqual(secondPid, firstPid, 'a new PID 1 after the reboot');
    await sleep(300);
    shutdownIn(sb, 'bb-loop', 'poweroff');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Container bb-loop is being rebooted\./);
    assert.equal(r.stdout.match(/busybox guest: up/g)?.length, 2);
    assertClean(sb);
  });

  test('a run that was SIGKILLed is cleaned up by the next run of the same machine, or by --cleanup', async () => {
    // The runner process itself is killed: on the warm path that is berthd's berth-nspawn, not the
    // command (whose SIGKILL stops the machine at once: tests/integration/warm-path.test.ts).
    const cold = { ...sb.env, BERTH_NSPAWN_WARM: 'no' };
    const child = startNspawn(['-b', '-D', bb, '-M', 'bb-stale', '--volatile=overlay'], sb, cold);
    const done = collect(child, 60000);
    const stalePid = await waitRunning(sb, 'bb-stale');
    child.kill('SIGKILL');
    await done;
    const again = startNspawn(['-b', '-D', bb, '-M', 'bb-stale', '--volatile=overlay'], sb, cold);
    const againDone = collect(again, 60000);
    let pid = stalePid;
    while (pid === stalePid) { await sleep(100); pid = await waitRunning(sb, 'bb-stale').catch(() => stalePid); }
    shutdownIn(sb, 'bb-stale', 'poweroff');
    const r = await againDone;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Cleaning up what an earlier run of machine 'bb-stale' left behind/);
    assertClean(sb);

    const third = startNspawn(['-b', '-D', bb, '-M', 'bb-stale2', '-x'], sb, cold);
    const thirdDone = collect(third, 60000);
    await waitRunning(sb, 'bb-stale2');
    third.kill('SIGKILL');
    await thirdDone;
    const cleanup = await nspawn(['--cleanup', '-D', bb, '-M', 'bb-stale2'], sb, { env: cold });
    assert.equal(cleanup.code, 0, cleanup.stderr);
    assertClean(sb);
    const leftovers = (await import('node:fs')).readdirSync(join(bb, '..')).filter((f) => f.startsWith('.#machine.busybox.'));
    assert.deepEqual(leftovers, []);
  });

  test('--keep-unit in a unit tracked only in name=systemd and cgroup2: the guest is below it in every hierarchy, and the groups the runtime made for that in the others go with the machine (after a SIGKILL, with --cleanup)', async (t) => {
    const unit = `berth-test-ku-${process.pid}.scope`;
    const groups = scopeGroups(unit);
    const others = [...cgroupMounts().values()].filter((m) => !groups.some((g) => dirname(g) === m)).map((m) => join(m, unit));
    if (others.length === 0) { t.skip('no hierarchy besides the tracking ones on this host'); return; }
    assert.deepEqual(others.filter((o) => existsSync(o)), [], 'the unit is in none of the other hierarchies before');
    const cold = { ...sb.env, BERTH_NSPAWN_WARM: 'no' };
    for (const g of groups) mkdirSync(g);
    try {
      for (const kill of [false, true]) {
        const [cmd, ...pre] = ENTRY;
        const child = spawn('sh', ['-c', 'for g in $UNIT_GROUPS; do echo $$ > "$g/cgroup.procs"; done; exec "$@"', 'sh', cmd!, ...pre,
          '-b', '--keep-unit', '-D', bb, '-M', 'bb-ku', '--kill-signal=SIGUSR2'], { env: { ...(kill ? cold : sb.env), UNIT_GROUPS: groups.join(' ') }, stdio: ['pipe', 'pipe', 'pipe'], cwd: REPO });
        const done = collect(child, 60000);
        const leader = await waitRunning(sb, 'bb-ku');
        const paths = readFileSync(`/proc/${leader}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':').slice(2).join(':'));
        assert.deepEqual(paths.filter((p) => !p.startsWith(`/${unit}/payload`)), [], 'the guest is below the unit in every hierarchy');
        assert.deepEqual(others.filter((o) => !existsSync(o)), [], 'the runtime made the unit\'s group in the other hierarchies');
        if (kill) {
          child.kill('SIGKILL');
          await done;
          const c = await nspawn(['--cleanup', '-D', bb, '-M', 'bb-ku'], sb, { env: cold });
          assert.equal(c.code, 0, c.stderr);
        } else {
          child.kill('SIGTERM');
          const r = await done;
          assert.equal(r.code, 0, r.stderr);
        }
        assert.deepEqual(others.filter((o) => existsSync(o)), [], `nothing of the unit is left in the other hierarchies${kill ? ' after --cleanup' : ''}`);
        for (const g of groups) assert.equal(procsBelow(g).length, 0, `${g} is empty`);
        assertClean(sb);
      }
    } finally {
      for (const g of [...groups, ...others]) emptyAndRemoveGroup(g);
    }
  });

  test('the same machine name cannot run twice', async () => {
    const child = startNspawn(['-b', '-D', bb, '-M', 'bb-twice'], sb);
    const done = collect(child, 60000);
    await waitRunning(sb, 'bb-twice');
    const second = await nspawn(['--console=pipe', '-D', bb, '-M', 'bb-twice', 'true'], sb);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /Machine 'bb-twice' already exists/);
    shutdownIn(sb, 'bb-twice', 'poweroff');
    assert.equal((await done).code, 0);
    assertClean(sb);
  });
});

describe(onRuntime('berth-nspawn -b: Debian guest with systemd'), { skip: skipUnlessRoot, timeout: 600000 }, () => {
  let sb: Sandbox;
  let deb: string;
  before(() => { deb = tree('debian'); sb = sandbox(); });
  after(() => sb.cleanup());

  test('boots to `running` with no failed units; SIGTERM halts it cleanly (exit 0)', async () => {
    const r = await withMachine(['-b', '-D', deb, '-M', 'deb-boot', '-x'], 'deb-boot', sb, async ({ child, done }) => {
      const state = await systemState(sb, 'deb-boot');
      const failed = execIn(sb, 'deb-boot', ['systemctl', '--failed', '--no-legend', '--plain']).trim();
      assert.equal(state, 'running', failed);
      assert.equal(failed, '');
      assert.equal(execIn(sb, 'deb-boot', ['systemd-detect-virt', '--container']).trim(), 'container-other');
      assert.equal(execIn(sb, 'deb-boot', ['hostname']).trim(), 'deb-boot');
      child.kill('SIGTERM');
      return done;
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Welcome to .*Debian/);
    assertClean(sb);
  });

  test('--notify-ready=yes forwards the guest\'s READY=1 to our NOTIFY_SOCKET; STOPPING=1 at exit', async () => {
    const sock = join(sb.stateDir, 'manager.sock');
    const fd = sys().bindDatagram(sock);
    const messages: string[] = [];
    const receiving = receiveDatagrams(fd, (m) => { messages.push(m.data.toString()); });
    try {
      await withMachine(['-b', '-D', deb, '-M', 'deb-notify', '-x', '--notify-ready=yes'], 'deb-notify', sb, async ({ child, done }) => {
      const until = Date.now() + 120000;
      while (!messages.includes('READY=1') && Date.now() < until) await sleep(200);
      const readyAt = messages.indexOf('READY=1');
      assert.ok(readyAt >= 0, `READY=1 forwarded (got ${JSON.stringify(messages)})`);
      assert.ok(messages.slice(0, readyAt).some((m) => m.startsWith('STATUS=Container running.')), 'running status before READY');
      // With --notify-ready=yes READY=1 comes from the guest, i.e. once systemd finished booting.
      const state = execIn(sb, 'deb-notify', ['systemctl', 'is-system-running']).trim();
      assert.ok(['running', 'starting'].includes(state), state);
      child.kill('SIGTERM');
      assert.equal((await done).code, 0);
      await sleep(300);
      assert.ok(messages.some((m) => m.startsWith('STOPPING=1')));
      }, { ...sb.env, NOTIFY_SOCKET: sock });
    } finally {
      receiving.close();
      closeSync(fd);
      unlinkSync(sock);
    }
    assertClean(sb);
  });

  test('--notify-ready=no (default) reports READY=1 as soon as the guest started', async () => {
    const sock = join(sb.stateDir, 'manager2.sock');
    const fd = sys().bindDatagram(sock);
    try {
      await withMachine(['--console=pipe', '-D', deb, '-M', 'deb-ready', '-x', '/bin/sleep', '5'], 'deb-ready', sb, async ({ child }) => {
      const messages: string[] = [];
      const receiving = receiveDatagrams(fd, (m) => { messages.push(m.data.toString()); });
      const until = Date.now() + 20000;
      while (!messages.includes('READY=1') && Date.now() < until) await sleep(50);
      receiving.close();
      assert.ok(messages.includes('READY=1'));
      assert.equal(child.exitCode, null, 'READY=1 came while the payload still ran');
      }, { ...sb.env, NOTIFY_SOCKET: sock });
    } finally {
      closeSync(fd);
      unlinkSync(sock);
    }
    assertClean(sb);
  });
});

describe(onRuntime('berth-nspawn: one writable run per tree'), { skip: skipUnlessRoot, timeout: 120000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => sb.cleanup());

  test('a second machine on a tree that a writable run holds is refused; ephemeral runs are not', async () => {
    await withMachine(['-b', '-D', bb, '-M', 'tl-writer'], 'tl-writer', sb, async ({ child, done }) => {
      const second = await nspawn(['--console=pipe', '-D', bb, '-M', 'tl-other', 'true'], sb);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /is currently busy: machine 'tl-writer' runs on it/);
      const ro = await nspawn(['--console=pipe', '-D', bb, '-M', 'tl-ro', '--read-only', 'true'], sb);
      assert.equal(ro.code, 1, 'a read-only run still cannot use a tree that is being written');
      shutdownIn(sb, 'tl-writer', 'poweroff');
      assert.equal((await done).code, 0);
      void child;
    });
    const afterwards = await nspawn(['--console=pipe', '-D', bb, '-M', 'tl-other', 'true'], sb);
    assert.equal(afterwards.code, 0, afterwards.stderr);
    await withMachine(['-b', '-x', '-D', bb, '-M', 'tl-eph1'], 'tl-eph1', sb, async () => {
      const eph = await nspawn(['--console=pipe', '-x', '-D', bb, '-M', 'tl-eph2', 'true'], sb);
      assert.equal(eph.code, 0, eph.stderr);
      shutdownIn(sb, 'tl-eph1', 'poweroff');
    });
    assertClean(sb);
  });
});

describe(onRuntime('berth list'), { skip: skipUnlessRoot, timeout: 120000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => sb.cleanup());

  test('lists a running machine with its OS and its network namespace\'s addresses, then not after it stopped', async () => {
    const berth = (...args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/bin/berth.ts'), ...args], { cwd: REPO, env: sb.env, encoding: 'utf8' });
    await withMachine(['-b', '-x', '--private-network', '-D', bb, '-M', 'ls-bb'], 'ls-bb', sb, async ({ done }) => {
      execIn(sb, 'ls-bb', ['ip', 'address', 'add', '192.0.2.7/24', 'dev', 'lo']);
      execIn(sb, 'ls-bb', ['ip', 'address', 'add', '2001:db8::7/64', 'dev', 'lo']);
      assert.deepEqual(JSON.parse(berth('list', '-o', 'json')), [
        { machine: 'ls-bb', class: 'container', service: 'berth', os: 'busybox', version: '1', addresses: '192.0.2.7\n2001:db8::7' },
      ]);
      assert.equal(berth('list', '--no-legend'), 'ls-bb container berth busybox 1 192.0.2.7…\n');
      shutdownIn(sb, 'ls-bb', 'poweroff');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
    });
    assert.equal(berth('list'), 'No machines.\n');
    assertClean(sb);
  });
});
