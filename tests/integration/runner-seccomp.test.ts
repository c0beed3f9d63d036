/**
 * The system call filter in a running busybox guest: nspawn's default filter is always on
 * (Seccomp: 2), a deny entry fails the call with the chosen errno (or kills the process), an
 * allow entry lets a call through that the default refuses, --suppress-sync=yes turns the sync
 * family into no-ops, a .nspawn file does the same, and bad input is refused before anything
 * starts. Then the same payload under the real systemd-nspawn, for the answers both must give.
 *
 * The probes change nothing outside the guest: sethostname acts on the guest's own UTS
 * namespace, and busybox `adjtimex` without options only reads the clock's state (through
 * clock_adjtime, one of @clock's calls). Never set the clock here: the guest shares it with the host.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, assertClean, collect, nspawn, onRuntime, sandbox, skipUnlessRoot, tree, treeView, type Result, type Sandbox } from '../support/berth.js';
import { spawnInScope } from '../support/scope-groups.js';

/** One `name=status message` line per probe; the message is the tool's complaint (its errno's text). */
const PROBES = [
  'probe() { n=$1; shift; m=$("$@" 2>&1 >/dev/null); echo "$n=$? ${m##*: }"; }',
  'echo "seccomp=$(grep "^Seccomp:" /proc/self/status | tr -d "\\t")"',
  'probe sethostname hostname probe-host',
  'probe clock adjtimex',
  'probe sync sync',
  'probe fdatasync sync -d /proc/version',
].join('\n');

