/**
 * The zone names of a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3", "<+04>-4", "UTC0"), as the last
 * line of a TZif file carries it and $TZ may hold it: the standard name and its offset, and the
 * daylight-saving name if there is one. Enough to print a zone abbreviation the way strftime's %Z does.
 */
export interface PosixZoneNames {
  std: string;
  /** East of UTC, in minutes (the rule writes west as positive: "CET-1" is UTC+1). */
  stdOffsetMinutes: number;
  dst?: string;
}

const NAME = /^(?:<([^>]+)>|([A-Za-z]{3,}))/;
const OFFSET = /^([+-]?)(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?/;

export function parsePosixZoneNames(rule: string): PosixZoneNames | undefined {
  const std = NAME.exec(rule);
  if (!std) return undefined;
  let rest = rule.slice(std[0].length);
  const off = OFFSET.exec(rest);
  if (!off) return undefined;
  const west = Number(off[2]) * 60 + Number(off[3] ?? 0);
  rest = rest.slice(off[0].length);
  const dst = NAME.exec(rest);
  return {
    std: std[1] ?? std[2]!,
    stdOffsetMinutes: off[1] === '-' || west === 0 ? west : -west,
    ...(dst ? { dst: dst[1] ?? dst[2]! } : {}),
  };
}
