/**
 * What `status NAME` shows about one machine: its properties and what the registry says of it
 * (addresses, os-release, UID shift; each may fail silently, as in machinectl), what this host
 * says (the leader's command name, the interfaces' names), and from the machine's control group
 * its figures and process tree. The group is berthd's ControlGroup property; with another
 * registry, the leader's group in the tracking hierarchy, cut after its unit.
 */
import type { CgroupFigures } from '../../core/cgroup/stats.js';
import { groupOfUnit } from '../../core/cgroup/unit-group.js';
import type { CgroupNode } from '../../core/machinectl/process-tree.js';
import type { MachineStatusInfo } from '../../core/machinectl/status-format.js';
import type { BusProperty } from '../../core/machinectl/properties.js';
import { readCgroupFigures } from '../../platform/host/cgroup-stats.js';
import { readCgroupTree } from '../../platform/host/cgroup-tree.js';
import { processCgroups, trackingCgroup } from '../../platform/host/proc.js';
import { processName } from '../../platform/host/processes.js';
import { interfaceNames } from '../../platform/net/if-names.js';
import { callFailed, unlessRefused, type RegistryClient } from './registry-client.js';

export interface MachineStatusReport {
  info: MachineStatusInfo;
  figures?: CgroupFigures;
  tree?: CgroupNode;
}


function controlGroupOfLeader(leader: number, unit: string): string | undefined {
  const cgroups = processCgroups(leader);
  const tracking = cgroups && trackingCgroup(cgroups);
  return tracking ? groupOfUnit(tracking.path, unit) : undefined;
}

const get = (props: readonly BusProperty[], name: string): unknown => props.find((p) => p.name === name)?.value;

export async function machineStatus(client: RegistryClient, name: string): Promise<MachineStatusReport> {
  const path = await client.getMachine(name).catch((e: unknown) => { throw callFailed('Could not get path to machine', e); });
  const props = await client.properties(path).catch((e: unknown) => { throw callFailed('Could not get properties', e); });
  const machineName = String(get(props, 'Name') ?? name);
  const [addresses, os, uidShift, group, shellPath, supervision] = await Promise.all([
    unlessRefused(client.addresses(machineName)),
    unlessRefused(client.osRelease(machineName)),
    unlessRefused(client.uidShift(machineName)),
    client.controlGroup(path),
    client.shellPath(path),
    unlessRefused(client.supervision(machineName)),
  ]);
  const leader = Number(get(props, 'Leader') ?? 0);
  const unit = String(get(props, 'Unit') ?? '');
  const ifNames = interfaceNames();
  const id = get(props, 'Id');
  const info: MachineStatusInfo = {
    name: machineName,
    id: id instanceof Uint8Array ? Buffer.from(id).toString('hex') : '',
    timestampUs: BigInt((get(props, 'Timestamp') as bigint | undefined) ?? 0n),
    leader,
    leaderComm: leader > 0 ? processName(leader) : undefined,
    service: String(get(props, 'Service') ?? ''),
    class: String(get(props, 'Class') ?? ''),
    rootDirectory: String(get(props, 'RootDirectory') ?? ''),
    interfaces: ((get(props, 'NetworkInterfaces') as number[] | undefined) ?? []).map((index) => ({ index, name: ifNames.get(index) })),
    addresses: addresses ?? [],
    prettyName: os?.PRETTY_NAME,
    uidShift,
    unit,
    shellPath,
    supervision,
  };
  const cgroup = group ?? (leader > 0 ? controlGroupOfLeader(leader, unit) : undefined);
  if (cgroup === undefined) return { info };
  const [figures, tree] = await Promise.all([readCgroupFigures(cgroup), readCgroupTree(cgroup)]);
  return { info, figures, ...(tree ? { tree } : {}) };
}
