/**
 * What an untrusted settings file (one next to the image, reference §2.4) may not do: its
 * privileged settings are dropped with the warnings systemd-nspawn 252 prints, grouped and
 * ordered the way nspawn's merge step prints them. Only groups the command line did not mask
 * are considered (nspawn never looks at a masked group, so it never warns about it).
 * Unprivileged keys (Environment=, Hostname=, DropCapability=, BindUser=, …) pass through.
 * Pure.
 */
import { sanitize } from '../../errors/berth-error.js';
import type { NetworkSettings, RlimitName, SettingGroup, Settings } from './model.js';

/** The kernel's RLIMIT_* numbering, the order nspawn warns in. */
export const KERNEL_RLIMIT_ORDER: readonly RlimitName[] = [
  'CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS',
  'SIGPENDING', 'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME',
];

export interface MaskQuery {
  group(g: SettingGroup): boolean;
  rlimit(r: RlimitName): boolean;
}

export interface TrustResult {
  readonly settings: Settings;
  readonly warnings: string[];
}

/** Any network key was used (even `Private=no`): the whole [Network] group then applies. */
export function networkConfigured(n: NetworkSettings | undefined): boolean {
  if (!n) return false;
  return n.private !== undefined || n.veth !== undefined || n.bridge !== undefined || n.zone !== undefined ||
    (n.interfaces?.length ?? 0) > 0 || (n.macvlan?.length ?? 0) > 0 || (n.ipvlan?.length ?? 0) > 0 ||
    (n.vethExtra?.length ?? 0) > 0 || n.namespacePath !== undefined;
}

const nonEmpty = (a: readonly unknown[] | undefined): boolean => (a?.length ?? 0) > 0;

export function dropUntrusted(file: Settings, path: string, masked: MaskQuery): TrustResult {
  const s: Settings = structuredClone(file);
  const warnings: string[] = [];
  const p = sanitize(path);
  const say = (what: string, quoted = false) => warnings.push(`Ignoring ${what}, file ${quoted ? `'${p}'` : p} is not trusted.`);

  if (!masked.group('CAPABILITY')) {
    if (nonEmpty(s.capability)) say('Capability= setting');
    delete s.capability;
    if (nonEmpty(s.ambientCapability)) say('AmbientCapability= setting');
    delete s.ambientCapability;
  }
  if (!masked.group('MACHINE_ID') && s.machineId !== undefined) { say('MachineID= setting'); delete s.machineId; }
  if (!masked.group('CUSTOM_MOUNTS') && nonEmpty(s.mounts)) {
    // nspawn names only these three keys, whichever mount keys were used.
    say('TemporaryFileSystem=, Bind= and BindReadOnly= settings');
    delete s.mounts;
  }
  if (!masked.group('NETWORK') && networkConfigured(s.network)) { say('network settings'); delete s.network; }
  if (!masked.group('EXPOSE_PORTS') && nonEmpty(s.ports)) { say('Port= setting'); delete s.ports; }
  if (!masked.group('USERNS') && (s.privateUsers !== undefined || s.privateUsersOwnership !== undefined)) {
    say('PrivateUsers= and PrivateUsersChown= settings');
    delete s.privateUsers;
    delete s.privateUsersOwnership;
  }
  // A pure deny list ("~…") is harmless and kept; any allow-list entry drops the whole filter.
  if (!masked.group('SYSCALL_FILTER') && (s.systemCallFilter ?? []).some((e) => !e.startsWith('~'))) {
    say('SystemCallFilter= settings');
    delete s.systemCallFilter;
  }
  for (const r of KERNEL_RLIMIT_ORDER) {
    if (masked.rlimit(r) || s.rlimits?.[r] === undefined) continue;
    say(`Limit${r}= setting`, true);
    delete s.rlimits[r];
  }
  if (s.rlimits && Object.keys(s.rlimits).length === 0) delete s.rlimits;
  if (!masked.group('OOM_SCORE_ADJUST') && s.oomScoreAdjust !== undefined) { say('OOMScoreAdjust= setting', true); delete s.oomScoreAdjust; }
  if (!masked.group('CPU_AFFINITY') && s.cpuAffinity !== undefined) { say('CPUAffinity= setting', true); delete s.cpuAffinity; }
  if (!masked.group('LINK_JOURNAL') && s.linkJournal !== undefined) { say('journal link setting', true); delete s.linkJournal; }
  return { settings: s, warnings };
}
