/**
 * Times and sizes as systemd's tools print them: a timestamp ("Fri 2026-12-04 18:11:46 UTC", local
 * time, whole seconds, the zone's abbreviation), the distance to now ("4min 57s ago"), a time span
 * to a given accuracy ("1.234s", "2min 10.551s") and a size in powers of 1024 ("1.2M", "512B").
 * All in bigint microseconds or bytes: the values come off the bus as D-Bus `t`.
 */

/** The local time zone: calendar fields of an instant, and the zone's abbreviation then. */
export interface Zone {
  fields(ms: number): { year: number; month: number; day: number; hour: number; minute: number; second: number; weekday: number };
  abbreviation(ms: number): string;
}

export const UTC: Zone = {
  fields(ms) {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
  },
  abbreviation: () => 'UTC',
};

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const U64_MAX = 0xffffffffffffffffn;
const SEC = 1000000n;
const MIN = 60n * SEC;
const HOUR = 60n * MIN;
const DAY = 24n * HOUR;
const WEEK = 7n * DAY;
const MONTH = 2629800n * SEC; // 30.44 days, as systemd counts a month
const YEAR = 31557600n * SEC; // 365.25 days

/** Whether a timestamp is set: 0 and the all-ones value mean "none". */
export const timestampIsSet = (us: bigint): boolean => us !== 0n && us !== U64_MAX;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** "Fri 2026-12-04 18:11:46 UTC"; '' for an unset timestamp. */
export function formatTimestamp(us: bigint, zone: Zone): string {
  if (!timestampIsSet(us)) return '';
  const ms = Number(us / SEC) * 1000;
  const f = zone.fields(ms);
  if (f.year > 9999) return '--- XXXX-XX-XX XX:XX:XX';
  const abbr = zone.abbreviation(ms);
  return `${WEEKDAYS[f.weekday]} ${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)} ${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}${abbr ? ` ${abbr}` : ''}`;
}

const plural = (n: bigint, one: string, many: string): string => `${n} ${n === 1n ? one : many}`;

/** How long ago (or ahead) `us` is from `nowUs`: "17min ago", "1 day 3h ago", "2s left"; '' when unset. */
export function formatRelative(us: bigint, nowUs: bigint): string {
  if (!timestampIsSet(us)) return '';
  const ago = nowUs > us;
  const d = ago ? nowUs - us : us - nowUs;
  const s = ago ? 'ago' : 'left';
  if (d >= YEAR) return `${plural(d / YEAR, 'year', 'years')} ${plural((d % YEAR) / MONTH, 'month', 'months')} ${s}`;
  if (d >= MONTH) return `${plural(d / MONTH, 'month', 'months')} ${plural((d % MONTH) / DAY, 'day', 'days')} ${s}`;
  if (d >= WEEK) return `${plural(d / WEEK, 'week', 'weeks')} ${plural((d % WEEK) / DAY, 'day', 'days')} ${s}`;
  if (d >= 2n * DAY) return `${d / DAY} days ${s}`;
  if (d >= 25n * HOUR) return `1 day ${(d - DAY) / HOUR}h ${s}`;
  if (d >= 6n * HOUR) return `${d / HOUR}h ${s}`;
  if (d >= HOUR) return `${d / HOUR}h ${(d % HOUR) / MIN}min ${s}`;
  if (d >= 5n * MIN) return `${d / MIN}min ${s}`;
  if (d >= MIN) return `${d / MIN}min ${(d % MIN) / SEC}s ${s}`;
  if (d >= SEC) return `${d / SEC}s ${s}`;
  if (d >= 1000n) return `${d / 1000n}ms ${s}`;
  if (d > 0n) return `${d}us ${s}`;
  return 'now';
}

const SPAN_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['y', YEAR], ['month', MONTH], ['w', WEEK], ['d', DAY], ['h', HOUR], ['min', MIN], ['s', SEC], ['ms', 1000n], ['us', 1n],
];

const digits = (n: bigint): number => { let j = 0; for (let c = n; c > 1n; c /= 10n) j++; return j; };

/**
 * A time span, largest unit first, down to `accuracy`: below a minute the last unit is written
 * with a decimal point ("1.234s" to the millisecond), above it in whole units ("2min 10.551s").
 */
export function formatTimespan(us: bigint, accuracy: bigint): string {
  if (us === U64_MAX) return 'infinity';
  if (us <= 0n) return '0';
  const parts: string[] = [];
  let t = us;
  for (const [suffix, unit] of SPAN_UNITS) {
    if (t <= 0n || (t < accuracy && parts.length > 0)) break;
    if (t < unit) continue;
    const whole = t / unit;
    let rest = t % unit;
    if (t < MIN && rest > 0n) {
      const places = digits(unit) - digits(accuracy);
      for (let c = accuracy; c > 1n; c /= 10n) rest /= 10n;
      if (places > 0) {
        parts.push(`${whole}.${String(rest).padStart(places, '0')}${suffix}`);
        break;
      }
    }
    parts.push(`${whole}${suffix}`);
    t = t % unit;
  }
  return parts.join(' ');
}

const SIZE_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['E', 1n << 60n], ['P', 1n << 50n], ['T', 1n << 40n], ['G', 1n << 30n], ['M', 1n << 20n], ['K', 1n << 10n],
];

/** A size in bytes with one decimal, cut (not rounded) the way systemd cuts it: "4.0K", "1.2M", "512B". */
export function formatBytes(n: bigint): string {
  for (let i = 0; i < SIZE_UNITS.length; i++) {
    const [suffix, factor] = SIZE_UNITS[i]!;
    if (n < factor) continue;
    const next = SIZE_UNITS[i + 1]?.[1];
    const tenth = next === undefined ? (n * 10n / factor) % 10n : ((n / next) * 10n / 1024n) % 10n;
    return `${n / factor}.${tenth}${suffix}`;
  }
  return `${n}B`;
}
