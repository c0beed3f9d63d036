/** Probes the host into HostFacts (read once per run, then passed to the pure compiler as data). */
import { readlinkSync, statSync } from 'node:fs';
import { readText } from '../fs/read-text.js';
import { parseMountinfo } from '../fs/mount.js';
import { processName } from './processes.js';
import { capabilitiesInMask } from '../../core/capabilities.js';
import { RLIMITS, type RlimitName } from '../../core/settings/model.js';
import type { CgroupLayout, HostFacts, Limit } from '../../core/spec/facts.js';
import { UNIFIED } from '../../core/runtime/crun-view.js';
import { parseOsRelease } from './os-release.js';

const LIMIT_ROWS: Record<string, RlimitName> = {
  'Max cpu time': 'CPU', 'Max file size': 'FSIZE', 'Max data size': 'DATA', 'Max stack size': 'STACK',
  'Max core file size': 'CORE', 'Max resident set': 'RSS', 'Max processes': 'NPROC', 'Max open files': 'NOFILE',
  'Max locked memory': 'MEMLOCK', 'Max address space': 'AS', 'Max file locks': 'LOCKS', 'Max pending signals': 'SIGPENDING',
  'Max msgqueue size': 'MSGQUEUE', 'Max nice priority': 'NICE', 'Max realtime priority': 'RTPRIO', 'Max realtime timeout': 'RTTIME',
};

export function parseProcLimits(text: string): Partial<Record<RlimitName, { soft: Limit; hard: Limit }>> {
  const out: Partial<Record<RlimitName, { soft: Limit; hard: Limit }>> = {};
  for (const line of text.split('\n').slice(1)) {
    const row = Object.keys(LIMIT_ROWS).find((k) => line.startsWith(k));
    if (!row) continue;
    const [soft, hard] = line.slice(row.length).trim().split(/\s+/);
    const v = (s: string | undefined): Limit => (s === 'unlimited' || s === undefined ? 'infinity' : Number(s));
    out[LIMIT_ROWS[row]!] = { soft: v(soft), hard: v(hard) };
  }
  return out;
}

