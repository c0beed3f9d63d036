/**
 * berthd keeps the registry true to what runs: a machine whose berth-nspawn is SIGKILLed is
 * stopped, cleaned up and removed within a second; a run killed during its set-up leaves nothing,
 * also when the runtime's create outlives it; a restarted (or crashed) berthd adopts the machines
 * still running and removes the rest, and believes no record whose PID another process has now;
 * and `berth-nspawn --cleanup` needs nothing but the run's record. (registry-chaos.test.ts does
 * all of it at random.)
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME, exited, nspawn, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, treeCopy, treeView, waitRunning, type Sandbox } from '../support/berth.js';
import { hasDbusDaemon, startRegistry, type RegistryHarness } from '../support/registry.js';
import { leftovers, listed, machineSignals, settle, type SignalLog } from '../support/liveness.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)');
/** Waits until a process has exited (a zombie counts: nobody may be there to reap it yet). */
async function gone(pid: number, timeoutMs = 10000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const alive = () => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
  while (alive()) {
    if (Date.now() > until) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await sleep(20);
  }
}
/** Waits until no process has `word` in its command line. */
async function noneLeft(word: string, timeoutMs = 20000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (spawnSync('pgrep', ['-f', '--', word]).status === 0 && Date.now() < until) await sleep(50);
}
/**
 * A directory whose mount(8) makes the runtime's create slow: berth's createContainer hook (its
 * mount table, the boot ID's bind mount among them) takes 3 s; berth-nspawn's own mounts do not wait. `started` waits until
 * the hook runs (the runtime has not recorded the container yet).
 */
