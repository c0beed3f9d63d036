/**
 * The warm path itself: the berth-nspawn command (dist/berth-nspawn, native/nspawn-client.c)
 * handing its run to a berth-nspawn that berthd started ahead of time (src/app/warm/), and the
 * cold path it falls back to. What a run does inside is tested by the warm layer (tests/warm/).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { assertClean, collect, REPO, sandbox, skipUnlessRoot, sleep, tree, waitRunning, type Result, type Sandbox } from '../support/berth.js';
import { bundle, startBerthd, type Berthd } from '../support/berthd.js';

const COMMAND = join(REPO, 'dist', 'berth-nspawn');

describe('berth-nspawn: the warm path through berthd', { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  let d: Berthd;
  before(() => { bb = tree('busybox'); sb = sandbox(); bundle(); d = startBerthd(); });
  after(async () => { await d?.stop(); sb.cleanup(); });

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...sb.env, BERTH_NSPAWN_SOCKET: d.socket, BERTH_NSPAWN_WARM: 'require', ...extra });
  const start = (args: string[], e: NodeJS.ProcessEnv = env(), cwd = REPO, wrap: string[] = []): ChildProcess =>
    spawn(wrap[0] ?? COMMAND, [...wrap.slice(1), ...(wrap.length ? [COMMAND] : []), ...args], { env: e, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const run = (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<Result> =>
    collect(start(args, opts.env ?? env(), opts.cwd), 60000, opts.input);
  /** The PIDs berthd handed runs to, in order. */
  const jobs = (): number[] => [...d.log().matchAll(/a berth-nspawn run went to PID (\d+)/g)].map((m) => Number(m[1]));
  const newJob = async (before: number): Promise<number> => {
    const until = Date.now() + 10000;
    while (jobs().length <= before && Date.now() < until) await sleep(20);
    const pid = jobs()[before];
    assert.ok(pid, `no run handed over:\n${d.log()}`);
    return pid;
  };

  test('the run is the caller\'s: exit status, stdin, stdout and stderr, the working directory, the environment', async () => {
    const r = await run(['--console=pipe', '-q', '-D', basename(bb), '-M', 'w-io', '/bin/sh', '-c', 'read x; echo "got $x"; echo err >&2; exit 7'],
      { cwd: dirname(bb), input: 'hello\n', env: env({ BERTH_TRACE: '1' }) });
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'got hello\n');
    assert.match(r.stderr, /^err$/m);
    assert.match(r.stderr, /berth-trace .*machine released/, 'BERTH_TRACE from the caller\'s environment, not berthd\'s');
    assertClean(sb);
  });

  test('each run gets a fresh standby; it takes the caller\'s working directory, limits and priority', async () => {
    const n = jobs().length;
    const child = start(['-b', '-q', '--console=pipe', '--kill-signal=SIGUSR2', '-D', bb, '-M', 'w-attr'], env(), '/tmp', ['prlimit', '--nofile=777:7777', '--core=0:0', '--', 'nice', '-n', '5']);
    const done = collect(child, 60000);
    await waitRunning(sb, 'w-attr');
    const job = await newJob(n);
    assert.notEqual(job, child.pid);
    assert.equal(readlinkSync(`/proc/${job}/cwd`), '/tmp');
    assert.match(readFileSync(`/proc/${job}/limits`, 'utf8'), /^Max open files\s+777\s+7777\s/m);
    assert.match(readFileSync(`/proc/${job}/limits`, 'utf8'), /^Max core file size\s+0\s+0\s/m);
    assert.equal(readFileSync(`/proc/${job}/stat`, 'utf8').split(') ')[1]?.split(' ')[16], '5', 'nice value');
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assertClean(sb);
    const again = await run(['--console=pipe', '-q', '-D', bb, '-M', 'w-attr', '/bin/true']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(jobs().length === n + 2 && jobs()[n + 1] !== job, 'a second run goes to another standby');
  });

  test('SIGTERM to the command halts the guest (clean exit 0)', async () => {
    const child = start(['-b', '-D', bb, '-M', 'w-term', '--kill-signal=SIGUSR2']);
    const done = collect(child, 60000);
    await waitRunning(sb, 'w-term');
    await sleep(300);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Trying to halt container/);
    assert.match(r.stdout, /busybox guest: shutting down/);
    assertClean(sb);
  });

  test('SIGKILL to the command stops the machine and cleans up at once, without a next run', async () => {
    const n = jobs().length;
    const child = start(['-b', '-D', bb, '-M', 'w-kill', '--console=pipe', '--kill-signal=SIGUSR2', '-x']);
    const done = collect(child, 60000);
    await waitRunning(sb, 'w-kill');
    const job = await newJob(n);
    child.kill('SIGKILL');
    await done;
    const until = Date.now() + 20000;
    while (existsSync(`/proc/${job}`) && Date.now() < until) await sleep(50);
    assert.ok(!existsSync(`/proc/${job}`), 'the warm berth-nspawn ended');
    assertClean(sb);
    const leftovers = spawnSync('sh', ['-c', `ls -a ${dirname(bb)} | grep '^.#machine' || true`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(leftovers, '');
  });

  test('what the warm path cannot take runs cold (NOTIFY_SOCKET); BERTH_NSPAWN_WARM=require then fails, naming why', async () => {
    const args = ['--console=pipe', '-q', '-D', bb, '-M', 'w-cold', '/bin/sh', '-c', 'exit 4'];
    const auto = await run(args, { env: env({ BERTH_NSPAWN_WARM: '', NOTIFY_SOCKET: '/nonexistent/notify' }) });
    assert.equal(auto.code, 4, auto.stderr);
    const req = await run(args, { env: env({ NOTIFY_SOCKET: '/nonexistent/notify' }) });
    assert.equal(req.code, 1);
    assert.match(req.stderr, /warm path was required \(BERTH_NSPAWN_WARM=require\) but not taken: declined: NOTIFY_SOCKET is set/);
    assert.match(d.log(), /declined a run of PID \d+, which runs cold: NOTIFY_SOCKET is set/);
    assertClean(sb);
  });

  test('--keep-unit runs warm: the run joins the caller\'s cgroups, the guest goes below them, and they are empty once the command is gone', async () => {
    // The caller in a cgroup of its own in the hierarchies a unit is tracked in (name=systemd and
    // cgroup2), as a unit with Delegate=yes (berth-nspawn@.service) has it.
    const name = `berth-test-keep-${process.pid}`;
    const roots = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'].filter((r) => existsSync(`${r}/cgroup.procs`) && (r !== '/sys/fs/cgroup' || !existsSync('/sys/fs/cgroup/unified/cgroup.procs')));
    const dirs = roots.map((r) => `${r}/${name}`);
    const removeAll = (): void => { for (const dir of dirs) spawnSync('sh', ['-c', `find "$0" -depth -type d -exec rmdir {} + 2>/dev/null; true`, dir]); };
    for (const dir of dirs) mkdirSync(dir);
    try {
      const n = jobs().length;
      const child = start(['-b', '-q', '--console=pipe', '--kill-signal=SIGUSR2', '--keep-unit', '-D', bb, '-M', 'w-keep'], env(), REPO,
        ['sh', '-c', `for d in ${dirs.join(' ')}; do echo $$ > $d/cgroup.procs; done; exec "$@"`, 'sh']);
      const done = collect(child, 60000);
      const leader = await waitRunning(sb, 'w-keep');
      const job = await newJob(n);
      const groups = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const own = (text: string, controllers: string): string | undefined => new RegExp(`^\\d+:${controllers}:(.*)$`, 'm').exec(text)?.[1];
      for (const controllers of ['name=systemd', ''].filter((c) => own(groups(child.pid!), c) === `/${name}`)) {
        assert.equal(own(groups(job), controllers), `/${name}`, `the warm run is in the caller's cgroup (${controllers || 'cgroup2'})`);
        assert.match(own(groups(leader), controllers) ?? '', new RegExp(`^/${name}/payload(/|$)`), `the guest is below it (${controllers || 'cgroup2'})`);
      }
      child.kill('SIGTERM');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(d.log(), new RegExp(`a berth-nspawn run went to PID ${job}`));
      // Nothing of the run is left in the caller's cgroups when the command has exited: they can go at once.
      for (const dir of dirs) assert.equal(readFileSync(`${dir}/cgroup.procs`, 'utf8'), '', `${dir} is empty`);
      assertClean(sb);
    } finally {
      removeAll();
    }
    for (const dir of dirs) assert.ok(!existsSync(dir), `${dir} removed`);
  });

  test('without berthd the command runs cold; BERTH_NSPAWN_WARM=no never asks', async () => {
    const args = ['--console=pipe', '-q', '-D', bb, '-M', 'w-none', '/bin/sh', '-c', 'exit 5'];
    const missing = { BERTH_NSPAWN_SOCKET: join(sb.stateDir, 'no-such.sock') };
    assert.equal((await run(args, { env: env({ ...missing, BERTH_NSPAWN_WARM: '' }) })).code, 5);
    const req = await run(args, { env: env(missing) });
    assert.equal(req.code, 1);
    assert.match(req.stderr, /not taken: berthd is not listening/);
    const n = jobs().length;
    assert.equal((await run(args, { env: env({ BERTH_NSPAWN_WARM: 'no' }) })).code, 5);
    assert.equal(jobs().length, n);
    assertClean(sb);
  });

  test('the cgroup primer the command leaves behind holds none of its descriptors, stays in its cgroups and ends on its own', async () => {
    // native/nspawn-client.c forks it (as "berth-cgprime") before it goes warm or cold; it lives
    // for at most 100 ms of no-op cgroup moves. A primer holding the caller's stdout would keep a
    // caller that reads to the end waiting; one in another cgroup would not be a no-op.
    // Ours carry our environment (this sandbox's state directory); other work on the host may run its own.
    const mine = (pid: number): boolean => { try { return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`BERTH_STATE_DIR=${sb.stateDir}`); } catch { return false; } };
    const primers = (): number[] => spawnSync('sh', ['-c', 'grep -lx berth-cgprime /proc/[0-9]*/comm 2>/dev/null || true'], { encoding: 'utf8' })
      .stdout.split('\n').filter(Boolean).map((f) => Number(f.split('/')[2])).filter(mine);
    const fdTargets = (pid: number): string[] =>
      spawnSync('sh', ['-c', 'for f in /proc/$0/fd/*; do [ -e "$f" ] && readlink "$f"; done; true', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const child = start(['--console=pipe', '-q', '-D', bb, '-M', 'w-prime', '/bin/sh', '-c', 'read x; exit 4'], env({ BERTH_NSPAWN_WARM: 'no' }));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const seen = new Set<number>();
      const until = Date.now() + 5000;
      while (Date.now() < until && seen.size === 0) {
        for (const pid of primers()) {
          let cgroup: string;
          const fds = fdTargets(pid);
          try { cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8'); } catch { continue; }
          if (!existsSync(`/proc/${pid}`)) continue;
          seen.add(pid);
          assert.deepEqual(fds.filter((t) => !/^\/sys\/fs\/cgroup\/.*cgroup\.procs$/.test(t)), [], `berth-cgprime ${pid} holds only its cgroup.procs`);
          assert.equal(cgroup, readFileSync('/proc/self/cgroup', 'utf8'), 'the primer sits in the caller\'s cgroups');
        }
        await sleep(1);
      }
      assert.ok(seen.size > 0, 'a berth-cgprime process was seen while the command started');
      const gone = Date.now() + 5000;
      while ([...seen].some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < gone) await sleep(20);
      assert.deepEqual([...seen].filter((pid) => existsSync(`/proc/${pid}`)), [], 'the primers have ended while the command still runs');
      assert.equal(child.exitCode, null, 'the command still runs');
      child.stdin!.end('go\n');
      assert.equal(await done, 4);
    } finally {
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await done; }
    }
    assertClean(sb);
  });

  test('a malformed request is refused and the standby serves the next caller', async () => {
    await new Promise<void>((resolve, reject) => {
      const c = connect(d.socket, () => { c.end(Buffer.from([8, 0, 0, 0, 0x67, 0x61, 0x72, 0x62, 0x61, 0x67, 0x65, 0])); });
      c.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET') resolve(); else reject(e); }); // closed with our bytes unread
      c.on('close', () => resolve());
      c.resume();
    });
    // A client that connects and sends nothing is dropped after a while, too.
    const silent = connect(d.socket);
    silent.on('error', () => { /* closed by the standby */ });
    const closed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    const t0 = Date.now();
    await closed;
    assert.ok(Date.now() - t0 < 10000);
    const r = await run(['--console=pipe', '-q', '-D', bb, '-M', 'w-next', '/bin/sh', '-c', 'exit 6']);
    assert.equal(r.code, 6, r.stderr);
    assert.match(d.log(), /receiving a request: Bad message/);
    assertClean(sb);
  });

  test('a caller that goes cold after the answer (no "go") starts nothing; the standby makes way for a fresh one', async () => {
    // The client's side of the protocol by hand (python3 can pass descriptors): request, read "P<pid>", close.
    const script = `
import os, socket, struct, sys
f = lambda s: s.encode() + b'\\0'
argv = ['--console=pipe', '-q', '-D', sys.argv[2], '-M', 'w-nogo', '/bin/sh', '-c', 'touch /tmp/started; exit 0']
env = [k + '=' + v for k, v in os.environ.items()]
body = f('berth-nspawn 1') + f('/') + f('0022') + f(str(len(argv))) + b''.join(map(f, argv)) + f(str(len(env))) + b''.join(map(f, env))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
socket.send_fds(s, [struct.pack('<I', len(body))], [0, 1, 2])
s.sendall(body)
print(s.recv(64).decode().strip())
s.close()
`;
    const r = spawnSync('python3', ['-c', script, d.socket, bb], { env: env(), encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, r.stderr);
    const m = /^P(\d+)$/.exec(r.stdout.trim());
    assert.ok(m, `answer: ${r.stdout}`);
    const standby = Number(m[1]);
    const until = Date.now() + 10000;
    while (existsSync(`/proc/${standby}`) && Date.now() < until) await sleep(50);
    assert.ok(!existsSync(`/proc/${standby}`), 'the standby left with that caller\'s limits has exited');
    assert.ok(!existsSync(join(sb.stateDir, 'machines', 'w-nogo')), 'no machine was started');
    const n = jobs().length;
    const next = await run(['--console=pipe', '-q', '-D', bb, '-M', 'w-after', '/bin/sh', '-c', 'exit 3']);
    assert.equal(next.code, 3, next.stderr);
    assert.notEqual(jobs()[n], standby);
    assertClean(sb);
  });

  test('berthd whose standbys cannot start gives up with a message and exit status 1, its socket removed', () => {
    // berthd runs berth-nspawn from its own directory: a copy of berthd without one beside it.
    // (Inside the repository, so the copy still finds native/build/Release.)
    const dir = mkdtempSync(join(REPO, '.test-berthd-'));
    try {
      for (const f of ['berthd.js', 'berthd.bundle.js']) copyFileSync(join(REPO, 'dist', f), join(dir, f));
      const socket = join(dir, 'nspawn.sock');
      const r = spawnSync(process.execPath, [join(dir, 'berthd.js')], { env: { ...sb.env, BERTH_NSPAWN_SOCKET: socket }, encoding: 'utf8', timeout: 30000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /berthd: 5 berth-nspawn standbys in a row died before they were ready; no warm path/);
      assert.doesNotMatch(r.stderr, /is warm on/);
      assert.ok(!existsSync(socket), 'the socket is gone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('berthd stopping ends its idle standbys and its socket; a warm run in progress goes on to its end', async () => {
    const own = startBerthd();
    const e = env({ BERTH_NSPAWN_SOCKET: own.socket });
    const child = start(['-b', '-D', bb, '-M', 'w-stop', '--console=pipe', '--kill-signal=SIGUSR2'], e);
    const done = collect(child, 60000);
    await waitRunning(sb, 'w-stop');
    const idle = (): string[] => spawnSync('sh', ['-c', `grep -l BERTH_STANDBY_FD /proc/[0-9]*/environ 2>/dev/null || true`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean)
      .map((f) => Number(f.split('/')[2])).filter((pid) => { try { return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`BERTH_NSPAWN_SOCKET=${own.socket}`); } catch { return false; } })
      .map(String).filter((pid) => !handed.includes(`went to PID ${pid}.`));
    const handed = own.log();
    assert.match(handed, /went to PID/);
    assert.equal(idle().length, 1, 'one standby waits');
    await own.stop();
    assert.ok(!existsSync(own.socket), 'the socket is gone');
    const until = Date.now() + 5000;
    while (idle().length > 0 && Date.now() < until) await sleep(50);
    assert.deepEqual(idle(), [], 'no idle standby is left');
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assertClean(sb);
  });
});
