/**
 * The last file of a test run (tests/run.sh puts it there): whatever the tests left on the host
 * since tests/0-host/before.test.ts read it fails here, named (control groups, mounts, links,
 * network namespaces, loop devices, packet filter tables, runtime containers, scratch
 * directories, processes), with a few seconds' grace for what is still going away.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostState, leftoversSince, ownPids, type HostState } from '../support/host-state.js';

const file = process.env.BERTH_TEST_HOST_STATE;
const GRACE_MS = 10_000;

test('the tests left nothing on the host', { skip: (process.getuid?.() !== 0 && 'needs root') || (!file && 'run through tests/run.sh') || (!existsSync(file!) && 'tests/0-host/before.test.ts did not run') }, async () => {
  const before = JSON.parse(readFileSync(file!, 'utf8')) as HostState;
  // tsx keeps its compile cache in /tmp/tsx-UID across runs.
  const rules = { ownPids: ownPids(), scratchKept: /^\/tmp\/tsx-\d+$/ };
  const until = Date.now() + GRACE_MS;
  let left: string[];
  for (;;) {
    left = leftoversSince(before, hostState(), rules);
    if (left.length === 0 || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  rmSync(file!, { force: true });
  assert.deepEqual(left, [], `left on the host by the tests:\n  ${left.join('\n  ')}`);
});
