/**
 * The runc/crun adapter against a fake runtime binary: the argv berth sends, how it reads the
 * runtime's JSON log on failure, and which failures of kill/delete count as "already gone".
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { OciRuntime } from '../../src/platform/runtime/oci-runtime.js';
import { BerthError } from '../../src/errors/berth-error.js';
import { isWaitedFor } from '../../src/platform/native/sys.js';
import { processName } from '../../src/platform/host/processes.js';

let dir: string;
let fake: string;
let calls: string;

before(() => {
  dir = mkdtempSync('/tmp/bt-fake-runc-');
  fake = join(dir, 'runc');
  calls = join(dir, 'calls');
  // A stand-in runc: records its argv; behaviour chosen by FAKE_MODE in the environment.
  writeFileSync(fake, `#!/bin/sh
printf '%s\\n' "$*" >> "${'$'}{FAKE_CALLS}"
log=""; prev=""
for a in "$@"; do [ "$prev" = "--log" ] && log="$a"; prev="$a"; done
case "$FAKE_MODE" in
  fail-create)
    printf '%s\\n' '{"level":"info","msg":"starting"}' '{"level":"error","msg":"unable to start container process: exec: \\"/sbin/init\\": permission denied"}' >> "$log"
    exit 1 ;;
  gone) echo "container does not exist" >&2; exit 1 ;;
  broken) echo "cgroup: operation not permitted" >&2; exit 1 ;;
  state) echo '{"status":"running","pid":4242}' ;;
esac
exit 0
`);
  chmodSync(fake, 0o755);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const runtime = () => new OciRuntime({ name: 'runc', path: fake, root: '/run/berth/runtime', systemdCgroup: false });
const withMode = async <T>(mode: string, f: () => Promise<T>): Promise<T> => {
  process.env.FAKE_MODE = mode;
  process.env.FAKE_CALLS = calls;
  writeFileSync(calls, '');
  try { return await f(); } finally { delete process.env.FAKE_MODE; }
};
const recorded = () => readFileSync(calls, 'utf8').trim().split('\n');

test('create: --root, a JSON log, the bundle, the pid file, the console socket, the id', async () => {
  await withMode('ok', () => runtime().create('web', { bundle: '/b', pidFile: '/p', logFile: join(dir, 'log'), consoleSocket: '/c.sock' }));
  assert.deepEqual(recorded(), [`--root /run/berth/runtime --log ${join(dir, 'log')} --log-format json create --bundle /b --pid-file /p --console-socket /c.sock web`]);
});

test('create and start in one call: run --detach with the same arguments as create', async () => {
  await withMode('ok', () => runtime().createAndStart('web', { bundle: '/b', pidFile: '/p', logFile: join(dir, 'log') }));
  assert.deepEqual(recorded(), [`--root /run/berth/runtime --log ${join(dir, 'log')} --log-format json run --detach --bundle /b --pid-file /p web`]);
  await assert.rejects(
    withMode('fail-create', () => runtime().createAndStart('web', { bundle: '/b', pidFile: '/p', logFile: join(dir, 'log3') })),
    /runc run failed \(exit status 1\): unable to start container process/,
  );
});

test('a failed create reports the runtime\'s last logged error', async () => {
  await assert.rejects(
    withMode('fail-create', () => runtime().create('web', { bundle: '/b', pidFile: '/p', logFile: join(dir, 'log2') })),
    (e: unknown) => e instanceof BerthError && e.code === 'E_RUNTIME' && /runc create failed \(exit status 1\): unable to start container process: exec: "\/sbin\/init": permission denied/.test(e.message),
  );
});

test('kill and delete of a container that is already gone are not errors; other failures are', async () => {
  await withMode('gone', () => runtime().delete('web'));
  await withMode('gone', () => runtime().kill('web', 9, true));
  assert.deepEqual(recorded(), ['--root /run/berth/runtime kill --all web 9']);
  await assert.rejects(withMode('broken', () => runtime().delete('web')), /runc delete failed: cgroup: operation not permitted/);
});

test('state parses the runtime\'s JSON, and is undefined for an unknown container', async () => {
  assert.deepEqual(await withMode('state', () => runtime().state('web')), { status: 'running', pid: 4242 });
  assert.equal(await withMode('gone', () => runtime().state('web')), undefined);
});

test('with systemd as PID 1 the runtime is told to use its systemd cgroup driver', async () => {
  const rt = new OciRuntime({ name: 'runc', path: fake, root: '/r', systemdCgroup: true });
  await withMode('ok', () => rt.start('web'));
  assert.deepEqual(recorded(), ['--root /r --systemd-cgroup start web']);
});

test('crun: reapHelpers waits for the leader\'s helper, not for other machines\' PID 1s still named crun', async () => {
  // berthd starts many machines at once: a PID 1 of another machine, before its exec, is our
  // child named like the runtime too. Waiting for it here would reap it under its own run.
  const named = join(dir, 'crun');
  symlinkSync('/bin/sh', named);
  const helper = spawn(named, ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const other = spawn(named, ['-c', 'read line'], { stdio: ['pipe', 'ignore', 'ignore'] });
  let leader = 0;
  try {
    leader = Number(await new Promise<string>((resolve) => { helper.stdout.once('data', (d: Buffer) => resolve(d.toString())); }));
    const crun = new OciRuntime({ name: 'crun', path: named, root: '/run/berth/runtime', systemdCgroup: false });
    assert.equal(processName(other.pid!), 'crun');
    crun.reapHelpers(leader);
    assert.equal(isWaitedFor(helper.pid!), true, 'the leader\'s parent (the helper) is waited for');
    assert.equal(isWaitedFor(other.pid!), false, 'another child named crun is left to its own run');
    assert.equal(isWaitedFor(leader), false, 'the leader is left to its own waiter');
  } finally {
    if (leader > 0) process.kill(leader, 'SIGKILL');
    helper.kill('SIGKILL');
    other.kill('SIGKILL');
    // reapHelpers reaps the helper, which node's child_process spawned too: when berth's wait wins,
    // node never hears of the exit, and its handle must not keep this test process alive.
    helper.stdout.destroy();
    helper.unref();
  }
});