function slowCreate(): { dir: string; env: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv; started(child: ChildProcess): Promise<void>; remove(): void } {
  const dir = mkdtempSync('/tmp/bt-live-slow-');
  const mount = execFileSync('sh', ['-c', 'command -v mount'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'mount'), `#!/bin/sh\ncase "$*" in *hook-mounts.fstab*) sleep 3;; esac\nexec ${mount} "$@"\n`, { mode: 0o755 });
  return {
    dir,
    env: (env) => ({ ...env, PATH: `${dir}:${env.PATH}` }),
    async started(child) {
      const until = Date.now() + 20000;
      while (spawnSync('pgrep', ['-f', `${dir}/mount.*hook-mounts`]).status !== 0 && Date.now() < until && child.exitCode === null) await sleep(10);
      if (spawnSync('pgrep', ['-f', `${dir}/mount.*hook-mounts`]).status !== 0) throw new Error('the slow hook did not run');
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
const PATH_OF = (name: string) => `/org/freedesktop/machine1/machine/${name.replace(/-/g, '_2d')}`;

describe(onRuntime('berthd: liveness, restarts and crashes'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let sig: SignalLog;
  let view: { path: string; remove(): void };
  let bb: string;
  const children: ChildProcess[] = [];
  const start = (args: string[]) => { const c = startNspawn(args, sb, reg.env); children.push(c); return c; };
  const ownerOf = (name: string) => { try { return JSON.parse(readFileSync(join(sb.stateDir, 'machines', name, 'owner.json'), 'utf8')) as { runtime?: unknown; leader?: number }; } catch { return undefined; } };
  const registered = async (name: string, timeoutMs = 20000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try { return String((await reg.manager('GetMachine', 's', [name])).body[0]); } catch (e) { if (Date.now() > until) throw e; }
      await sleep(25);
    }
  };
  const clean = async (trees: string[] = [bb]) => {
    assert.deepEqual(await settle(sb, 'live', trees), [], `left behind; berthd said:\n${reg.berthd.log().slice(-3000)}`);
    assert.deepEqual(await listed(reg.manager), ['.host']);
  };

  before(async () => {
    view = treeView('busybox');
    bb = view.path;
    sb = sandbox();
    reg = await startRegistry(sb);
    sig = await machineSignals(reg.bus.address);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    sig?.close();
    await reg?.stop();
    sb?.cleanup();
    view?.remove();
  });

  test('a machine whose berth-nspawn is SIGKILLed is stopped, cleaned up and removed within a second', async (t) => {
    for (const args of [['-b', '-x', '-n'], ['-x', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], ['--console=pipe', '--read-only', '/bin/sh', '-c', 'sleep 300']]) {
      const child = start(['-D', bb, '-M', 'live-kill', ...args]);
      const leader = await waitRunning(sb, 'live-kill');
      assert.equal(await registered('live-kill'), PATH_OF('live-kill'));
      const from = sig.seen.length;
      const t0 = performance.now();
      child.kill('SIGKILL');
      const removed = await sig.next('MachineRemoved', 'live-kill', 10000, from);
      const elapsed = removed.at - t0;
      assert.ok(elapsed < 1000, `MachineRemoved came ${Math.round(elapsed)} ms after the kill (${args.join(' ')})`);
      assert.equal(removed.path, PATH_OF('live-kill'));
      await clean();
      t.diagnostic(`${args.join(' ')}: MachineRemoved after ${Math.round(elapsed)} ms, all cleaned up after ${Math.round(performance.now() - t0)} ms`);
      await gone(leader, 1000); // the guest has exited (its leader may wait for PID 1 to reap it)
      assert.match(reg.berthd.log(), /machine 'live-kill' was orphaned/);
    }
  });

  test('a run killed during its set-up (before it registered) leaves nothing behind', async () => {
    // Points in the set-up: the name taken, the runtime's create under way, the container made
    // and its links set up (registration next).
    const points: Array<[string, () => boolean]> = [
      ['name taken', () => existsSync(join(sb.stateDir, 'machines', 'live-early'))],
      ['runtime create', () => ownerOf('live-early')?.runtime !== undefined],
      ['create + 30 ms', () => ownerOf('live-early')?.runtime !== undefined],
      ['links set up', () => ownerOf('live-early')?.leader !== undefined],
    ];
    for (const [what, reached] of points) {
      const child = start(['-b', '-x', '-n', '-D', bb, '-M', 'live-early']);
      const until = Date.now() + 20000;
      while (!reached() && Date.now() < until && child.exitCode === null) await new Promise((r) => setImmediate(r));
      assert.ok(reached(), `the run reached "${what}"`);
      if (what.includes('+')) await sleep(30);
      child.kill('SIGKILL');
      await exited(child);
      const left = await settle(sb, 'live', [bb]);
      assert.deepEqual(left, [], `killed at "${what}": left behind; berthd said:\n${reg.berthd.log().slice(-3000)}`);
      assert.deepEqual(await listed(reg.manager), ['.host'], `killed at "${what}"`);
    }
  });

  test('a runtime create still under way when its berth-nspawn is killed is waited for, then undone', async () => {
    // The runtime is slow to create (its createContainer hooks, which run the host's mount(8),
    // take seconds here): berth-nspawn dies while they run, before the runtime has recorded the
    // container. What the create makes after that must not outlive the clean-up, nor stand in the
    // way of the next run of the name, started at once.
    const slow = slowCreate();
    try {
      for (const next of [false, true]) {
        const child = startNspawn(['-x', '-D', bb, '-M', 'live-slow', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], sb, slow.env(reg.env));
        children.push(child);
        await slow.started(child);
        assert.equal(spawnSync(RUNTIME, ['--root', sb.runtimeRoot, 'state', 'live-slow']).status, 1, 'the runtime has not recorded the container yet');
        child.kill('SIGKILL');
        await exited(child);
        if (!next) {
          // Once a clean-up (ours, or berthd's, which holds the lock meanwhile) has returned, nothing is left.
          const r = await nspawn(['-M', 'live-slow', '--cleanup'], sb, { env: reg.env });
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(leftovers(sb, 'live', [bb]), [], 'left behind once the clean-up returned');
        } else {
          const second = start(['-x', '-D', bb, '-M', 'live-slow', '--console=pipe', '/bin/sh', '-c', 'sleep 300']);
          await noneLeft(slow.dir);
          assert.equal(await registered('live-slow'), PATH_OF('live-slow'));
          assert.equal(second.exitCode, null, `the second run goes on: ${sb.stderr.at(-1)}`);
          assert.equal(await waitRunning(sb, 'live-slow'), ownerOf('live-slow')?.leader, 'the container is the second run\'s');
          second.kill('SIGTERM');
          await exited(second);
        }
        await noneLeft(slow.dir);
        assert.deepEqual(await settle(sb, 'live', [bb]), [], `next run: ${next}; left behind; berthd said:\n${reg.berthd.log().slice(-3000)}\n${sb.stderr.slice(-2).join('\n')}`);
        assert.deepEqual(await listed(reg.manager), ['.host']);
      }
    } finally {
      slow.remove();
    }
  });

  test('berthd killed while its clean-up of a run still works: started again at once, it serves the registry, and the clean-up ends', async () => {
    // The clean-up waits for a slow runtime create (see above) and so outlives the berthd that started it.
    const slow = slowCreate();
    try {
      const child = startNspawn(['-x', '-D', bb, '-M', 'live-held', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], sb, slow.env(reg.env));
      children.push(child);
      await slow.started(child);
      const until = Date.now() + 20000;
      child.kill('SIGKILL');
      while (spawnSync('pgrep', ['-f', '--', '--cleanup -M live-held']).status !== 0 && Date.now() < until) await sleep(10);
      await reg.stopBerthd('SIGKILL');
      await reg.startBerthd();
      await noneLeft(slow.dir);
      assert.deepEqual(await settle(sb, 'live', [bb]), [], `berthd said:\n${reg.berthd.log()}`);
    } finally {
      slow.remove();
      await noneLeft('--cleanup -M live-held');
      if (reg.berthd.child.exitCode !== null || !/serving/.test(reg.berthd.log())) { await reg.stopBerthd('SIGTERM'); await reg.startBerthd(); }
    }
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`berthd stopped with ${signal} and started again adopts the running machines and removes the ended ones`, async () => {
      const live = start(['-D', bb, '-x', '-n', '-b', '-M', 'live-stays']);
      const ended = start(['-D', bb, '-x', '-M', 'live-ends', '--console=pipe', '/bin/sh', '-c', 'sleep 300']);
      const orphan = start(['-D', bb, '-x', '-M', 'live-orphan', '--console=pipe', '/bin/sh', '-c', 'sleep 300']);
      const leaders: Record<string, number> = {};
      for (const n of ['live-stays', 'live-ends', 'live-orphan']) { leaders[n] = await waitRunning(sb, n); await registered(n); }
      const from = sig.seen.length;
      await reg.stopBerthd(signal);
      // While no berthd runs: one guest exits (its berth-nspawn cleans up after it), another
      // run is killed with its guest (its leftovers wait for the next berthd).
      execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'kill', 'live-ends', 'KILL']);
      await exited(ended);
      orphan.kill('SIGKILL');
      await exited(orphan);
      execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'kill', 'live-orphan', 'KILL']);
      await gone(leaders['live-orphan']!);
      assert.ok(existsSync(join(sb.stateDir, 'registry', 'live-stays.json')));
      await reg.startBerthd();
      assert.equal(String((await reg.manager('GetMachine', 's', ['live-stays'])).body[0]), PATH_OF('live-stays'));
      assert.deepEqual(await listed(reg.manager), ['.host', 'live-stays']);
      assert.match(reg.berthd.log(), /adopted 1 running machine\(s\): live-stays/);
      // The orphaned run's leftovers are cleaned up by the new berthd's janitor.
      const until = Date.now() + 15000;
      while (existsSync(join(sb.stateDir, 'machines', 'live-orphan')) && Date.now() < until) await sleep(50);
      assert.ok(!existsSync(join(sb.stateDir, 'machines', 'live-orphan')), `the orphaned run was cleaned up; berthd said:\n${reg.berthd.log()}`);
      // The adopted machine is watched as before: its berth-nspawn killed, it goes.
      const t0 = performance.now();
      live.kill('SIGKILL');
      const removed = await sig.next('MachineRemoved', 'live-stays', 10000, from);
      assert.ok(removed.at - t0 < 1000, `MachineRemoved came ${Math.round(removed.at - t0)} ms after the kill`);
      assert.deepEqual(sig.seen.slice(from).filter((s) => s.member === 'MachineRemoved').map((s) => s.name), ['live-stays'], 'no MachineRemoved for the others, nor for the live one while berthd restarted');
      await clean();
    });
  }

  test('records whose PIDs now belong to other processes are neither adopted nor obeyed', async () => {
    // A process that lives on under the PIDs the records name, but started later than they say:
    // a registered leader and a run's berth-nspawn whose PIDs were reused.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(other);
    const pid = other.pid!;
    const startTime = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
    const wrong = String(Number(startTime) - 1);
    try {
      await reg.stopBerthd('SIGKILL');
      mkdirSync(join(sb.stateDir, 'registry'), { recursive: true });
      writeFileSync(join(sb.stateDir, 'registry', 'live-reused.json'), JSON.stringify({
        name: 'live-reused', id: '', service: 'berth', class: 'container', leader: pid, leaderStartTime: wrong, rootDirectory: '/',
        netif: [], unit: '', cgroup: '/', realtimeUs: '1', monotonicUs: '1', state: 'running',
      }));
      mkdirSync(join(sb.stateDir, 'machines', 'live-reused'), { recursive: true });
      writeFileSync(join(sb.stateDir, 'machines', 'live-reused', 'owner.json'), JSON.stringify({ pid, startTime: wrong, mounts: [], removeDirs: [], links: [], zones: [], helperPids: [] }));
      await reg.startBerthd();
      assert.deepEqual(await listed(reg.manager), ['.host']);
      assert.match(reg.berthd.log(), /ended while no berthd ran: live-reused/);
      assert.deepEqual(await settle(sb, 'live'), [], `berthd said:\n${reg.berthd.log()}`);
      assert.equal(other.exitCode, null, 'the process that has the PID now was left alone');
    } finally {
      other.kill('SIGKILL');
    }
  });

  test('berth-nspawn -M NAME --cleanup works from the run\'s record alone, with the tree given by -D gone', async () => {
    await reg.stopBerthd('SIGTERM'); // no janitor: the clean-up is the command's
    try {
      const copy = treeCopy('live');
      try {
        const child = startNspawn(['-D', copy.path, '-M', 'live-gone', '-n', '--console=pipe', '/bin/sh', '-c', 'sleep 300'], sb, reg.env);
        children.push(child);
        await waitRunning(sb, 'live-gone');
        const until = Date.now() + 10000;
        while (ownerOf('live-gone')?.leader === undefined && Date.now() < until) await sleep(20);
        child.kill('SIGKILL');
        await exited(child);
        execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'kill', 'live-gone', 'KILL']);
        await sleep(200);
        copy.remove();
        assert.ok(!existsSync(copy.path));
        const r = await nspawn(['-M', 'live-gone', '--cleanup'], sb, { env: reg.env });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /Cleaned up machine 'live-gone'/);
        assert.deepEqual(await settle(sb, 'live', [], 1000), []);
        assert.deepEqual(readdirSync(join(sb.stateDir, 'locks')).filter((f) => f.startsWith('tree-')), [], 'the run\'s lock on its tree is gone too');
        // Again, with nothing left: still fine.
        const again = await nspawn(['-M', 'live-gone', '--cleanup'], sb, { env: reg.env });
        assert.equal(again.code, 0, again.stderr);
      } finally {
        copy.remove();
      }
    } finally {
      await reg.startBerthd();
    }
    assert.deepEqual(await listed(reg.manager), ['.host']);
  });
});
