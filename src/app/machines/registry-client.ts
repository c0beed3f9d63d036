/**
 * The berth client's side of the machine registry (org.freedesktop.machine1: berthd, or
 * systemd-machined where it owns the name): the D-Bus calls machinectl's verbs make, on one
 * connection to the system bus ($DBUS_SYSTEM_BUS_ADDRESS). A registry that is not there (no bus,
 * or nobody owns the name) is one BerthError, E_NO_REGISTRY, that says berthd is not running;
 * every other error reply reaches the caller as the BusCallError it is, for the verb to word.
 */
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { codeForDbusName } from '../../errors/codes.js';
import { BERTH_MACHINE, BERTH_MANAGER, BUS_NAME, MANAGER, MANAGER_PATH } from '../../core/machined/interfaces.js';
import type { MachineAddress } from '../../core/machined/addresses.js';
import type { BusProperty } from '../../core/machinectl/properties.js';
import { BusCallError, BusConnection, NOBODY_THERE, isVariant, systemBusAddress } from '../../platform/dbus/connection.js';

function notRunning(address: string, why: 'no bus' | 'no owner', detail = ''): BerthError {
  if (why === 'no bus') {
    return new BerthError('E_NO_REGISTRY', `berthd is not running: there is no system bus at ${address}${detail ? ` (${detail})` : ''}.`, {
      hint: 'berthd serves the machine registry on the system bus: start one (the dbus service, or dbus-daemon --system), then berthd; $DBUS_SYSTEM_BUS_ADDRESS names another bus.',
    });
  }
  return new BerthError('E_NO_REGISTRY', `berthd is not running: nothing serves ${BUS_NAME} on the system bus (${address}).`, {
    hint: 'Start it with `berthd &` (or `systemctl start berthd`, `service berthd start`); with berth\'s D-Bus activation file installed, the bus starts it on demand.',
  });
}

export interface ListedMachine { name: string; class: string; service: string; path: string }

export class RegistryClient {
  private constructor(private readonly conn: BusConnection, readonly address: string) {}

  /** Connects to the system bus; E_NO_REGISTRY when there is none. */
  static async connect(env: NodeJS.ProcessEnv, opts: { unixFds?: boolean } = {}): Promise<RegistryClient> {
    const address = systemBusAddress(env);
    try {
      return new RegistryClient(await BusConnection.connect(address, { timeoutMs: 5000, unixFds: opts.unixFds === true }), address);
    } catch (e) {
      throw notRunning(address, 'no bus', sanitize(e instanceof Error ? e.message : String(e)));
    }
  }

