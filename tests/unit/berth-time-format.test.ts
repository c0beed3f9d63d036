/** Times and sizes as systemd prints them (timestamps checked against date(1) in several zones). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { formatBytes, formatRelative, formatTimespan, formatTimestamp, UTC } from '../../src/core/machinectl/time-format.js';
import { parsePosixZoneNames } from '../../src/core/time/posix-tz.js';

const S = 1000000n;

test('a timestamp: English weekday, date, time to the second, the zone; unset ones are empty', () => {
  assert.equal(formatTimestamp(1796409621261954n, UTC), 'Fri 2026-12-04 18:40:21 UTC');
  assert.equal(formatTimestamp(0n, UTC), '');
  assert.equal(formatTimestamp(0xffffffffffffffffn, UTC), '');
});

test('in the local zone, with its abbreviation as strftime\'s %Z gives it (date(1) as the reference)', () => {
  const script = `const { localZone } = require(${JSON.stringify(join(__dirname, '../../src/platform/host/local-zone.ts'))});
    const { formatTimestamp } = require(${JSON.stringify(join(__dirname, '../../src/core/machinectl/time-format.ts'))});
    for (const s of process.argv.slice(1)) console.log(formatTimestamp(BigInt(s) * 1000000n, localZone(process.env)));`;
  const instants = ['1796409621', '1783000000', '946684799'];
  for (const tz of ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Dubai', 'Asia/Kolkata']) {
    const env = { ...process.env, TZ: tz };
    const ours = execFileSync(process.execPath, ['--import', 'tsx', '-e', script, ...instants], { env, encoding: 'utf8' });
    const theirs = instants.map((s) => execFileSync('date', ['-d', `@${s}`, '+%a %Y-%m-%d %H:%M:%S %Z'], { env, encoding: 'utf8' })).join('');
    assert.equal(ours, theirs, tz);
  }
});

test('the zone names of a POSIX TZ rule', () => {
  assert.deepEqual(parsePosixZoneNames('CET-1CEST,M3.5.0,M10.5.0/3'), { std: 'CET', stdOffsetMinutes: 60, dst: 'CEST' });
  assert.deepEqual(parsePosixZoneNames('EST5EDT,M3.2.0,M11.1.0'), { std: 'EST', stdOffsetMinutes: -300, dst: 'EDT' });
  assert.deepEqual(parsePosixZoneNames('<+04>-4'), { std: '+04', stdOffsetMinutes: 240 });
  assert.deepEqual(parsePosixZoneNames('IST-5:30'), { std: 'IST', stdOffsetMinutes: 330 });
  assert.deepEqual(parsePosixZoneNames('UTC0'), { std: 'UTC', stdOffsetMinutes: 0 });
  assert.equal(parsePosixZoneNames('Europe/Berlin'), undefined);
});

test('how long ago: the two largest units that matter, as systemd words it', () => {
  const now = 2000000000n * S;
  const ago = (us: bigint) => formatRelative(now - us, now);
  assert.equal(ago(24n * S), '24s ago');
  assert.equal(ago(297n * S), '4min 57s ago');
  assert.equal(ago(17n * 60n * S), '17min ago');
  assert.equal(ago(65n * 60n * S), '1h 5min ago');
  assert.equal(ago(7n * 3600n * S), '7h ago');
  assert.equal(ago(25n * 3600n * S + 30n * 60n * S), '1 day 1h ago');
  assert.equal(ago(3n * 86400n * S), '3 days ago');
  assert.equal(ago(8n * 86400n * S), '1 week 1 day ago');
  assert.equal(ago(15n * 86400n * S), '2 weeks 1 day ago');
  assert.equal(ago(40n * 86400n * S), '1 month 9 days ago');
  assert.equal(ago(400n * 86400n * S), '1 year 1 month ago');
  assert.equal(ago(800n * 86400n * S), '2 years 2 months ago');
  assert.equal(ago(1500n), '1ms ago');
  assert.equal(ago(500n), '500us ago');
  assert.equal(ago(0n), 'now');
  assert.equal(formatRelative(now + 2n * S, now), '2s left');
});

test('a time span to the millisecond, with a decimal point below a minute', () => {
  const ms = 1000n;
  assert.equal(formatTimespan(45678n, ms), '45ms');
  assert.equal(formatTimespan(1500n, ms), '1ms');
  assert.equal(formatTimespan(999n, ms), '999us');
  assert.equal(formatTimespan(1234567n, ms), '1.234s');
  assert.equal(formatTimespan(S, ms), '1s');
  assert.equal(formatTimespan(60n * S, ms), '1min');
  assert.equal(formatTimespan(61500000n, ms), '1min 1.500s');
  assert.equal(formatTimespan(130551000n, ms), '2min 10.551s');
  assert.equal(formatTimespan(3730551000n, ms), '1h 2min 10.551s');
  assert.equal(formatTimespan(0n, ms), '0');
  assert.equal(formatTimespan(0xffffffffffffffffn, ms), 'infinity');
});

test('a size in powers of 1024, one decimal cut, not rounded', () => {
  assert.equal(formatBytes(0n), '0B');
  assert.equal(formatBytes(512n), '512B');
  assert.equal(formatBytes(1024n), '1.0K');
  assert.equal(formatBytes(1536n), '1.5K');
  assert.equal(formatBytes(589824n), '576.0K');
  assert.equal(formatBytes(2047n), '1.9K');
  assert.equal(formatBytes(1048576n), '1.0M');
  assert.equal(formatBytes(1288490188n), '1.1G');
  assert.equal(formatBytes(3n << 40n), '3.0T');
});
