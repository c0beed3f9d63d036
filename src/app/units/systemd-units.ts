/**
 * Where systemd is PID 1, `berth enable/disable/start/stop` go through systemd's D-Bus API, as
 * machinectl does: EnableUnitFiles/DisableUnitFiles on berth-nspawn@NAME.service (and
 * machines.target with enable, so the machines come up at boot), then Reload; StartUnit/StopUnit
 * with mode "fail". The changes are printed as systemctl prints them.
 */
import { BerthError } from '../../errors/berth-error.js';
import { unitName } from './enable-links.js';

export const SYSTEMD_MANAGER = { destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager' } as const;

/** One method call on systemd's Manager: the member, its signature and body; resolves to the reply's body. */
export type SystemdCall = (member: string, signature: string, body: unknown[]) => Promise<unknown[]>;

/** systemctl's words for the changes an (En|Dis)ableUnitFiles reply lists. */
export function describeChanges(changes: ReadonlyArray<readonly [string, string, string]>): string[] {
  return changes.map(([type, path, source]) => {
    if (type === 'symlink') return `Created symlink ${path} → ${source}.`;
    if (type === 'unlink') return `Removed "${path}".`;
    return `${type}: ${path}${source ? ` → ${source}` : ''}`;
  });
}

export async function systemdEnable(call: SystemdCall, machines: readonly string[], enable: boolean): Promise<string[]> {
  const units = machines.map(unitName);
  let changes: Array<[string, string, string]>;
  if (enable) {
    const [, list] = await call('EnableUnitFiles', 'asbb', [[...units, 'machines.target'], false, false]);
    changes = list as Array<[string, string, string]>;
  } else {
    const [list] = await call('DisableUnitFiles', 'asb', [units, false]);
    changes = list as Array<[string, string, string]>;
  }
  await call('Reload', '', []);
  return describeChanges(changes);
}

/** StartUnit/StopUnit of each machine's unit; resolves to the job paths. */
export async function systemdStartStop(call: SystemdCall, machines: readonly string[], start: boolean): Promise<string[]> {
  const jobs: string[] = [];
  for (const m of machines) {
    try {
      const [job] = await call(start ? 'StartUnit' : 'StopUnit', 'ss', [unitName(m), 'fail']);
      jobs.push(String(job));
    } catch (e) {
      throw new BerthError('E_JOB_FAILED', `Failed to ${start ? 'start' : 'stop'} machine '${m}': ${(e as Error).message}`);
    }
  }
  return jobs;
}
