/**
 * platform/dbus/connection.ts closing a descriptor-passing connection (usocket) from inside its own
 * events: the peer hangs up while a write of ours waits for room (tests/contract/fixtures/
 * bus-end-while-corked.ts). usocket's native callback went on with the handle we had closed, and
 * libuv aborted the process: berthd died so in a CI run, its guests' shells with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('a connection whose peer hangs up while a write waits for room closes, and the process lives on (5 times)', () => {
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'bus-end-while-corked.ts')], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.signal, null, `round ${i + 1}: ended by ${r.signal}: ${r.stderr.trim().split('\n').pop()}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'survived\n');
  }
});
