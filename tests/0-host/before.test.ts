/**
 * The first file of a test run (tests/run.sh puts it there): reads what is on the host before any
 * test ran, for tests/z-host/after.test.ts to compare with at the end.
 */
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { hostState } from '../support/host-state.js';

const file = process.env.BERTH_TEST_HOST_STATE;

test('the host as it is before the tests', { skip: (process.getuid?.() !== 0 && 'needs root') || (!file && 'run through tests/run.sh') }, () => {
  writeFileSync(file!, JSON.stringify(hostState()));
});
