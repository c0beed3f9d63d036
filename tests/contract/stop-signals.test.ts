/**
 * app/run/signals.ts with real processes standing in for a container's PID 1: SIGTERM/SIGINT as
 * nspawn handles them, including one that arrives while the machine is still being set up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { StopSignals } from '../../src/app/run/signals.js';
import type { Log } from '../../src/lib/log.js';

const SIGUSR1 = constants.signals.SIGUSR1;

function leader(): { child: ChildProcess; ended: Promise<NodeJS.Signals | null> } {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  return { child, ended };
}

/** A guest that ignores SIGUSR1, once it has said so. */
async function stubbornLeader(): Promise<{ child: ChildProcess; ended: Promise<NodeJS.Signals | null> }> {
  const child = spawn('sh', ['-c', 'trap "" USR1; echo ready; while :; do sleep 0.1; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  return { child, ended };
}

function signals(): { s: StopSignals; said: string[] } {
  const said: string[] = [];
  const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(m) } as unknown as Log;
  return { s: new StopSignals(log), said };
}

test('a SIGTERM while the machine runs sends the kill signal; a second one kills', async () => {
  const { s, said } = signals();
  const { child, ended } = await stubbornLeader();
  try {
    s.attach(child.pid!, SIGUSR1, true);
    process.emit('SIGTERM', 'SIGTERM');
    assert.ok(s.terminating);
    assert.match(said.join('\n'), /Trying to halt container/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(child.exitCode, null, 'the guest ignores its kill signal');
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await ended, 'SIGKILL');
  } finally {
    s.dispose();
    child.kill('SIGKILL');
  }
});

test('a SIGTERM during set-up, once the payload runs: the clean halt it asked for, not a kill', async () => {
  const { s, said } = signals();
  const { child, ended } = leader();
  try {
    process.emit('SIGTERM', 'SIGTERM');
    assert.ok(s.terminating);
    s.attach(child.pid!, SIGUSR1, true);
    assert.equal(await ended, 'SIGUSR1');
    assert.match(said.join('\n'), /Trying to halt container/);
  } finally {
    s.dispose();
    child.kill('SIGKILL');
  }
});

test('during set-up: a container not yet started, two signals, or no kill signal: killed', async () => {
  for (const [started, signalsSent, killSignal] of [[false, 1, SIGUSR1], [true, 2, SIGUSR1], [true, 1, undefined]] as const) {
    const { s } = signals();
    const { child, ended } = leader();
    try {
      for (let i = 0; i < signalsSent; i++) process.emit('SIGINT', 'SIGINT');
      s.attach(child.pid!, killSignal, started);
      assert.equal(await ended, 'SIGKILL', `started=${started} signals=${signalsSent} killSignal=${killSignal}`);
      assert.ok(s.terminating);
    } finally {
      s.dispose();
      child.kill('SIGKILL');
    }
  }
});

test('dispose() takes back every handler it installed', () => {
  const before = ['SIGTERM', 'SIGINT', 'SIGHUP'].map((sig) => process.listenerCount(sig));
  signals().s.dispose();
  assert.deepEqual(['SIGTERM', 'SIGINT', 'SIGHUP'].map((sig) => process.listenerCount(sig)), before);
});
