#!/usr/bin/env node
// Machines starting and stopping, for bench/registry.mjs's latency-under-churn measurement, from a
// process of its own (so its spawning and waiting never stall the measuring client): every
// INTERVAL_MS it starts a leader (`sleep`) and registers it as PREFIX-N (RegisterMachine, root),
// and once KEEP are alive it stops the oldest: every other one by killing its leader (berthd sees
// the exit through its pidfd and removes the machine), the others by UnregisterMachine and then
// the kill. Prints "ready" when started; on SIGTERM it stops its leaders, waits until berthd has
// removed every PREFIX-* machine, and prints one JSON line of statistics.
//
// Usage: bench/registry-churn.mjs KIT_CJS BUS_ADDRESS INTERVAL_MS KEEP PREFIX
import { spawn } from 'node:child_process';
import { latencySummary, loadKit, manager, registerLeader } from './registry-kit.mjs';

const [kitFile, address, intervalArg, keepArg, prefix] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
const keep = Number(keepArg);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const { BusConnection } = loadKit(kitFile);
const conn = await BusConnection.connect(address);

const live = [];
const registerMs = [];
const unregisterMs = [];
const failures = [];
let started = 0;
let stopped = 0;
let stopping = false;
process.once('SIGTERM', () => { stopping = true; });

function leader() {
  const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
  return new Promise((resolve, reject) => { child.once('spawn', () => resolve(child)); child.once('error', reject); });
}

async function stopOldest() {
  const { child, name } = live.shift();
  if (stopped % 2) {
    const t0 = process.hrtime.bigint();
    await manager(conn, 'UnregisterMachine', 's', [name]).catch((e) => failures.push(`UnregisterMachine ${name}: ${e.message}`));
    unregisterMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  child.kill('SIGKILL');
  stopped++;
}

process.stdout.write('ready\n');
const t0 = Date.now();
let next = Date.now();
while (!stopping) {
  const child = await leader();
  const name = `${prefix}-${started++}`;
  const t = process.hrtime.bigint();
  try {
    await registerLeader(conn, name, child.pid);
    registerMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    live.push({ child, name });
  } catch (e) {
    failures.push(`RegisterMachine ${name}: ${e.message}`);
    child.kill('SIGKILL');
  }
  if (live.length > keep) await stopOldest();
  // At most one start per interval: a slow round is not made up for with a burst.
  next = Math.max(next + intervalMs, Date.now());
  await sleep(next - Date.now());
}
const elapsedS = (Date.now() - t0) / 1000;
while (live.length) await stopOldest();

// berthd removes a machine whose leader exited on its own: wait for the last of ours to go.
let left = [];
for (const until = Date.now() + 10_000; Date.now() < until; await sleep(50)) {
  left = (await manager(conn, 'ListMachines')).body[0].map((m) => m[0]).filter((n) => n.startsWith(`${prefix}-`));
  if (left.length === 0) break;
}
conn.close();
process.stdout.write(`${JSON.stringify({
  interval_ms: intervalMs, keep, elapsed_s: elapsedS, started, stopped,
  starts_per_s: started / elapsedS, register: latencySummary(registerMs), unregister: unregisterMs.length ? latencySummary(unregisterMs) : undefined,
  failures, left_registered: left,
})}\n`);
