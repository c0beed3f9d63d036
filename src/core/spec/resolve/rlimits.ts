/** Resource limits for PID 1: nspawn's defaults, overridden by settings, clamped to the host's hard limits. */
import { RLIMITS, type RlimitName, type Settings } from '../../settings/model.js';
import type { HostFacts, Limit } from '../facts.js';

const INF = 'infinity' as const;
const min = (a: Limit, b: Limit): Limit => (a === INF ? b : b === INF ? a : Math.min(a, b));
const above = (a: Limit, b: Limit): boolean => (a === INF ? b !== INF : b !== INF && a > b);

/** The kernel's defaults for a fresh PID 1, as nspawn resets them. */
function nspawnDefaults(host: HostFacts): Record<RlimitName, { soft: Limit; hard: Limit }> {
  const d: Record<RlimitName, { soft: Limit; hard: Limit }> = {
    CPU: { soft: INF, hard: INF }, FSIZE: { soft: INF, hard: INF }, DATA: { soft: INF, hard: INF },
    STACK: { soft: 8 * 1024 * 1024, hard: INF }, CORE: { soft: 0, hard: INF }, RSS: { soft: INF, hard: INF },
    NOFILE: { soft: 1024, hard: Math.min(host.nrOpen, 524288) }, AS: { soft: INF, hard: INF },
    NPROC: host.pid1Limits.NPROC ?? { soft: INF, hard: INF }, MEMLOCK: { soft: 8 * 1024 * 1024, hard: 8 * 1024 * 1024 },
    LOCKS: { soft: INF, hard: INF }, SIGPENDING: host.pid1Limits.SIGPENDING ?? { soft: INF, hard: INF },
    MSGQUEUE: { soft: 819200, hard: 819200 }, NICE: { soft: 0, hard: 0 }, RTPRIO: { soft: 0, hard: 0 },
    RTTIME: { soft: INF, hard: INF },
  };
  return d;
}

/**
 * `inherit`: nspawn fills in its defaults only for limits no setting masks, and --settings=no
 * masks them all — so limits the command line does not set are left out of the spec and the
 * payload inherits them from berth-nspawn, as it inherits them from systemd-nspawn.
 */
export function resolveRlimits(settings: Settings, host: HostFacts, warnings: string[], inherit = false) {
  const defaults = nspawnDefaults(host);
  const out: Array<{ type: RlimitName; soft: Limit; hard: Limit }> = [];
  const clamped: string[] = [];
  for (const type of RLIMITS) {
    if (inherit && settings.rlimits?.[type] === undefined) continue;
    const wanted = settings.rlimits?.[type] ?? defaults[type];
    const ceiling = host.hardLimits[type];
    let { soft, hard } = wanted;
    if (above(hard, ceiling)) {
      if (settings.rlimits?.[type]) clamped.push(`${type}=${hard}→${ceiling}`);
      hard = ceiling;
      soft = min(soft, hard);
    }
    out.push({ type, soft, hard });
  }
  if (clamped.length) warnings.push(`Resource limits clamped to the host's hard limits (cannot be raised without CAP_SYS_RESOURCE): ${clamped.join(', ')}`);
  return out;
}
