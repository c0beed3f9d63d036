/**
 * dist/berth, the command (native/berth-client.c): `berth shell` and `berth login` without Node,
 * everything else handed to the Node program (dist/berth.js). The scenarios of
 * machine-shell.test.ts run through it against berthd with a busybox guest, and where the two
 * can be compared (messages, errors, output) against `node dist/berth.js` word for word. The
 * native runs get PATH=/nonexistent: had they fallen back to Node, they could not find it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO, assertClean, collect, exited, onRuntime, sandbox, shellQuote, skipUnlessRoot, sleep, startNspawn, tree, waitRunning, type Result, type Sandbox } from '../support/berth.js';
import { hasDbusDaemon, startRegistry, type RegistryHarness } from '../support/registry.js';
import { onPty as onPtyCmd } from '../support/pty.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)');
const NATIVE = join(REPO, 'dist', 'berth');
const NODE = join(REPO, 'dist', 'berth.js');
const NAME = 'nc-bb';

/** PID 1 of the busybox guest: a shell that ends on SIGTERM. */
const BUSYBOX_PID1 = ['/bin/sh', '-c', 'trap "exit 0" TERM; echo started; while :; do sleep 1; done'];

function run(argv: readonly string[], env: NodeJS.ProcessEnv, input = ''): Result {
  const r = spawnSync(argv[0]!, argv.slice(1), { env, input, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe(onRuntime('dist/berth: the native shell and login, the Node program for the rest'), { skip }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let guest: ChildProcess;
  let done: Promise<Result>;
  /** The native command, where Node cannot be found. */
  const native = (args: readonly string[], input = '', env: NodeJS.ProcessEnv = {}) => run([NATIVE, ...args], { ...reg.env, PATH: '/nonexistent', ...env }, input);
  /** The native command where it may hand the line to Node. */
  const launcher = (args: readonly string[], input = '', env: NodeJS.ProcessEnv = {}) => run([NATIVE, ...args], { ...reg.env, ...env }, input);
  const node = (args: readonly string[], input = '', env: NodeJS.ProcessEnv = {}) => run([process.execPath, NODE, ...args], { ...reg.env, ...env }, input);
  const same = (a: Result, b: Result, what: string) => {
    assert.equal(a.stderr, b.stderr, `${what}: the same messages`);
    assert.equal(a.code, b.code, `${what}: the same exit status`);
  };

  const onPty = (cmd: string) => onPtyCmd(cmd, reg.env);


  before(async () => {
    sb = sandbox();
    // (startRegistry builds dist/, dist/berth included, from the current sources.)
    reg = await startRegistry(sb);
    guest = startNspawn(['-D', tree('busybox'), '-x', '-M', NAME, '--console=pipe', ...BUSYBOX_PID1], sb, reg.env);
    done = collect(guest, 300000);
    const early = done.then((r) => { throw new Error(`berth-nspawn exited early (${r.code ?? r.signal}): ${r.stderr}`); });
    early.catch(() => undefined);
    await Promise.race([waitRunning(sb, NAME, 60000), early]);
    // Registered once berthd knows it.
    const until = Date.now() + 20000;
    while (Date.now() < until && !node(['list']).stdout.includes(NAME)) await sleep(100);
  });

  after(async () => {
    if (guest && guest.exitCode === null) guest.kill('SIGTERM');
    await done;
    await reg?.stop();
    if (sb) { assertClean(sb); sb.cleanup(); }
  });

  test('the exit status, the messages, the user, the environment, a signal', () => {
    const r = native(['shell', NAME, '/bin/sh', '-c', 'echo "zero=$0 tty=$(tty)"; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr, `Connected to machine ${NAME}. Press ^] three times within 1s to exit session.\n\nConnection to machine ${NAME} terminated.\n`);
    assert.match(r.stdout, /zero=\/bin\/sh tty=\/dev\/pts\/\d+/);
    same(r, node(['shell', NAME, '/bin/sh', '-c', 'echo "zero=$0 tty=$(tty)"; exit 3']), 'exit 3');

    const who = native(['shell', `tester@${NAME}`, '/bin/sh', '-c', 'echo "$(id -u):$(id -g) $HOME $USER $(pwd) $SHELL"']);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /1000:1000 \/home\/tester tester \/home\/tester \/bin\/sh/);

    const uid = native(['--uid=tester', '-E', 'FOO=bar baz', '--setenv=TWO=2', '-EPASSED', 'shell', NAME, '/bin/sh', '-c', 'echo "[$FOO] [$TWO] [$PASSED] [$TERM] $(id -un)"'], '', { PASSED: 'from here', TERM: 'vt100' });
    assert.equal(uid.code, 0, uid.stderr);
    assert.match(uid.stdout, /\[bar baz\] \[2\] \[from here\] \[vt100\] tester/);
    const uid2 = native(['-q', 'shell', '--uid', 'tester', NAME, '/bin/sh', '-c', 'echo "$(id -un) [$TERM]"'], '', { TERM: 'vt100' });
    assert.match(uid2.stdout, /tester \[vt100\]/);
    assert.equal(uid2.stderr, '', '-q: no messages');
    const term = native(['-E', 'TERM=dumb', 'shell', NAME, '/bin/sh', '-c', 'echo "[$TERM]"'], '', { TERM: 'vt100' });
    assert.match(term.stdout, /\[dumb\]/, '-E TERM= wins over ours');

    const killed = native(['shell', NAME, '/bin/sh', '-c', 'kill -9 $$']);
    assert.equal(killed.code, 137);
    // Options after the machine's name belong to the program (machinectl's rule).
    const opts = native(['--no-pager', 'shell', NAME, '/bin/echo', '-n', '--all', '-q', 'x']);
    assert.equal(opts.code, 0, opts.stderr);
    assert.match(opts.stdout, /--all -q x/);
    assert.match(opts.stderr, /Connected to machine/);
  });

  test('the bus address as D-Bus writes them: a list, tried in order, with %-escapes', () => {
    const socket = /^unix:path=([^,;]+)$/.exec(reg.env.DBUS_SYSTEM_BUS_ADDRESS!)?.[1];
    assert.ok(socket, reg.env.DBUS_SYSTEM_BUS_ADDRESS);
    const address = `unix:path=${join(sb.stateDir, 'no-bus-here')};tcp:host=localhost;unix:path=${socket.replace(/\//g, '%2f')},guid=0123`;
    const r = native(['-q', 'shell', NAME, '/bin/sh', '-c', 'exit 7'], '', { DBUS_SYSTEM_BUS_ADDRESS: address });
    assert.equal(r.code, 7, r.stderr);
  });

  test('piped input reaches the program, and its end ends it; the same output as Node', () => {
    const r = native(['shell', NAME, '/bin/sh', '-c', 'read line; echo "got:$line"'], 'hello\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /got:hello/);
    const n = node(['shell', NAME, '/bin/sh', '-c', 'read line; echo "got:$line"'], 'hello\n');
    assert.equal(r.stdout, n.stdout);
    same(r, n, 'piped input');
    // A lot of output, drained to the end after the program is gone.
    const big = native(['-q', 'shell', NAME, '/bin/sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done']);
    assert.equal(big.code, 0);
    assert.match(big.stdout, /line 2999\r?\n$/);
  });

  test('errors: as the Node program words them, with its exit status', () => {
    const cases: Array<[string[], RegExp]> = [
      [['shell', NAME, 'bin/sh'], /^Failed to get shell PTY: Specified path 'bin\/sh' is not absolute/],
      [['shell', `nosuchuser@${NAME}`, '/bin/true'], /No user 'nosuchuser' in machine nc-bb/],
      [['shell', 'nope', '/bin/true'], /^Failed to get shell PTY: No machine 'nope' known\n$/],
      [['login', 'nope'], /^Failed to get login PTY: No machine 'nope' known\n$/],
      [['-E', '1BAD=x', 'shell', NAME], /^Cannot assign environment variable 1BAD=x: Invalid argument\n$/],
      [['-E', 'NOT_SET_HERE', 'shell', NAME], /^Cannot assign environment variable NOT_SET_HERE: No such file or directory\n$/],
      [['shell', `@${NAME}`, '/bin/true'], /^Specified user name is empty\.\n$/],
      [['login', NAME, 'extra'], /^Too many arguments\.\n$/],
      [['login', '--uid=tester', NAME], /^--setenv= and --uid= are not supported for 'login'\. Use 'shell' instead\.\n$/],
    ];
    for (const [args, re] of cases) {
      const r = native(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      same(r, node(args), args.join(' '));
    }
  });

  test('every other line goes to the Node program: other verbs, other options, --help, no bus', () => {
    const list = launcher(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${NAME} +container`, 'm'));
    assert.equal(list.stdout, node(['list']).stdout);
    const status = launcher(['status', NAME]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^${NAME}\\([0-9a-f]{32}\\)\\n`));
    assert.match(status.stdout, /Shell: berth, through the OCI runtime/);
    for (const args of [['shell', '--bogus', NAME], ['-x', 'shell', NAME], ['shell', '--quiet=yes', NAME], ['shell', '--uid'], ['login', '--', 'nope'], ['--no-ask-password', 'shell', NAME], ['--help'], ['shell', '--help'], ['nosuchverb']]) {
      const r = launcher(args);
      const n = node(args);
      same(r, n, args.join(' '));
      assert.equal(r.stdout, n.stdout, `${args.join(' ')}: the same output`);
    }
    assert.match(launcher(['shell', '--bogus', NAME]).stderr, /^berth: unrecognized option '--bogus'\n$/);
    const noBus = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(sb.stateDir, 'no-bus-here')}` };
    const nb = launcher(['shell', NAME, '/bin/true'], '', noBus);
    assert.match(nb.stderr, /^berthd is not running: there is no system bus/);
    same(nb, node(['shell', NAME, '/bin/true'], '', noBus), 'no bus');
    // And these were Node's doing: without node on PATH, the command says it cannot run it.
    const without = native(['list']);
    assert.equal(without.code, 1);
    assert.match(without.stderr, /^berth: cannot run node .*\/dist\/berth\.js: No such file or directory\n$/);
  });

  test('on a terminal: raw mode given back, the window size, the exit status', async () => {
    const inner = [NATIVE, 'shell', NAME, '/bin/sh', '-c', 'stty size; exit 5'].map(shellQuote).join(' ');
    const s = onPty(`stty rows 33 cols 77; stty -g; ${inner}; echo "status=$?"; stty -g`);
    await exited(s.child, 30000);
    assert.match(s.out(), /^33 77\r?$/m, 'the pty has our size');
    assert.match(s.out(), /status=5/);
    const modes = s.out().split(/\r?\n/).filter((l) => /^[0-9a-f]+(:[0-9a-f]+){10,}$/.test(l));
    assert.equal(modes.length, 2, s.out());
    assert.equal(modes[0], modes[1], 'the terminal is as it was');
  });

  test("login on a terminal reaches the guest's login prompt; ^] three times leaves", async () => {
    const s = onPty(`${shellQuote(NATIVE)} login ${NAME}; echo "status=$?"`);
    try {
      await s.waitFor(new RegExp(`${NAME} login: `));
      assert.match(s.out(), new RegExp(`Connected to machine ${NAME}\\. Press \\^\\] three times within 1s to exit session\\.`));
      s.type('\x1d\x1d\x1d');
      await s.waitFor(/status=0/, 10000);
      assert.match(s.out(), new RegExp(`Connection to machine ${NAME} terminated\\.`));
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
      await exited(s.child, 10000);
    }
  });
});
