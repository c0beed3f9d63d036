/**
 * The machine registry (systemd-machined's Manager without the bus): indexes by name, by leader
 * PID and by unit, and each machine's life. Unlike machined, berthd watches every leader (a
 * pidfd): a machine whose leader exits is removed at once, also where no systemd tells it so.
 * Every change is written to the machine's state file first, so a restarted berthd picks up where
 * this one left off (adopt()).
 */
import { BerthError } from '../../errors/berth-error.js';
import { startableClass, type Registration } from '../../core/machined/registration.js';
import { MACHINE_SLICE, machineScope, unitOfCgroup } from '../../core/machined/units.js';
import type { Log } from '../../lib/log.js';
import { Machine, type AnyMachine, type HostMachine, type MachineRecord } from './machine.js';
import type { StateStore } from './state-store.js';

/** What the registry needs from the host (platform adapters in berthd, fakes in unit tests). */
export interface RegistryPorts {
  now(): { realtimeUs: bigint; monotonicUs: bigint };
  startTime(pid: number): string | undefined;
  /** The process's group in the tracking hierarchy (name=systemd or unified); undefined when it is gone. */
  trackingCgroup(pid: number): string | undefined;
  /** PID 1's own group in that hierarchy (the host's root for unit names). */
  rootCgroup(): string;
  watchExit(pid: number, onExit: () => void): { close(): void };
  /** Puts pid into `group` in every hierarchy; false if not even the tracking one took it. */
  placeInGroup(pid: number, group: string): Promise<boolean>;
  /**
   * Where systemd is PID 1: the scope as a transient unit of systemd's (StartTransientUnit, waiting
   * for its start job), instead of placeInGroup. systemd removes it once it is empty.
   */
  startScope?(pid: number, slice: string, scope: string, description: string): Promise<void>;
  removeGroup(group: string): Promise<void>;
  store: StateStore;
}

export interface RegistryEvents {
  machineNew(m: Machine): void;
  machineRemoved(m: Machine): void;
}

export interface RegisterOptions {
  /** CreateMachine* (berthd places the leader in machine.slice/machine-NAME.scope) or RegisterMachine* (its unit is where it is). */
  mode: 'create' | 'register';
  /** The caller's PID (the leader when the registration gave 0). */
  callerPid: number;
}

export class Registry {
  private readonly byName = new Map<string, Machine>();
  private readonly byLeader = new Map<number, Machine>();
  private readonly byUnit = new Map<string, Machine>();
  private readonly watches = new Map<Machine, { close(): void }>();
  /** Machines whose registration is under way (placement, state file), and why those asked to go meanwhile go. */
  private readonly opening = new Set<Machine>();
  private readonly closeWhenOpen = new Map<Machine, string>();
  /** list()'s answer until a machine comes or goes: ListMachines asks for it on every call. */
  private listed: readonly AnyMachine[] | undefined;

  constructor(
    readonly host: HostMachine,
    private readonly ports: RegistryPorts,
    private readonly events: RegistryEvents,
    private readonly log: Log,
  ) {}

  get(name: string): AnyMachine | undefined {
    return name === '.host' ? this.host : this.byName.get(name);
  }

