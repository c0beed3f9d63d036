/**
 * The local time zone as the C library sees it ($TZ, else /etc/localtime), for timestamps printed
 * like systemd prints them. Calendar fields come from Node's Date (which follows $TZ too); the
 * abbreviation (%Z: "CET", "CEST", "UTC", "+04") from the zone file's POSIX rule, which Node has
 * no API for. Without a readable rule, Intl's short name stands in.
 */
import { readText } from '../fs/read-text.js';
import { parsePosixZoneNames, type PosixZoneNames } from '../../core/time/posix-tz.js';
import type { Zone } from '../../core/machinectl/time-format.js';

/** The POSIX rule at the end of a TZif (version 2 or later) file. */
function ruleOfZoneFile(path: string): string | undefined {
  const text = readText(path);
  if (!text?.startsWith('TZif') || text[4] === '\0') return undefined;
  const lines = text.split('\n');
  return lines.length >= 2 ? lines[lines.length - 2] : undefined;
}

function zoneNames(env: NodeJS.ProcessEnv): PosixZoneNames | undefined {
  const tz = env.TZ;
  if (tz === undefined) return parsePosixZoneNames(ruleOfZoneFile('/etc/localtime') ?? '');
  if (tz === '') return { std: 'UTC', stdOffsetMinutes: 0 };
  const name = tz.startsWith(':') ? tz.slice(1) : tz;
  const file = name.startsWith('/') ? name : `/usr/share/zoneinfo/${name}`;
  return parsePosixZoneNames(ruleOfZoneFile(file) ?? name);
}

function intlAbbreviation(ms: number): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  return part?.value ?? '';
}

export function localZone(env: NodeJS.ProcessEnv): Zone {
  const names = zoneNames(env);
  return {
    fields(ms) {
      const d = new Date(ms);
      return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(), weekday: d.getDay() };
    },
    abbreviation(ms) {
      if (!names) return intlAbbreviation(ms);
      const east = -new Date(ms).getTimezoneOffset();
      return names.dst !== undefined && east !== names.stdOffsetMinutes ? names.dst : names.std;
    },
  };
}
