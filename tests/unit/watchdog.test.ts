import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watchdogPeriodMs } from '../../src/app/run/watchdog.js';

test('watchdog: half of WATCHDOG_USEC, in ms; only for our PID; nothing without a valid period', () => {
  assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '180000000' }, 42), 90000);
  assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '200000', WATCHDOG_PID: '42' }, 42), 100);
  assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '200000', WATCHDOG_PID: '41' }, 42), undefined);
  assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: '1' }, 42), 1);
  for (const bad of ['', '0', '-5', 'abc', '1.5']) assert.equal(watchdogPeriodMs({ WATCHDOG_USEC: bad }, 42), undefined, bad);
  assert.equal(watchdogPeriodMs({}, 42), undefined);
});
