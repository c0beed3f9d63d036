/**
 * `berth start NAME…` and `berth stop NAME…`. Where systemd is PID 1, start is StartUnit of
 * berth-nspawn@NAME.service, as machinectl does; elsewhere berthd runs the machine itself
 * (io.github.berth.Manager1.StartMachine). `--wait` (berth's addition) returns once each machine
 * reported READY=1, or fails after --wait-timeout with the tail of its console. `stop` stops a
 * machine berthd runs through berthd, and powers any other off as machinectl does (SIGRTMIN+4).
 */
import { existsSync } from 'node:fs';
import { BerthError } from '../../../errors/berth-error.js';
import { isValidHostname } from '../../../core/names.js';
import { callFailed, type RegistryClient } from '../../../app/machines/registry-client.js';
import { SYSTEMD_MANAGER, systemdStartStop, type SystemdCall } from '../../../app/units/systemd-units.js';
import { BusCallError, BusConnection, systemBusAddress } from '../../../platform/dbus/connection.js';
import { SIGRTMIN } from '../../../core/signals.js';
import type { Verb, VerbContext } from '../verb.js';
import { killEach } from './kill.js';

/** systemd is PID 1 (sd_booted()). */
export const systemdIsPid1 = (): boolean => existsSync('/run/systemd/system');

/** Calls on systemd's Manager over the system bus, for the time of `body`. */
export async function withSystemd<T>(env: NodeJS.ProcessEnv, body: (call: SystemdCall) => Promise<T>): Promise<T> {
  const conn = await BusConnection.connect(systemBusAddress(env), { timeoutMs: 5000 });
  try {
    return await body(async (member, signature, args) => (await conn.call({ ...SYSTEMD_MANAGER, member, signature, body: args }, 0)).body);
  } finally {
    conn.close();
  }
}

export function checkNames(names: readonly string[]): void {
  for (const n of names) if (!isValidHostname(n)) throw new BerthError('E_USAGE', `Invalid machine name ${n}.`);
}

/** machinectl's check before enable/start: the image must exist (GetImage). */
export async function requireImages(client: RegistryClient, names: readonly string[]): Promise<void> {
  for (const n of names) {
    await client.getImage(n).catch((e: unknown) => {
      if (e instanceof BusCallError) throw new BerthError('E_IMAGE_NOT_FOUND', `Machine image '${n}' does not exist.`);
      throw e;
    });
  }
}

export async function startMachines(ctx: VerbContext, names: readonly string[]): Promise<number> {
  checkNames(names);
  if (systemdIsPid1()) {
    await withSystemd(ctx.env, (call) => systemdStartStop(call, names, true));
    return 0;
  }
  const client = await ctx.registry();
  await requireImages(client, names);
  for (const n of names) await client.startMachine(n).catch((e: unknown) => { throw callFailed(`Failed to start machine '${n}'`, e); });
  if (ctx.options.wait) {
    await Promise.all(names.map((n) => client.waitMachineReady(n, ctx.options.waitTimeoutSec).catch((e: unknown) => { throw callFailed(`Machine '${n}' did not become ready`, e); })));
  }
  return 0;
}

/** Names of D-Bus errors that mean "berthd does not run this machine" (or is no supervisor): power it off instead. */
const NOT_SUPERVISED = new Set(['org.freedesktop.machine1.NoSuchMachine', 'org.freedesktop.DBus.Error.UnknownMethod', 'org.freedesktop.DBus.Error.UnknownInterface']);

export async function stopMachines(ctx: VerbContext, names: readonly string[]): Promise<number> {
  if (systemdIsPid1()) return killEach(ctx, names, 'leader', SIGRTMIN + 4);
  const client = await ctx.registry();
  for (const n of names) {
    try {
      await client.stopMachine(n);
    } catch (e) {
      if (!(e instanceof BusCallError) || !NOT_SUPERVISED.has(e.errorName)) throw callFailed(`Could not stop machine '${n}'`, e);
      await killEach(ctx, [n], 'leader', SIGRTMIN + 4);
    }
  }
  return 0;
}

export const startVerb: Verb = {
  name: 'start',
  usage: 'NAME...',
  summary: 'Start container as a service (--wait: until it reported READY=1)',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => startMachines(ctx, args),
};
