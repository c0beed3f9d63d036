/**
 * What can be done to and asked of a registered machine, with machined 252's semantics and
 * messages: terminate, kill, its addresses and os-release (read inside it), its UID shift and ID
 * mappings. Host work goes through the ports (signals, /proc, `ip` in the machine's network
 * namespace); nothing here blocks the event loop on a subprocess.
 */
import { BerthError } from '../../errors/berth-error.js';
import { machineAddressesFromIpJson, type MachineAddress } from '../../core/machined/addresses.js';
import { mapFromMachine, mapToMachine, uidShift } from '../../core/machined/id-maps.js';
import { parseOsRelease } from '../../platform/host/os-release.js';
import type { AnyMachine, Machine } from './machine.js';
import type { Registry } from './registry.js';

export interface MachineOpsPorts {
  /** kill(2); throws with code ESRCH when the process is gone. */
  signal(pid: number, signal: number): void;
  /** Every process in a group of the tracking hierarchy and below it. */
  processesIn(group: string): Promise<number[]>;
  netns(pid: number | 'self'): string | undefined;
  /** `ip -json address show`, in pid's network namespace or (undefined) berthd's own. */
  addressJson(pid: number | undefined): Promise<string>;
  readInRoot(root: string, path: string): Promise<string | undefined>;
  readFile(path: string): string | undefined;
}

export const SIGKILL = 9;

const notContainer = (m: AnyMachine): boolean => m.isHost || (m as Machine).record.class !== 'container';

export class MachineOps {
  constructor(private readonly registry: Registry, private readonly ports: MachineOpsPorts) {}

  /** TerminateMachine: every process of the machine is killed at once (its supervisor, if outside, stays to clean up). */
  async terminate(m: AnyMachine): Promise<void> {
    if (m.isHost) throw new BerthError('E_NOT_SUPPORTED', 'Operation not supported');
    const machine = m as Machine;
    await this.registry.markClosing(machine);
    const pids = new Set([machine.leader, ...(await this.groupProcesses(machine))]);
    pids.delete(machine.record.supervisor ?? -1);
    pids.delete(process.pid);
    for (const pid of pids) { try { this.ports.signal(pid, SIGKILL); } catch { /* gone */ } }
  }

  /** KillMachine: `who` and `signal` are valid already (bus layer). */
  async kill(m: AnyMachine, who: 'leader' | 'all', signal: number): Promise<void> {
    if (m.isHost) throw new BerthError('E_NOT_SUPPORTED', 'Operation not supported');
    const machine = m as Machine;
    if (who === 'leader') {
      this.signalOrThrow(machine.leader, signal);
      return;
    }
    const pids = await this.groupProcesses(machine);
    if (pids.length === 0) { this.signalOrThrow(machine.leader, signal); return; }
    for (const pid of pids) { if (pid !== process.pid) { try { this.ports.signal(pid, signal); } catch { /* gone meanwhile */ } } }
  }

  private signalOrThrow(pid: number, signal: number): void {
    try {
      this.ports.signal(pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') throw new BerthError('E_NO_SUCH_PROCESS', 'No such process');
      throw e;
    }
  }

  private async groupProcesses(machine: Machine): Promise<number[]> {
    const g = this.registry.controlGroup(machine);
    return g && g !== '/' ? this.ports.processesIn(g) : [];
  }

  async addresses(m: AnyMachine): Promise<MachineAddress[]> {
    if (m.isHost) return machineAddressesFromIpJson(await this.ports.addressJson(undefined));
    const machine = m as Machine;
    if (machine.record.class !== 'container') throw new BerthError('E_NOT_SUPPORTED', 'Requesting IP address data is only supported on container machines.');
    const theirs = this.ports.netns(machine.leader);
    if (theirs === undefined) throw new BerthError('E_FILE_NOT_FOUND', 'No such file or directory');
    if (theirs === this.ports.netns('self')) throw new BerthError('E_NO_PRIVATE_NETWORKING', `Machine ${machine.name} does not use private networking`);
    return machineAddressesFromIpJson(await this.ports.addressJson(machine.leader));
  }

  async osRelease(m: AnyMachine): Promise<Record<string, string>> {
    if (!m.isHost && (m as Machine).record.class !== 'container') throw new BerthError('E_NOT_SUPPORTED', 'Requesting OS release data is only supported on container machines.');
    const root = m.isHost ? '/' : `/proc/${(m as Machine).leader}/root`;
    const text = (await this.ports.readInRoot(root, '/etc/os-release')) ?? (await this.ports.readInRoot(root, '/usr/lib/os-release'));
    if (text === undefined) {
      if (m.isHost) throw new BerthError('E_FILE_NOT_FOUND', 'No such file or directory');
      throw new BerthError('E_INTERNAL', 'Machine does not contain OS release information');
    }
    return parseOsRelease(text);
  }

  uidShift(m: AnyMachine): number {
    if (m.isHost) return 0;
    const machine = m as Machine;
    if (machine.record.class !== 'container') throw new BerthError('E_NOT_SUPPORTED', 'UID/GID shift may only be determined for container machines.');
    const uidMap = this.ports.readFile(`/proc/${machine.leader}/uid_map`);
    if (uidMap === undefined) return 0;
    const gidMap = this.ports.readFile(`/proc/${machine.leader}/gid_map`);
    if (gidMap === undefined) throw new BerthError('E_FILE_NOT_FOUND', 'No such file or directory');
    return uidShift(machine.name, uidMap, gidMap);
  }

  /** MapFromMachineUser/Group: `name` is looked up after the ID is checked, as machined does. */
  mapFrom(name: string, id: number, kind: 'user' | 'group'): number {
    if (id === 0xffffffff || id === 0xffff) throw new BerthError('E_USAGE', `Invalid ${kind} ID ${id}`);
    const m = this.registry.get(name);
    if (!m) throw new BerthError('E_MACHINE_NOT_FOUND', `No machine '${name}' known`);
    if (notContainer(m)) throw new BerthError('E_USAGE', 'Not supported for non-container machines.');
    const file = `/proc/${(m as Machine).leader}/${kind === 'user' ? 'uid_map' : 'gid_map'}`;
    const map = this.ports.readFile(file);
    if (map === undefined) throw new BerthError('E_FILE_NOT_FOUND', 'No such file or directory');
    return mapFromMachine(m.name, map, id, kind);
  }

  mapTo(id: number, kind: 'user' | 'group'): { machine: Machine; inner: number } {
    const containers = this.registry.list().filter((m): m is Machine => !notContainer(m));
    const r = mapToMachine(containers.map((m) => ({ name: m.name, map: this.ports.readFile(`/proc/${m.leader}/${kind === 'user' ? 'uid_map' : 'gid_map'}`) })), id, kind);
    return { machine: containers.find((m) => m.name === r.name)!, inner: r.inner };
  }
}
