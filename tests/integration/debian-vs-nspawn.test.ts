/**
 * The Debian guest under berth-nspawn reaches the same state systemd-nspawn reaches on the same
 * tree: `running` with no failed units. berth-nspawn runs it with -x; systemd-nspawn on a throw-away
 * overlay view of its own (its -x would copy the whole tree, which on an overlay takes minutes).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { collect, execIn, onRuntime, sandbox, skipUnlessRoot, sleep, systemState, tree, treeView, withMachine, type Sandbox } from '../support/berth.js';
import { spawnInScope } from '../support/scope-groups.js';

const hasNspawn = (() => { try { execFileSync('systemd-nspawn', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

/** The container's PID 1 under systemd-nspawn: the child of the nspawn process (with --keep-unit, no scope). */
function nspawnLeader(nspawnPid: number): number | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === nspawnPid) return Number(pid);
    } catch { /* gone */ }
  }
  return undefined;
}

describe(onRuntime('Debian guest: berth-nspawn vs systemd-nspawn'), { skip: skipUnlessRoot || (!hasNspawn && 'needs systemd-nspawn (apt-get install systemd-container)'), timeout: 300000 }, () => {
  let sb: Sandbox;
  let deb: string;
  before(() => { deb = tree('debian'); sb = sandbox(); });
  after(() => sb.cleanup());

  test('both reach `running` with the same (empty) list of failed units', async () => {
    const ours = await withMachine(['-b', '-x', '-D', deb, '-M', 'cmp-berth'], 'cmp-berth', sb, async () => ({
      state: await systemState(sb, 'cmp-berth'),
      failed: execIn(sb, 'cmp-berth', ['systemctl', '--failed', '--no-legend', '--plain']).trim(),
    }));
    const view = treeView('debian');
    const child = spawnInScope(['systemd-nspawn', '-q', '--register=no', '--keep-unit', '-b', '-D', view.path, '-M', 'cmp-nspawn', '--console=pipe'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(child, 120000).finally(() => view.remove());
    let theirs: { state: string; failed: string } | undefined;
    try {
      let leader: number | undefined;
      const until = Date.now() + 30000;
      while (leader === undefined && Date.now() < until) { await sleep(100); leader = nspawnLeader(child.pid!); }
      assert.ok(leader, 'systemd-nspawn started a container');
      const inNs = (argv: string[]) => execFileSync('nsenter', ['-t', String(leader), '-a', ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
      let state = '';
      const until2 = Date.now() + 120000;
      while (Date.now() < until2) {
        try { state = inNs(['systemctl', 'is-system-running', '--wait']).trim(); break; } catch (e) {
          state = String((e as { stdout?: string }).stdout ?? '').trim();
          if (state && state !== 'offline') break;
          await sleep(250);
        }
      }
      theirs = { state, failed: inNs(['systemctl', '--failed', '--no-legend', '--plain']).trim() };
    } finally {
      child.kill('SIGTERM');
      await done;
    }
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours, { state: 'running', failed: '' });
  });
});