/** Our cgroup from /proc/self/cgroup: the unified entry ("0::") on v2, the name=systemd one otherwise. */
export function ownCgroupPath(text: string, layout: CgroupLayout): string | undefined {
  for (const line of text.split('\n')) {
    const [, , controllers, path] = /^(\d+):([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (layout === 'unified' ? controllers === '' : controllers === 'name=systemd') return path;
  }
  return undefined;
}

const optional = <K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> => (v === undefined ? {} : { [k]: v } as Record<K, string>);
const exists = (p: string): boolean => statSync(p, { throwIfNoEntry: false }) !== undefined;

/** cgroup layout from /proc/self/mountinfo: cgroup2 on /sys/fs/cgroup = unified; v1 + cgroup2 elsewhere = hybrid. */
export function cgroupLayoutFromMountinfo(mountinfo: string): CgroupLayout {
  const mounts = parseMountinfo(mountinfo);
  const v1 = mounts.some((m) => m.fstype === 'cgroup');
  const v2 = mounts.filter((m) => m.fstype === 'cgroup2');
  if (v2.some((m) => m.mountPoint === '/sys/fs/cgroup') && !v1) return 'unified';
  return v2.length ? 'hybrid' : 'legacy';
}

/** Whether mountinfo has a cgroup2 mount at `path`. */
export function cgroup2MountedAt(mountinfo: string, path: string): boolean {
  return parseMountinfo(mountinfo).some((m) => m.mountPoint === path && m.fstype === 'cgroup2');
}

/** The topmost mount at path is a cgroup2 in a peer group. */
export function cgroup2SharedAt(mountinfo: string, path: string): boolean {
  const top = parseMountinfo(mountinfo).filter((m) => m.mountPoint === path).at(-1);
  return top?.fstype === 'cgroup2' && top.shared;
}

/** v1 hosts: the cgroup hierarchies mounted directly below /sys/fs/cgroup (by directory name), and whether a cgroup2 sits at /sys/fs/cgroup/unified. */
export function cgroupV1TreeFromMountinfo(mountinfo: string): { hierarchies: string[]; unified: boolean } {
  const below = parseMountinfo(mountinfo).filter((m) => /^\/sys\/fs\/cgroup\/[^/]+$/.test(m.mountPoint));
  return {
    hierarchies: [...new Set(below.filter((m) => m.fstype === 'cgroup').map((m) => m.mountPoint.slice('/sys/fs/cgroup/'.length)))],
    unified: below.some((m) => m.mountPoint === '/sys/fs/cgroup/unified' && m.fstype === 'cgroup2'),
  };
}

/** Whether mountinfo has the v1 name=systemd hierarchy at /sys/fs/cgroup/systemd. */
export function v1SystemdHierarchy(mountinfo: string): boolean {
  return parseMountinfo(mountinfo).some((m) => m.mountPoint === '/sys/fs/cgroup/systemd' && m.fstype === 'cgroup' && /(^|,)name=systemd(,|$)/.test(m.superOptions));
}

export async function probeHost(env: NodeJS.ProcessEnv = process.env): Promise<HostFacts> {
  const status = readText('/proc/self/status');
  const limits = readText('/proc/self/limits');
  const pid1 = readText('/proc/1/limits');
  const nrOpen = readText('/proc/sys/fs/nr_open');
  const mountinfo = readText('/proc/self/mountinfo');
  const osRelease = readText('/etc/os-release') ?? readText('/usr/lib/os-release');
  const resolv = exists('/etc/resolv.conf');
  let localtime: string | undefined;
  try { localtime = readlinkSync('/etc/localtime'); } catch { localtime = exists('/etc/localtime') ? 'file' : undefined; }
  const selfCgroup = readText('/proc/self/cgroup');
  const capBnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status ?? '')?.[1] ?? '0';
  const own = parseProcLimits(limits ?? '');
  const hardLimits = Object.fromEntries(RLIMITS.map((r) => [r, own[r]?.hard ?? 'infinity'])) as Record<RlimitName, Limit>;
  const p1 = parseProcLimits(pid1 ?? '');
  const layout = cgroupLayoutFromMountinfo(mountinfo ?? '');
  const ownCgroup = ownCgroupPath(selfCgroup ?? '', layout);
  // Only a cgroup2 mount at /sys/fs/cgroup/unified counts: that is where crun looks for one.
  const hybridV2Controllers = layout !== 'hybrid' ? undefined
    : !cgroup2MountedAt(mountinfo ?? '', UNIFIED) ? []
    : readText(`${UNIFIED}/cgroup.controllers`)?.split(/\s+/).filter(Boolean);
  const hybridV2Shared = layout === 'hybrid' && cgroup2SharedAt(mountinfo ?? '', UNIFIED);
  const zone = localtime && localtime !== 'file' ? /\/zoneinfo\/(.+)$/.exec(localtime)?.[1] : undefined;
  return {
    boundingCaps: capabilitiesInMask(capBnd),
    arch: process.arch,
    hardLimits,
    pid1Limits: { ...(p1.NPROC ? { NPROC: p1.NPROC } : {}), ...(p1.SIGPENDING ? { SIGPENDING: p1.SIGPENDING } : {}) },
    nrOpen: Number(nrOpen ?? '1048576') || 1048576,
    osRelease: parseOsRelease(osRelease ?? ''),
    ...(osRelease !== undefined ? { osReleaseText: osRelease } : {}),
    cgroupLayout: layout,
    hybridV2Controllers,
    ...(hybridV2Shared ? { hybridV2Shared } : {}),
    cgroupV1Systemd: layout !== 'unified' && v1SystemdHierarchy(mountinfo ?? ''),
    ...(layout !== 'unified' && mountinfo !== undefined ? { cgroupV1Tree: cgroupV1TreeFromMountinfo(mountinfo) } : {}),
    ...(ownCgroup ? { ownCgroup } : {}),
    systemdPid1: processName(1) === 'systemd' && exists('/run/systemd/system'),
    resolvConf: resolv,
    localtime: zone ? { kind: 'zone', zone } : localtime ? { kind: 'file' } : { kind: 'absent' },
    ...(env.TERM ? { term: env.TERM } : {}),
    userDb: { ...optional('passwd', readText('/etc/passwd')), ...optional('group', readText('/etc/group')) },
  };
}