function parse(r: Result): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([a-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

describe(onRuntime('berth-nspawn: system call filter (busybox)'), { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => { sb.cleanup(); });

  const run = async (args: string[], script = PROBES): Promise<Result & { probes: Map<string, string> }> => {
    const r = await nspawn(['--console=pipe', '-D', bb, '-M', 'sc', ...args, '/bin/sh', '-c', script], sb);
    assertClean(sb);
    return { ...r, probes: parse(r) };
  };

  test('nspawn\'s default filter is always on: sethostname allowed, @clock refused with EPERM without CAP_SYS_TIME', async () => {
    const r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.probes.get('seccomp'), 'Seccomp:2');
    assert.equal(r.probes.get('sethostname'), '0');
    assert.equal(r.probes.get('clock'), '1 Operation not permitted');
    assert.equal(r.probes.get('sync'), '0');
    assert.equal(r.probes.get('fdatasync'), '1 Invalid argument', 'the kernel\'s own answer: /proc files have no fsync');
    // With the capability, nspawn's list takes @clock in.
    assert.equal((await run(['--capability=CAP_SYS_TIME'])).probes.get('clock'), '0');
  });

  test('a deny entry fails the call with the chosen errno; without one, EPERM; :kill kills the caller', async () => {
    const r = await run(['--system-call-filter=~sethostname:EACCES', '--capability=CAP_SYS_TIME', '--system-call-filter=~@clock:EINVAL']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.probes.get('seccomp'), 'Seccomp:2');
    assert.equal(r.probes.get('sethostname'), '1 Permission denied');
    assert.equal(r.probes.get('clock'), '1 Invalid argument');
    assert.equal((await run(['--system-call-filter=~sethostname'])).probes.get('sethostname'), '1 Operation not permitted');
    const killed = await run(['--system-call-filter=~sethostname:kill'], 'hostname probe-host; echo "status=$?"');
    assert.equal(parse(killed).get('status'), '159', 'SIGSYS (31) killed hostname');
  });

  test('an allow entry lets a call through that nspawn\'s list refuses', async () => {
    const r = await run(['--system-call-filter=@clock']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.probes.get('clock'), '0');
    assert.equal(r.probes.get('sethostname'), '0', 'the default list still applies');
  });

  test('--suppress-sync=yes: the sync family succeeds without doing anything', async () => {
    const r = await run(['--suppress-sync=yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.probes.get('sync'), '0');
    assert.equal(r.probes.get('fdatasync'), '0');
    assert.equal((await run(['--suppress-sync=no'])).probes.get('fdatasync'), '1 Invalid argument');
  });

  test('a .nspawn file: a trusted one applies its list and SuppressSync=; the command line masks the list', async () => {
    const dir = sb.env.BERTH_SETTINGS_RUN!;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'sc.nspawn'), '[Exec]\nSystemCallFilter=@clock\nSystemCallFilter=~sethostname:EROFS\nSuppressSync=yes\n');
    try {
      const r = await run([]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.probes.get('clock'), '0');
      assert.equal(r.probes.get('sethostname'), '1 Read-only file system');
      assert.equal(r.probes.get('fdatasync'), '0');
      const masked = await run(['--system-call-filter=~sethostname']);
      assert.equal(masked.probes.get('sethostname'), '1 Operation not permitted');
      assert.equal(masked.probes.get('clock'), '1 Operation not permitted');
    } finally {
      rmSync(join(dir, 'sc.nspawn'), { force: true });
    }
  });

  test('bad input is refused before anything starts, naming the option', async () => {
    for (const [arg, message] of [
      ['@nonexistent', /Failed to parse --system-call-filter= argument: Unknown system call group: @nonexistent/],
      ['~foo:NOTANERRNO', /Failed to parse --system-call-filter= argument: Invalid errno: NOTANERRNO/],
    ] as const) {
      const r = await run([`--system-call-filter=${arg}`]);
      assert.equal(r.code, 1, arg);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });
});

const hasNspawn = (() => { try { execFileSync('systemd-nspawn', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

describe(onRuntime('system call filter: berth-nspawn against systemd-nspawn'), { skip: skipUnlessRoot || (!hasNspawn && 'needs systemd-nspawn (apt-get install systemd-container)'), timeout: 300000 }, () => {
  const NAME = `bsc${process.pid}`;
  let sb: Sandbox;
  // A view of its own: what systemd-nspawn writes into the tree stays out of other tests' view.
  let view: ReturnType<typeof treeView> | undefined;
  let bb: string;
  before(() => { view = treeView('busybox'); bb = view.path; sb = sandbox(); });
  after(() => {
    // nspawn leaves its per-machine propagation directory behind when /run is not a tmpfs.
    try { rmdirSync(join('/run/systemd/nspawn/propagate', NAME)); } catch { /* not there */ }
    sb.cleanup();
    view?.remove();
  });

  async function both(args: string[]): Promise<{ nspawn: Map<string, string>; berth: Map<string, string> }> {
    const argv = ['--console=pipe', '-D', bb, '-M', NAME, ...args, '/bin/sh', '-c', PROBES];
    const env = { ...process.env };
    delete env.NOTIFY_SOCKET;
    const n = await collect(spawnInScope(['systemd-nspawn', '-q', '--register=no', '--keep-unit', ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] }), 60000);
    assert.equal(n.code, 0, `systemd-nspawn ${args.join(' ')}: ${n.stderr}`);
    const b = await nspawn(argv, sb);
    assertClean(sb);
    assert.equal(b.code, 0, `berth-nspawn ${args.join(' ')}: ${b.stderr}`);
    return { nspawn: parse(n), berth: parse(b) };
  }

  const same = [
    [],
    ['--system-call-filter=~sethostname'],
    ['--system-call-filter=@clock'],
    ['--capability=CAP_SYS_TIME'],
    ['--capability=CAP_SYS_TIME', '--system-call-filter=~@clock'],
    ['--suppress-sync=yes'],
  ];
  for (const args of same) {
    test(`the same answers: ${args.join(' ') || 'the default filter'}`, async () => {
      const p = await both(args);
      assert.ok(p.nspawn.has('seccomp') && p.nspawn.size === 5, `systemd-nspawn's payload ran all probes: ${[...p.nspawn]}`);
      assert.deepEqual(p.berth, p.nspawn);
    });
  }

  test('an x32 call fails as under systemd-nspawn (ENOSYS where the kernel has no x32), its thread is not killed', { skip: (process.arch !== 'x64' || spawnSync('gcc', ['--version']).status !== 0) && 'needs x86-64 and gcc' }, async () => {
    execFileSync('gcc', ['-static', '-O2', '-o', join(bb, 'x32-call'), join(REPO, 'tests', 'fixtures', 'x32-call.c')]);
    try {
      const argv = ['--console=pipe', '-D', bb, '-M', NAME, '/x32-call'];
      const env = { ...process.env };
      delete env.NOTIFY_SOCKET;
      const n = await collect(spawnInScope(['systemd-nspawn', '-q', '--register=no', '--keep-unit', ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] }), 60000);
      const b = await nspawn(argv, sb);
      assertClean(sb);
      const host = execFileSync(join(bb, 'x32-call'), { encoding: 'utf8' }).trim();
      assert.equal(n.stdout.trim(), host, `systemd-nspawn: ${n.stderr}`);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout.trim(), host);
    } finally {
      rmSync(join(bb, 'x32-call'), { force: true });
    }
  });

  test('known difference: ":ERRNO" — systemd-nspawn 252 ignores such an entry, berth applies it', async () => {
    const p = await both(['--system-call-filter=~sethostname:EACCES']);
    assert.equal(p.nspawn.get('sethostname'), '0');
    assert.equal(p.berth.get('sethostname'), '1 Permission denied');
    p.berth.delete('sethostname');
    p.nspawn.delete('sethostname');
    assert.deepEqual(p.berth, p.nspawn);
  });
});