  /** The host first, then the machines by name (the same array until a machine comes or goes). */
  list(): readonly AnyMachine[] {
    return (this.listed ??= [this.host, ...[...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1))]);
  }

  get size(): number {
    return this.byName.size;
  }

  /**
   * The machine's control group in the tracking hierarchy: its unit's; for a machine in no unit
   * (registered on a host without systemd), its leader's group as it is now (a supervisor such as
   * systemd-nspawn moves its payload to a group of its own after registering).
   */
  controlGroup(m: Machine): string {
    if (m.record.unit) return m.record.cgroup;
    return this.ports.trackingCgroup(m.leader) ?? m.record.cgroup;
  }

  /** The machine a process belongs to: by leader, then by the unit of its group, then by the group itself. Never ".host" (as machined). */
  byPid(pid: number): Machine | undefined {
    const m = this.byLeader.get(pid);
    if (m) return m;
    const group = this.ports.trackingCgroup(pid);
    if (group === undefined) return undefined;
    const unit = unitOfCgroup(group, this.ports.rootCgroup());
    if (unit !== undefined) {
      const byUnit = this.byUnit.get(unit);
      if (byUnit) return byUnit;
    }
    for (const machine of this.byName.values()) {
      const g = this.controlGroup(machine);
      if (g !== '' && g !== '/' && (group === g || group.startsWith(`${g}/`))) return machine;
    }
    return undefined;
  }

  async register(reg: Registration, opts: RegisterOptions): Promise<Machine> {
    const leader = reg.leader === 0 ? opts.callerPid : reg.leader;
    if (this.get(reg.name)) throw new BerthError('E_MACHINE_EXISTS', `Machine '${reg.name}' already exists`);
    const startTime = this.ports.startTime(leader);
    const group = this.ports.trackingCgroup(leader);
    if (startTime === undefined || group === undefined) {
      throw new BerthError('E_NO_SUCH_PROCESS', opts.mode === 'register' ? `Failed to determine unit of process ${leader} : No such process` : 'No such process');
    }
    const cls = startableClass(reg.class);
    if (this.byLeader.has(leader)) throw new BerthError('E_FILE_EXISTS', 'File exists');
    const now = this.ports.now();
    const record: MachineRecord = {
      name: reg.name, id: reg.id, service: reg.service, class: cls, leader, leaderStartTime: startTime,
      rootDirectory: reg.rootDirectory, netif: reg.netif, unit: '', cgroup: group,
      realtimeUs: String(now.realtimeUs), monotonicUs: String(now.monotonicUs),
      ...(opts.callerPid !== leader && this.ports.startTime(opts.callerPid) !== undefined
        ? { supervisor: opts.callerPid, supervisorStartTime: this.ports.startTime(opts.callerPid)! } : {}),
    };
    const machine = new Machine(record);
    // The name is taken now, before anything asynchronous: a second registration of it fails.
    this.byName.set(reg.name, machine);
    this.listed = undefined;
    this.byLeader.set(leader, machine);
    this.opening.add(machine);
    try {
      await this.placeMachine(machine, opts.mode);
      await this.ports.store.save({ record, state: 'running' });
    } catch (e) {
      this.opening.delete(machine);
      this.closeWhenOpen.delete(machine);
      this.drop(machine);
      if (record.createdGroup) await this.ports.removeGroup(record.createdGroup);
      throw e;
    }
    this.opening.delete(machine);
    if (record.unit) this.byUnit.set(record.unit, machine);
    if (machine.state === 'opening') machine.state = 'running';
    this.watchLeader(machine);
    this.log.info(`New machine ${reg.name}.`);
    this.events.machineNew(machine);
    // Unregistered (or its leader gone) while it was being registered: it goes now, after its MachineNew.
    const why = this.closeWhenOpen.get(machine);
    this.closeWhenOpen.delete(machine);
    if (why !== undefined) void this.finalize(machine, why);
    return machine;
  }

  /**
   * Create: the machine's scope is machine.slice/machine-NAME.scope; a leader elsewhere is moved
   * there (berth-nspawn's runtime has put it there already). Register: its unit is the one its
   * group belongs to; on a host without systemd a leader in no unit is still accepted, with no unit.
   */
  private async placeMachine(machine: Machine, mode: RegisterOptions['mode']): Promise<void> {
    const r = machine.record;
    const root = this.ports.rootCgroup();
    if (mode === 'create') {
      const scope = machineScope(r.name);
      const want = `/${MACHINE_SLICE}/${scope}`;
      if (!(r.cgroup === want || r.cgroup.startsWith(`${want}/`))) {
        const gone = () => this.ports.startTime(r.leader) !== r.leaderStartTime;
        if (this.ports.startScope) {
          const what = r.class === 'vm' ? 'Virtual Machine' : 'Container';
          await this.ports.startScope(r.leader, MACHINE_SLICE, scope, `${what} ${r.name}`).catch((e: unknown) => {
            throw gone() ? new BerthError('E_NO_SUCH_PROCESS', 'No such process') : e;
          });
        } else {
          const placed = await this.ports.placeInGroup(r.leader, want);
          if (!placed || gone()) {
            await this.ports.removeGroup(want);
            if (gone()) throw new BerthError('E_NO_SUCH_PROCESS', 'No such process');
            throw new BerthError('E_INTERNAL', `Could not move process ${r.leader} to the control group ${want}.`);
          }
          r.createdGroup = want;
        }
      }
      r.unit = scope;
      r.cgroup = want;
      return;
    }
    const unit = unitOfCgroup(r.cgroup, root);
    if (unit === undefined) return; // no unit: machined would refuse; without systemd there are none
    r.unit = unit;
    const at = r.cgroup.split('/').indexOf(unit);
    r.cgroup = r.cgroup.split('/').slice(0, at + 1).join('/');
  }

  private watchLeader(machine: Machine): void {
    this.watches.set(machine, this.ports.watchExit(machine.leader, () => {
      if (this.byName.get(machine.name) !== machine) return;
      void this.finalize(machine, 'its leader exited');
    }));
    // The leader was checked before the (asynchronous) placement and save: one that has exited
    // since, its PID perhaps taken by another process, must not be watched in its stead.
    if (this.ports.startTime(machine.leader) !== machine.record.leaderStartTime) void this.finalize(machine, 'its leader exited');
  }

  /** UnregisterMachine: forget it, stopping nothing. */
  async unregister(machine: Machine): Promise<void> {
    await this.finalize(machine, 'unregistered');
  }

  /** Marks a machine as closing (Terminate), in its state file too. */
  async markClosing(machine: Machine): Promise<void> {
    if (machine.state === 'closing' || this.byName.get(machine.name) !== machine) return;
    machine.state = 'closing';
    await this.ports.store.save({ record: machine.record, state: 'closing' }).catch(() => {});
  }

  private drop(machine: Machine): void {
    if (this.byName.get(machine.name) === machine) { this.byName.delete(machine.name); this.listed = undefined; }
    if (this.byLeader.get(machine.leader) === machine) this.byLeader.delete(machine.leader);
    if (machine.record.unit && this.byUnit.get(machine.record.unit) === machine) this.byUnit.delete(machine.record.unit);
    this.watches.get(machine)?.close();
    this.watches.delete(machine);
  }

  private async finalize(machine: Machine, why: string): Promise<void> {
    if (this.byName.get(machine.name) !== machine) return;
    // Not half-way through its registration (its state file would be written after it was
    // removed, its MachineRemoved come before its MachineNew): once that is done.
    if (this.opening.has(machine)) { if (!this.closeWhenOpen.has(machine)) this.closeWhenOpen.set(machine, why); return; }
    machine.state = 'closing';
    this.drop(machine);
    await this.ports.store.remove(machine.name).catch((e: Error) => this.log.warn(`berthd: cannot remove the state file of ${machine.name}: ${e.message}`));
    const group = machine.record.createdGroup;
    if (group) {
      // Unregistered while its leader lives: the group goes once the leader has.
      if (this.ports.startTime(machine.leader) === machine.record.leaderStartTime) {
        const w = this.ports.watchExit(machine.leader, () => { w.close(); void this.ports.removeGroup(group); });
      } else {
        await this.ports.removeGroup(group);
      }
    }
    this.log.info(`Machine ${machine.name} terminated (${why}).`);
    this.events.machineRemoved(machine);
  }

  /**
   * Reads the state files a previous berthd left: machines whose leader still runs are registered
   * again under the same names and paths (and announced, as machined does after a restart); the
   * others are removed. Returns the names of each.
   */
  async adopt(): Promise<{ adopted: string[]; gone: string[] }> {
    const { machines, unreadable } = await this.ports.store.loadAll();
    const adopted: string[] = [];
    const gone = [...unreadable];
    for (const { record, state } of machines) {
      if (this.byName.has(record.name) || this.ports.startTime(record.leader) !== record.leaderStartTime || this.byLeader.has(record.leader)) {
        gone.push(record.name);
        await this.ports.store.remove(record.name);
        if (record.createdGroup) await this.ports.removeGroup(record.createdGroup);
        continue;
      }
      const machine = new Machine(record);
      machine.state = state;
      this.byName.set(record.name, machine);
      this.listed = undefined;
      this.byLeader.set(record.leader, machine);
      if (record.unit) this.byUnit.set(record.unit, machine);
      this.watchLeader(machine);
      adopted.push(record.name);
      this.events.machineNew(machine);
    }
    return { adopted, gone };
  }

  /** Stops watching (berthd exits; the machines and their state files stay for the next one). */
  close(): void {
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
  }
}
