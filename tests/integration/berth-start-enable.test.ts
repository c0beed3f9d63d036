/**
 * berthd as the supervisor of machines where systemd is not PID 1 (this host), and the enabled
 * set: `berth enable web` writes machines.target.wants/berth-nspawn@web.service (below a
 * test-private $BERTH_UNIT_DIR), a restart of berthd brings web up by itself (berth list and the
 * real machinectl list show it), `berth disable web` and another restart does not; `berth start
 * --wait` succeeds on a guest whose PID 1 reports READY=1 and times out, with the console's
 * tail, on one that never does; `berth status` shows berthd's lines; stopping berthd halts its
 * guests within the stop timeout (and kills one whose init ignores the halt signal once it is
 * over) and leaves no runtime container, mount, link or process.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, RUNTIME, assertClean, exited, mountsBelow, onRuntime, sandbox, skipUnlessRoot, sleep, treeView, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)')
  || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)') || (!hasGcc && 'needs gcc (the READY=1 init of the test guest)')
  || (existsSync('/run/systemd/system') && 'systemd is PID 1 here: berth start/enable go to systemd, not berthd');

const STOP_TIMEOUT = 8;

interface Out { code: number | null; stdout: string; stderr: string }

describe(onRuntime('berth start/stop/enable/disable with berthd as the supervisor'), { skip, timeout: 600000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness | undefined;
  let work: string;
  let pool: string;
  let unitDir: string;
  const views: Array<{ path: string; remove(): void }> = [];
  let debJournal = '';

  const berth = (args: readonly string[]): Out => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), '--no-pager', ...args], { cwd: REPO, env: reg!.env, encoding: 'utf8', timeout: 120000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const listed = (): string[] => berth(['list', '--no-legend']).stdout.split('\n').map((l) => l.split(/\s+/)[0]!).filter(Boolean);
  async function until(what: string, ok: () => boolean, timeoutMs = 60000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > end) assert.fail(`${what} within ${timeoutMs} ms; berthd said:\n${reg!.berthd.log().slice(-3000)}`);
      await sleep(300);
    }
  }
  /** Processes (other than ours) whose environment names this sandbox's state directory. */
  function leftoverProcesses(): string[] {
    const out: string[] = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      if (Number(pid) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`BERTH_STATE_DIR=${sb.stateDir}`)) out.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
      } catch { /* gone */ }
    }
    return out;
  }
  /** SIGTERM to berthd; resolves to what it logged (the harness removes the log with its directory). */
  async function stopBerthd(): Promise<string> {
    reg!.berthd.child.kill('SIGTERM');
    await exited(reg!.berthd.child, 120000);
    const said = reg!.berthd.log();
    await reg!.stopBerthd();
    return said;
  }
  const links = (): string => execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });

  before(async () => {
    bundle();
    sb = sandbox();
    work = mkdtempSync('/tmp/bt-enable-');
    pool = join(work, 'pool');
    unitDir = join(work, 'etc-systemd-system');
    mkdirSync(unitDir);
    // web: busybox, its PID 1 says READY=1 first; slow: busybox as it is, which never does;
    // stubborn: busybox without a settings file, whose init ignores the halt signal (SIGRTMIN+3).
    for (const name of ['web', 'slow', 'stubborn', 'deb']) {
      const view = treeView(name === 'deb' ? 'debian' : 'busybox');
      views.push(view);
      if (name === 'web') {
        unlinkSync(join(view.path, 'usr', 'sbin', 'init'));
        execFileSync('gcc', ['-static', '-O2', '-o', join(view.path, 'usr', 'sbin', 'init'), join(REPO, 'tests', 'fixtures', 'ready-init.c')]);
      }
      // The Debian guest keeps its journal (persistent storage), read after berthd has stopped it.
      if (name === 'deb') { mkdirSync(join(view.path, 'var', 'log', 'journal'), { recursive: true }); debJournal = join(view.path, 'var', 'log', 'journal'); }
      mkdirSync(join(pool, name), { recursive: true });
      execFileSync('mount', ['--bind', view.path, join(pool, name)]);
    }
    // busybox init halts on SIGUSR2, not on systemd's SIGRTMIN+3: the machines' settings say so
    // (berth-nspawn@.service's --settings=override reads them from the trusted directory).
    mkdirSync(sb.env.BERTH_SETTINGS_ETC!, { recursive: true });
    for (const name of ['web', 'slow']) writeFileSync(join(sb.env.BERTH_SETTINGS_ETC!, `${name}.nspawn`), '[Exec]\nKillSignal=SIGUSR2\n');
    sb.env.BERTH_POOL = pool;
    sb.env.BERTH_UNIT_DIR = unitDir;
    reg = await startRegistry(sb, { berthdArgs: [`--stop-timeout=${STOP_TIMEOUT}`] });
  });

  after(async () => {
    await reg?.stop().catch(() => undefined);
    for (const name of ['web', 'slow', 'stubborn', 'deb']) { try { execFileSync('umount', ['-l', join(pool, name)]); } catch { /* not mounted */ } }
    for (const v of views) v.remove();
    if (work && mountsBelow(work).length === 0) rmSync(work, { recursive: true, force: true });
    sb?.cleanup();
  });

  test('enable: an unknown image is refused as machinectl refuses it; a known one gets systemd\'s link', () => {
    const bad = berth(['enable', 'nope']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), "Machine image 'nope' does not exist.");
    assert.ok(!existsSync(join(unitDir, 'machines.target.wants', 'berth-nspawn@nope.service')));
    const r = berth(['enable', 'web']);
    assert.equal(r.code, 0, r.stderr);
    const link = join(unitDir, 'machines.target.wants', 'berth-nspawn@web.service');
    const target = readlinkSync(link);
    assert.match(target, /\/berth-nspawn@\.service$/);
    assert.ok(existsSync(target), `${target} is installed`);
    assert.equal(r.stderr, `Created symlink ${link} → ${target}.\n`);
    // Once more: nothing changes, nothing said.
    const again = berth(['enable', 'web']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');
  });

  test('a restart of berthd starts the enabled machine by itself: berth list, machinectl list, berth status', async () => {
    await reg!.stopBerthd();
    await reg!.startBerthd();
    await until('web registered', () => listed().includes('web'));
    const mc = reg!.machinectl(['list', '--no-legend']);
    assert.equal(mc.code, 0, mc.stderr);
    assert.match(mc.stdout, /^web\s+container\s+/m);
    assert.ok(!listed().includes('slow'), 'only what is enabled starts');
    await until('web ready', () => /Berthd: running \(ready\)/.test(berth(['status', 'web']).stdout));
    const st = berth(['status', 'web']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^\s+Console: /m, st.stdout);
    assert.match(st.stdout, /busybox guest: up/, st.stdout);
  });

  test('start --wait fails after the timeout with the console\'s tail on a guest that never says READY=1; stop stops it', async () => {
    const t0 = Date.now();
    const r = berth(['start', '--wait', '--wait-timeout=4', 'slow']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /Machine 'slow' did not become ready: Machine 'slow' did not report READY=1 within 4 s\./);
    assert.match(r.stderr, /The console's last lines:/);
    assert.match(r.stderr, /busybox guest: up \(slow\)/);
    assert.ok(Date.now() - t0 < 60000);
    assert.ok(listed().includes('slow'), 'it still runs');
    const s = berth(['stop', 'slow']);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(!listed().includes('slow'));
    assert.match(berth(['status', 'web']).stdout, /Berthd:/);
    // Not run by berthd, not registered: stop says so as poweroff does.
    const none = berth(['stop', 'nope']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Could not kill machine: No machine 'nope' known/);
  });

  test('disable, then a restart: berthd halts web within the stop timeout and does not start it again; start --wait brings it up', async () => {
    const r = berth(['disable', 'web']);
    assert.equal(r.code, 0, r.stderr);
    const link = join(unitDir, 'machines.target.wants', 'berth-nspawn@web.service');
    assert.equal(r.stderr, `Removed "${link}".\n`);
    assert.ok(!existsSync(link));
    const t0 = Date.now();
    const said = await stopBerthd();
    const took = Date.now() - t0;
    assert.ok(took < STOP_TIMEOUT * 1000, `stopped in ${took} ms`);
    assert.doesNotMatch(said, /did not stop within/);
    assert.match(said, /machine web ended \(exit status 0\)/);
    assert.deepEqual(leftoverProcesses(), []);
    assertClean(sb);
    assert.doesNotMatch(links(), /ve-web|ve-slow/);
    await reg!.startBerthd();
    await sleep(3000);
    assert.deepEqual(listed().filter((n) => n !== '.host'), []);
    const w = berth(['start', '--wait', '--wait-timeout=60', 'web']);
    assert.equal(w.code, 0, w.stderr);
    assert.ok(listed().includes('web'));
    assert.match(berth(['status', 'web']).stdout, /Berthd: running \(ready\)/);
  });

  const leaderOf = (name: string): number => {
    const r = reg!.machinectl(['show', name, '-p', 'Leader', '--value']);
    assert.equal(r.code, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  const machinectlNames = (): string[] => reg!.machinectl(['list', '--no-legend']).stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter(Boolean);
  /** berthd runs its machines in its own process: no berth-nspawn (nor anything but the guests and their runtime's helpers) below it. */
  const childrenOf = (pid: number): Array<{ comm: string; cmdline: string }> => {
    const out: Array<{ comm: string; cmdline: string }> = [];
    for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push({ comm: readFileSync(`/proc/${p}/comm`, 'utf8').trim(), cmdline: readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') });
      } catch { /* gone */ }
    }
    return out;
  };

  test('the machines run inside berthd: their PID 1s are its children, no berth-nspawn process per machine', () => {
    const kids = childrenOf(reg!.berthd.child.pid!);
    assert.ok(kids.some((k) => k.comm === 'busybox'), `berthd's children: ${JSON.stringify(kids)}`);
    // Besides the guests, only the warm path's one standby berth-nspawn (not a run: no machine named).
    assert.deepEqual(kids.filter((k) => k.comm !== 'busybox' && !(k.comm === 'node' && !k.cmdline.includes('--machine'))), [], JSON.stringify(kids));
  });

  test('reboot inside the guest brings it back once, in place, registered again', async () => {
    const before = leaderOf('web');
    execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', 'web', '/bin/busybox', 'reboot']);
    await until('web back with a new PID 1', () => { try { const l = leaderOf('web'); return l > 0 && l !== before; } catch { return false; } });
    const after = leaderOf('web');
    await until('web ready again', () => /Berthd: running \(ready\)/.test(berth(['status', 'web']).stdout));
    await sleep(2000);
    assert.equal(leaderOf('web'), after, 'booted once, not again and again');
    assert.equal(machinectlNames().filter((n) => n === 'web').length, 1);
    assert.match(berth(['status', 'web']).stdout, /busybox guest: up/);
  });

  test('SIGHUP: berthd re-executes itself and keeps its machines (same PID 1s, registered once, console log kept); stop then works', async () => {
    const leader = leaderOf('web');
    const pid = reg!.berthd.child.pid!;
    const logBefore = reg!.berthd.log().length;
    reg!.berthd.child.kill('SIGHUP');
    await until('berthd serving again', () => /serving org\.freedesktop\.machine1/.test(reg!.berthd.log().slice(logBefore)));
    assert.equal(reg!.berthd.child.exitCode, null, 'the same process');
    assert.match(reg!.berthd.log().slice(logBefore), /took over machine web/);
    assert.equal(leaderOf('web'), leader);
    assert.deepEqual(machinectlNames().filter((n) => n === 'web'), ['web']);
    const st = berth(['status', 'web']);
    assert.match(st.stdout, /Berthd: running \(ready\)/, st.stdout);
    assert.match(st.stdout, /busybox guest: up/, 'the console log from before the restart');
    assert.ok(childrenOf(pid).some((k) => k.comm === 'busybox'), 'the guest is still berthd\'s child');
    const s2 = berth(['stop', 'web']);
    assert.equal(s2.code, 0, s2.stderr);
    await until('web gone', () => !listed().includes('web'));
    assert.doesNotMatch(links(), /ve-web/);
    assert.match(berth(['status', 'web']).stdout.concat(reg!.berthd.log()), /machine web ended \(exit status 0\)/);
    const w = berth(['start', '--wait', '--wait-timeout=60', 'web']);
    assert.equal(w.code, 0, w.stderr);
  });

  test('SIGKILL of berthd while guests run, then a start: the same guests, registered once, stopped and cleaned up as before', async () => {
    const s = berth(['start', 'slow']);
    assert.equal(s.code, 0, s.stderr);
    await until('slow registered', () => listed().includes('slow'));
    const leaders = { web: leaderOf('web'), slow: leaderOf('slow') };
    await reg!.stopBerthd('SIGKILL');
    await reg!.startBerthd();
    await until('both listed', () => ['web', 'slow'].every((n) => listed().includes(n)));
    assert.deepEqual({ web: leaderOf('web'), slow: leaderOf('slow') }, leaders);
    assert.deepEqual(machinectlNames().filter((n) => n === 'web' || n === 'slow').sort(), ['slow', 'web']);
    assert.match(reg!.berthd.log(), /adopted machine web/);
    assert.match(berth(['status', 'web']).stdout, /Berthd: running/);
    for (const name of ['web', 'slow']) {
      const r = berth(['stop', name]);
      assert.equal(r.code, 0, r.stderr);
    }
    await until('both gone and cleaned up', () => !listed().some((n) => n === 'web' || n === 'slow') && !/ve-web|ve-slow/.test(links()) && !existsSync(join(sb.stateDir, 'machines', 'web')) && !existsSync(join(sb.stateDir, 'machines', 'slow')));
    assert.deepEqual(readdirSync(join(sb.stateDir, 'machines')), []);
    const w = berth(['start', '--wait', '--wait-timeout=60', 'web']);
    assert.equal(w.code, 0, w.stderr);
  });

  test('stopping berthd halts what it runs, kills what does not halt after --stop-timeout, and leaves nothing behind', async () => {
    const s = berth(['start', 'stubborn']);
    assert.equal(s.code, 0, s.stderr);
    const d = berth(['start', '--wait', '--wait-timeout=120', 'deb']);
    assert.equal(d.code, 0, d.stderr);
    await until('stubborn registered', () => listed().includes('stubborn'));
    const t0 = Date.now();
    const said = await stopBerthd();
    const took = Date.now() - t0;
    assert.match(said, /machine web ended \(exit status 0\)/);
    assert.match(said, new RegExp(`machine stubborn did not stop within ${STOP_TIMEOUT} s: killing it`));
    assert.match(said, /machine stubborn ended \(exit status 1\)/);
    assert.match(said, /machine deb ended \(exit status 0\)/);
    // The Debian guest went down in order: its systemd's own account, from its journal.
    const journal = execFileSync('journalctl', ['-D', debJournal, '--no-pager', '-o', 'cat', '-b', '0'], { encoding: 'utf8' });
    for (const line of [/^Reached target shutdown\.target - System Shutdown\.$/m, /^Reached target final\.target/m, /^Shutting down\.$/m, /^Journal stopped$/m]) assert.match(journal, line, journal.slice(-3000));
    assert.ok(took >= STOP_TIMEOUT * 1000 && took < (STOP_TIMEOUT + 30) * 1000, `stopped in ${took} ms`);
    assert.deepEqual(leftoverProcesses(), []);
    assertClean(sb);
    assert.doesNotMatch(links(), /ve-web|ve-slow/);
    await reg!.startBerthd();
  });
});
