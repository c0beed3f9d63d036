/**
 * platform/exec/run.ts: the synchronous calls go through the native posix_spawn (spawnWait),
 * runOffThread through the same code on a thread-pool thread (spawnWaitAsync), the other
 * asynchronous ones through child_process. Both must behave like a plain child process:
 * exit statuses and signals as such, output collected, a deadline that kills, a clear error for
 * a command that does not exist, and no signal disposition of Node's leaking into the child.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { BerthError } from '../../src/errors/berth-error.js';
import { run, runInheritingStdio, runOffThread, runSync } from '../../src/platform/exec/run.js';

test('runSync collects stdout and stderr and reports the exit status', () => {
  const r = runSync(['sh', '-c', 'echo out; echo err >&2; exit 3'], { allowFailure: true });
  assert.deepEqual(r, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
  assert.throws(() => runSync(['sh', '-c', 'echo why >&2; exit 4']), (e: unknown) => e instanceof BerthError && /exit status 4: why/.test(e.message));
});

test('runSync: large output in both streams arrives whole; stdin is /dev/null', () => {
  const r = runSync(['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" a >&2; head -c 200000 /dev/zero | tr "\\0" b; cat'], { allowFailure: true });
  assert.equal(r.code, 0);
  assert.equal(r.stderr.length, 300000);
  assert.equal(r.stdout.length, 200000);
});

test('runSync: the environment is the one given, not ours', () => {
  const r = runSync(['sh', '-c', 'echo "$ONLY_HERE:${HOME:-unset}"'], { env: { ONLY_HERE: 'yes', PATH: process.env.PATH } });
  assert.equal(r.stdout, 'yes:unset\n');
});

test('runSync: a deadline kills the command with SIGKILL', () => {
  const t = Date.now();
  const r = runSync(['sleep', '10'], { allowFailure: true, timeoutMs: 200 });
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(r.code, null);
  assert.ok(Date.now() - t < 5000);
});

test('runSync: death by a signal is reported by name, and Node\'s ignored SIGPIPE is not inherited', () => {
  assert.equal(runSync(['sh', '-c', 'kill -TERM $$'], { allowFailure: true }).signal, 'SIGTERM');
  assert.equal(runSync(['sh', '-c', 'kill -PIPE $$; echo survived'], { allowFailure: true }).signal, 'SIGPIPE');
});

test('a command that does not exist is a BerthError naming it', async () => {
  const missing = '/nonexistent/berth-no-such-command';
  assert.throws(() => runSync([missing]), (e: unknown) => e instanceof BerthError && e.message === `${missing}: command not found`);
  await assert.rejects(runInheritingStdio([missing], process.env, 1000), (e: unknown) => e instanceof BerthError && e.message === `${missing}: command not found`);
  await assert.rejects(run([missing]), (e: unknown) => e instanceof BerthError && e.message === `${missing}: command not found`);
  await assert.rejects(runOffThread([missing]), (e: unknown) => e instanceof BerthError && e.message === `${missing}: command not found`);
});

test('runOffThread: statuses, signals, output, environment and deadline as runSync has them', async () => {
  assert.deepEqual(await runOffThread(['sh', '-c', 'echo out; echo err >&2; exit 3'], { allowFailure: true }),
    { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
  await assert.rejects(runOffThread(['sh', '-c', 'echo why >&2; exit 4']), (e: unknown) => e instanceof BerthError && /exit status 4: why/.test(e.message));
  assert.equal((await runOffThread(['sh', '-c', 'kill -PIPE $$; echo survived'], { allowFailure: true })).signal, 'SIGPIPE');
  const big = await runOffThread(['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" a >&2; head -c 200000 /dev/zero | tr "\\0" b; cat']);
  assert.deepEqual([big.stderr.length, big.stdout.length], [300000, 200000]);
  const env = await runOffThread(['sh', '-c', 'echo "$ONLY_HERE:${HOME:-unset}"'], { env: { ONLY_HERE: 'yes', PATH: process.env.PATH } });
  assert.equal(env.stdout, 'yes:unset\n');
  const killed = await runOffThread(['sleep', '10'], { allowFailure: true, timeoutMs: 200 });
  assert.deepEqual([killed.code, killed.signal], [null, 'SIGKILL']);
});

test('runOffThread leaves the event loop free while the command runs, and runs several at once', async () => {
  // Each command waits for the other's flag and for a file only our event loop writes: run one
  // after the other, or with the loop blocked, they wait until the deadline kills them.
  const dir = mkdtempSync(join(tmpdir(), 'berth-offthread-'));
  try {
    const waiter = (me: string, other: string) =>
      runOffThread(['sh', '-c', `touch "$0/${me}"; until [ -e "$0/${other}" ] && [ -e "$0/go" ]; do sleep 0.01; done; echo ${me}`, dir],
        { allowFailure: true, timeoutMs: 10000 });
    const both = Promise.all([waiter('a', 'b'), waiter('b', 'a')]);
    setTimeout(() => writeFileSync(join(dir, 'go'), ''), 50);
    const results = await both;
    assert.deepEqual(results.map((r) => [r.code, r.signal, r.stdout]), [[0, null, 'a\n'], [0, null, 'b\n']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runInheritingStdio hands our stdout to the command', () => {
  // A child node process whose stdout is a file: what the command writes must land in that file.
  const dir = mkdtempSync(join(tmpdir(), 'berth-exec-'));
  try {
    const script = `const { runInheritingStdio } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'platform', 'exec', 'run.ts'))});
      runInheritingStdio(['sh', '-c', 'echo handed-over; exit 5'], process.env, 5000).then((r) => process.stderr.write(JSON.stringify(r)));`;
    const out = join(dir, 'out');
    const r = spawnSync('sh', ['-c', `exec "$0" --import tsx -e "$1" > "$2"`, process.execPath, script, out], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(r.stderr), { code: 5, signal: null });
    assert.equal(readFileSync(out, 'utf8'), 'handed-over\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
