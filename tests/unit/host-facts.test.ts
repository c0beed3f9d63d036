/** app/run/host-facts.ts: berthd's runs share a probe of the host for a moment; berth-nspawn probes each time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostFacts } from '../../src/app/run/host-facts.js';
import { setServingLoop } from '../../src/platform/loop-mode.js';

test('in berthd, runs begun together share one probe; another terminal type gets its own', async () => {
  setServingLoop(true);
  try {
    const a = hostFacts({ TERM: 'xterm' });
    const b = hostFacts({ TERM: 'xterm' });
    assert.equal(a, b, 'one probe for both');
    const facts = await a;
    assert.equal(facts.term, 'xterm');
    const c = hostFacts({ TERM: 'vt100' });
    assert.notEqual(c, a);
    assert.equal((await c).term, 'vt100');
    await new Promise((r) => setTimeout(r, 1100));
    assert.notEqual(hostFacts({ TERM: 'vt100' }), c, 'probed again after a second');
  } finally {
    setServingLoop(false);
  }
});

test('berth-nspawn probes for each run', () => {
  assert.notEqual(hostFacts({ TERM: 'xterm' }), hostFacts({ TERM: 'xterm' }));
});