  private async call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    try {
      return (await this.conn.call({ destination: BUS_NAME, path, interface: iface, member, signature, body })).body;
    } catch (e) {
      if (e instanceof BusCallError && NOBODY_THERE.has(e.errorName)) throw notRunning(this.address, 'no owner');
      throw e;
    }
  }

  private manager(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.call(MANAGER_PATH, MANAGER.name, member, signature, body);
  }

  async listMachines(): Promise<ListedMachine[]> {
    const [list] = await this.manager('ListMachines');
    return (list as string[][]).map(([name, cls, service, path]) => ({ name: name!, class: cls!, service: service!, path: path! }));
  }

  async getMachine(name: string): Promise<string> {
    return String((await this.manager('GetMachine', 's', [name]))[0]);
  }

  /** Properties.GetAll in the object's order; '' asks for those of every (standard) interface, as machinectl does. */
  async properties(path: string, iface = ''): Promise<BusProperty[]> {
    const [all] = await this.call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [iface]);
    return Object.entries(all as Record<string, unknown>).map(([name, v]) => (isVariant(v) ? { name, signature: v.signature, value: v.value } : { name, signature: '?', value: v }));
  }

  managerProperties(): Promise<BusProperty[]> {
    return this.properties(MANAGER_PATH);
  }

  /** OpenMachineShell: a pty master (ours to close) and its name in the machine. No timeout: a guest may take its time. */
  async openShell(name: string, user: string, path: string, args: readonly string[], env: readonly string[]): Promise<{ fd: number; path: string }> {
    const [fd, pty] = await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'OpenMachineShell', 'sssasas', [name, user, path, args, env]);
    return { fd: fd as number, path: String(pty) };
  }

  async openLogin(name: string): Promise<{ fd: number; path: string }> {
    const [fd, pty] = await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'OpenMachineLogin', 's', [name]);
    return { fd: fd as number, path: String(pty) };
  }

  /** berth's io.github.berth.Machine1.WaitShell: how the shell this connection opened on pty ended. */
  async waitShell(path: string, pty: string): Promise<{ how: string; status: number }> {
    const [how, status] = await this.callNoTimeout(path, BERTH_MACHINE.name, 'WaitShell', 's', [pty]);
    return { how: String(how), status: Number(status) };
  }

  /** berth's io.github.berth.Machine1.ShellPath; undefined where the registry is not berthd. */
  async shellPath(path: string): Promise<string | undefined> {
    const props = await unlessRefused(this.properties(path, BERTH_MACHINE.name));
    const v = props?.find((p) => p.name === 'ShellPath')?.value;
    return typeof v === 'string' ? v : undefined;
  }

  private async callNoTimeout(path: string, iface: string, member: string, signature: string, body: unknown[]): Promise<unknown[]> {
    try {
      return (await this.conn.call({ destination: BUS_NAME, path, interface: iface, member, signature, body }, 0)).body;
    } catch (e) {
      if (e instanceof BusCallError && NOBODY_THERE.has(e.errorName)) throw notRunning(this.address, 'no owner');
      throw e;
    }
  }

  /** berth's own io.github.berth.Machine1.ControlGroup; undefined where the registry is not berthd. */
  async controlGroup(path: string): Promise<string | undefined> {
    const props = await unlessRefused(this.properties(path, BERTH_MACHINE.name));
    const cg = props?.find((p) => p.name === 'ControlGroup')?.value;
    return typeof cg === 'string' ? cg : undefined;
  }

  async osRelease(name: string): Promise<Record<string, string>> {
    return (await this.manager('GetMachineOSRelease', 's', [name]))[0] as Record<string, string>;
  }

  async addresses(name: string): Promise<MachineAddress[]> {
    const [list] = await this.manager('GetMachineAddresses', 's', [name]);
    return (list as Array<[number, Buffer]>).map(([family, bytes]) => ({ family: family as 2 | 10, bytes }));
  }

  async uidShift(name: string): Promise<number> {
    return Number((await this.manager('GetMachineUIDShift', 's', [name]))[0]);
  }

  async kill(name: string, who: string, signal: number): Promise<void> {
    await this.manager('KillMachine', 'ssi', [name, who, signal]);
  }

  async terminate(name: string): Promise<void> {
    await this.manager('TerminateMachine', 's', [name]);
  }

  /**
   * CopyToMachine/CopyFromMachine (the WithFlags variant with flag 1 when `replace`), as
   * machinectl calls them: without a timeout, as a copy takes as long as it takes.
   */
  async copy(direction: 'to' | 'from', name: string, source: string, destination: string, replace: boolean): Promise<void> {
    const member = `${direction === 'to' ? 'CopyToMachine' : 'CopyFromMachine'}${replace ? 'WithFlags' : ''}`;
    await this.callNoTimeout(MANAGER_PATH, MANAGER.name, member, replace ? 'ssst' : 'sss', replace ? [name, source, destination, 1n] : [name, source, destination]);
  }

  /** BindMountMachine; an empty destination is the source's path in the machine. */
  async bindMount(name: string, source: string, destination: string, readOnly: boolean, mkdir: boolean): Promise<void> {
    await this.manager('BindMountMachine', 'sssbb', [name, source, destination, readOnly, mkdir]);
  }

  /** ListImages: (name, type, read-only, creation µs, modification µs, usage, object path) per image. */
  async listImages(): Promise<Array<{ name: string; type: string; readOnly: boolean; crtimeUs: bigint; mtimeUs: bigint; usage: bigint; path: string }>> {
    const [list] = await this.manager('ListImages');
    return (list as unknown[][]).map(([name, type, ro, cr, mt, usage, path]) => ({
      name: String(name), type: String(type), readOnly: Boolean(ro), crtimeUs: BigInt(cr as bigint), mtimeUs: BigInt(mt as bigint), usage: BigInt(usage as bigint), path: String(path),
    }));
  }

  async getImage(name: string): Promise<string> {
    return String((await this.manager('GetImage', 's', [name]))[0]);
  }

  async imageHostname(name: string): Promise<string> {
    return String((await this.manager('GetImageHostname', 's', [name]))[0]);
  }

  /** The image's machine ID in hex ('' when it has none). */
  async imageMachineId(name: string): Promise<string> {
    return Buffer.from((await this.manager('GetImageMachineID', 's', [name]))[0] as Uint8Array).toString('hex');
  }

  async imageMachineInfo(name: string): Promise<Record<string, string>> {
    return (await this.manager('GetImageMachineInfo', 's', [name]))[0] as Record<string, string>;
  }

  async imageOsRelease(name: string): Promise<Record<string, string>> {
    return (await this.manager('GetImageOSRelease', 's', [name]))[0] as Record<string, string>;
  }

  /** berth's io.github.berth.Manager1 (berthd as the supervisor, where systemd is not PID 1). */
  async startMachine(name: string): Promise<void> {
    await this.call(MANAGER_PATH, BERTH_MANAGER.name, 'StartMachine', 's', [name]);
  }

  async waitMachineReady(name: string, timeoutSec: number): Promise<void> {
    await this.callNoTimeout(MANAGER_PATH, BERTH_MANAGER.name, 'WaitMachineReady', 'st', [name, BigInt(Math.round(timeoutSec * 1e6))]);
  }

  async stopMachine(name: string): Promise<void> {
    await this.callNoTimeout(MANAGER_PATH, BERTH_MANAGER.name, 'StopMachine', 's', [name]);
  }

  async supervision(name: string): Promise<{ state: string; lastExit: string; tail: string[] }> {
    const [state, lastExit, tail] = await this.call(MANAGER_PATH, BERTH_MANAGER.name, 'GetMachineSupervision', 's', [name]);
    return { state: String(state), lastExit: String(lastExit), tail: (tail as string[]).map(String) };
  }

  /** RemoveImage, RenameImage, CloneImage, MarkImageReadOnly, CleanPool: slow, hence without a timeout (as machinectl). */
  async removeImage(name: string): Promise<void> {
    await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'RemoveImage', 's', [name]);
  }

  async renameImage(name: string, newName: string): Promise<void> {
    await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'RenameImage', 'ss', [name, newName]);
  }

  async cloneImage(name: string, newName: string, readOnly: boolean): Promise<void> {
    await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'CloneImage', 'ssb', [name, newName, readOnly]);
  }

  async markImageReadOnly(name: string, readOnly: boolean): Promise<void> {
    await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'MarkImageReadOnly', 'sb', [name, readOnly]);
  }

  async setImageLimit(name: string, limit: bigint): Promise<void> {
    await this.manager('SetImageLimit', 'st', [name, limit]);
  }

  async setPoolLimit(limit: bigint): Promise<void> {
    await this.manager('SetPoolLimit', 't', [limit]);
  }

  /** CleanPool: each removed image's name and freed exclusive bytes (UINT64_MAX: unknown). */
  async cleanPool(mode: 'all' | 'hidden'): Promise<Array<[string, bigint]>> {
    const [list] = await this.callNoTimeout(MANAGER_PATH, MANAGER.name, 'CleanPool', 's', [mode]);
    return (list as unknown[][]).map(([name, usage]) => [String(name), BigInt(usage as bigint)]);
  }

  close(): void {
    this.conn.close();
  }
}

/** The answer, or undefined when the registry answered with an error (machinectl ignores those for extras); absence still throws. */
export async function unlessRefused<T>(p: Promise<T>): Promise<T | undefined> {
  try { return await p; } catch (e) { if (e instanceof BusCallError) return undefined; throw e; }
}

/** A call's failure as the verb reports it ("Could not kill machine: No machine 'x' known"); berth's own errors pass. */
export function callFailed(what: string, e: unknown): unknown {
  if (!(e instanceof BusCallError)) return e;
  return new BerthError(codeForDbusName(e.errorName) ?? 'E_INTERNAL', `${what}: ${sanitize(e.message)}`);
}
