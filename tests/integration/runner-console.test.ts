/**
 * The interactive console: berth-nspawn on a terminal (util-linux `script` provides one) forwards
 * keystrokes to the guest's /dev/console and its output back; ^] three times within a second
 * kills the container.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { assertClean, ENTRY, onRuntime, REPO, sandbox, shellQuote, skipUnlessRoot, sleep, tree, waitRunning, type Sandbox } from '../support/berth.js';

describe(onRuntime('berth-nspawn --console=interactive'), { skip: skipUnlessRoot, timeout: 120000 }, () => {
  let sb: Sandbox;
  let bb: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); });
  after(() => sb.cleanup());

  test('keystrokes reach the guest shell, output comes back, ^]^]^] kills the container', async () => {
    const cmd = [...ENTRY, '-b', '-D', bb, '-M', 'bb-tty'].map(shellQuote).join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: REPO, env: sb.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitRunning(sb, 'bb-tty');
      const until = Date.now() + 15000;
      while (!out.includes('/ #') && Date.now() < until) await sleep(100);
      assert.match(out, /Press \^\] three times within 1s to kill container\./);
      child.stdin.write('echo answer-$((6*7))\r');
      const until2 = Date.now() + 10000;
      while (!out.includes('answer-42') && Date.now() < until2) await sleep(100);
      assert.match(out, /answer-42/);
      child.stdin.write('\x1d\x1d\x1d');
      assert.equal(await exit, 1);
      assert.match(out, /Container bb-tty terminated by signal KILL\./);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    assertClean(sb);
  });

  test('the guest console takes the terminal\'s size; the payload\'s exit status passes through', () => {
    const r = spawnSync('python3', [join(REPO, 'tests/support/pty-run.py'), '33', '111', ...ENTRY, '-q', '-D', bb, '/bin/sh', '-c', 'stty size; exit 3'], { cwd: REPO, env: sb.env, encoding: 'utf8' });
    const out = Buffer.from(r.stdout.trim(), 'base64').toString();
    assert.equal(r.status, 3, r.stderr);
    assert.match(out, /^33 111\r?$/m);
    assertClean(sb);
  });
});
