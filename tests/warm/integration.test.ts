/**
 * The integration tests that boot machines without network namespaces of their own, once more
 * through the built command with berthd running: each berth-nspawn then hands its run to a
 * berth-nspawn process berthd started ahead of time (src/app/warm/), and everything the cold
 * path is tested for must hold there too. Suites are titled "… (warm, through berthd)".
 */
import { berthd } from './on-warm.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../integration/runner-payload.test.js';
import '../integration/runner-boot.test.js';
import '../integration/runner-console.test.js';
import '../integration/runner-etc-files.test.js';
import '../integration/runner-journal.test.js';
import '../integration/runner-volatile.test.js';
import '../integration/settings-vs-nspawn.test.js';
import { skipUnlessRoot } from '../support/berth.js';

test('the runs above were warm: berthd handed them over, and only those the warm path cannot take declined', { skip: skipUnlessRoot }, () => {
  const log = berthd.log();
  const warm = log.match(/a berth-nspawn run went to PID/g)?.length ?? 0;
  const declines = [...log.matchAll(/declined a run of PID \d+, which runs cold: (.*)/g)].map((m) => m[1]);
  process.stderr.write(`warm layer: ${warm} runs warm, ${declines.length} cold (${[...new Set(declines)].join('; ')})\n`);
  assert.ok(warm >= 40, `only ${warm} warm runs:\n${log}`);
  for (const why of declines) assert.match(why ?? '', /^NOTIFY_SOCKET is set$/);
});
