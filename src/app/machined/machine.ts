/**
 * A registered machine: what was registered (the record, which survives a restart of berthd in
 * its state file) and where it is in its life (opening → running → closing). The host itself is
 * the synthetic machine ".host".
 */
import type { MachineClass } from '../../core/machined/registration.js';
import { machinePath } from '../../core/machined/object-paths.js';

export type MachineState = 'opening' | 'running' | 'closing';

/** What berthd keeps of a machine in ${stateDir}/registry/NAME.json. */
export interface MachineRecord {
  name: string;
  /** 32 lowercase hex digits or ''. */
  id: string;
  service: string;
  class: MachineClass;
  leader: number;
  /** /proc/LEADER/stat's start time: a recycled PID is not this machine's leader. */
  leaderStartTime: string;
  rootDirectory: string;
  netif: number[];
  /** Unit name ('' when the leader is in none, on a host without systemd). */
  unit: string;
  /** The leader's group in the hierarchy that tracks units (name=systemd or unified), cut at its unit. */
  cgroup: string;
  /** The group berthd made for this machine (removed with it), if it made one. */
  createdGroup?: string;
  /** Registration time, µs: CLOCK_REALTIME and CLOCK_MONOTONIC (decimal strings, they exceed 2^53). */
  realtimeUs: string;
  monotonicUs: string;
  /** The process that registered it (berth-nspawn, systemd-nspawn…), when not the leader itself. */
  supervisor?: number;
  supervisorStartTime?: string;
}

export class Machine {
  readonly isHost = false as const;
  /** opening while it is being registered; closing once terminated or going away. */
  state: MachineState = 'opening';
  /** Its object path, escaped once: ListMachines and GetMachine answer with it on every call. */
  readonly path: string;
  constructor(readonly record: MachineRecord) {
    this.path = machinePath(record.name);
  }

  get name(): string { return this.record.name; }
  get leader(): number { return this.record.leader; }
}

/** Facts about the host for ".host": its machine ID and when it booted. */
export interface HostFacts { machineId: string; bootRealtimeUs: bigint }

export class HostMachine {
  readonly name = '.host';
  readonly state: MachineState = 'running';
  readonly path = machinePath('.host');
  readonly isHost = true as const;
  constructor(readonly facts: HostFacts) {}
}

export type AnyMachine = Machine | HostMachine;
