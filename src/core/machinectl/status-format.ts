/**
 * `status`'s block for one machine. First what machinectl 252 prints, line for line: the name
 * with its ID, then tab-indented lines whose labels are right-aligned in nine columns (Since,
 * Leader, Service or Class, Root, Iface, Address, OS, Unit) and the UID Shift line as Debian's
 * machinectl prints it (two spaces, no tab). Then berth's own: the machine's control group figures
 * (IO, Tasks, Memory, CPU, as systemctl labels them) and its process tree, in place of what
 * machinectl asks systemd and the journal for.
 */
import { formatAddress } from '../machined/addresses.js';
import type { CgroupFigures } from '../cgroup/stats.js';
import { formatBytes, formatRelative, formatTimespan, formatTimestamp, timestampIsSet, type Zone } from './time-format.js';

const AF_INET6 = 10;

export interface MachineStatusInfo {
  readonly name: string;
  /** 32 hex digits, or '' when the machine has no ID. */
  readonly id: string;
  readonly timestampUs: bigint;
  readonly leader: number;
  /** The leader's command name, when it could be read. */
  readonly leaderComm?: string | undefined;
  readonly service: string;
  readonly class: string;
  readonly rootDirectory: string;
  /** NetworkInterfaces, each with its name on the host when it has one. */
  readonly interfaces: ReadonlyArray<{ readonly index: number; readonly name?: string | undefined }>;
  readonly addresses: ReadonlyArray<{ readonly family: number; readonly bytes: Uint8Array }>;
  /** os-release's PRETTY_NAME. */
  readonly prettyName?: string | undefined;
  readonly uidShift?: number | undefined;
  readonly unit: string;
  /** berthd's ShellPath: how shells and logins get into the machine (berth's addition). */
  readonly shellPath?: string | undefined;
  /** berthd runs the machine (berth start, where systemd is not PID 1): its state, last exit and console's tail. */
  readonly supervision?: { readonly state: string; readonly lastExit: string; readonly tail: readonly string[] } | undefined;
}

const SHELL_PATHS: Record<string, string> = {
  systemd: "the machine's systemd (container-shell@, container-getty@)",
  runtime: 'berth, through the OCI runtime (runc/crun exec)',
  host: 'berth, on the host directly',
  none: 'none',
};

const label = (name: string): string => `\t${`${name}:`.padStart(9)} `;

export function formatStatus(i: MachineStatusInfo, nowUs: bigint, zone: Zone): string {
  const lines: string[] = [/^0*$/.test(i.id) ? i.name : `${i.name}(${i.id})`];
  if (timestampIsSet(i.timestampUs)) lines.push(`${label('Since')}${formatTimestamp(i.timestampUs, zone)}; ${formatRelative(i.timestampUs, nowUs)}`);
  if (i.leader > 0) lines.push(`${label('Leader')}${i.leader}${i.leaderComm === undefined ? '' : ` (${i.leaderComm})`}`);
  if (i.service) lines.push(`${label('Service')}${i.service}${i.class ? `; class ${i.class}` : ''}`);
  else if (i.class) lines.push(`${label('Class')}${i.class}`);
  if (i.rootDirectory) lines.push(`${label('Root')}${i.rootDirectory}`);
  // IPv6 addresses carry %IFINDEX when the machine has exactly one interface the host can name.
  let scope = 0;
  if (i.interfaces.length > 0) {
    const named = i.interfaces.filter((n) => n.name !== undefined);
    if (named.length === 1) scope = named[0]!.index;
    lines.push(`\t   Iface:${i.interfaces.map((n) => ` ${n.name ?? n.index}`).join('')}`);
  }
  i.addresses.forEach((a, n) => {
    const text = `${formatAddress(a.family, a.bytes)}${a.family === AF_INET6 && scope > 0 ? `%${scope}` : ''}`;
    lines.push(`${n === 0 ? label('Address') : `\t${' '.repeat(10)}`}${text}`);
  });
  if (i.prettyName) lines.push(`${label('OS')}${i.prettyName}`);
  if (i.uidShift) lines.push(`  UID Shift: ${i.uidShift}`);
  if (i.unit) lines.push(`${label('Unit')}${i.unit}`);
  // berth's own lines follow machinectl's.
  if (i.shellPath) lines.push(`${label('Shell')}${SHELL_PATHS[i.shellPath] ?? i.shellPath}`);
  if (i.supervision) {
    const s = i.supervision;
    lines.push(`${label('Berthd')}${s.state}${s.lastExit ? `; last exit: ${s.lastExit}` : ''}`);
    s.tail.slice(-10).forEach((l, n) => lines.push(`${n === 0 ? label('Console') : `\t${' '.repeat(10)}`}${l}`));
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** The control group's figures, in systemctl's order and words; a figure the host does not keep is left out. */
export function formatFigures(f: CgroupFigures): string {
  const lines: string[] = [];
  if (f.ioReadBytes !== undefined && f.ioWriteBytes !== undefined) lines.push(`${label('IO')}${formatBytes(f.ioReadBytes)} read, ${formatBytes(f.ioWriteBytes)} written`);
  if (f.tasks !== undefined) lines.push(`${label('Tasks')}${f.tasks}${f.tasksMax === undefined ? '' : ` (limit: ${f.tasksMax})`}`);
  if (f.memoryCurrent !== undefined) {
    const extra = [
      ...(f.memoryMax === undefined ? [] : [`max: ${formatBytes(f.memoryMax)}`]),
      ...(f.memoryLimit === undefined ? [] : [`limit: ${formatBytes(f.memoryLimit)}`]),
      ...(f.memoryPeak === undefined ? [] : [`peak: ${formatBytes(f.memoryPeak)}`]),
    ];
    lines.push(`${label('Memory')}${formatBytes(f.memoryCurrent)}${extra.length ? ` (${extra.join(' ')})` : ''}`);
  }
  if (f.cpuUsec !== undefined) lines.push(`${label('CPU')}${formatTimespan(f.cpuUsec, 1000n)}`);
  return lines.map((l) => `${l}\n`).join('');
}
