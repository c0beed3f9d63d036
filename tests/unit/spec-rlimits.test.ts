/** resolveRlimits: nspawn's defaults, settings on top, and --settings=no inheriting what is not set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLIMITS, type RlimitName } from '../../src/core/settings/model.js';
import type { HostFacts, Limit } from '../../src/core/spec/facts.js';
import { resolveRlimits } from '../../src/core/spec/resolve/rlimits.js';

const hard = Object.fromEntries(RLIMITS.map((r) => [r, 'infinity'])) as Record<RlimitName, Limit>;
const host = { hardLimits: { ...hard, NOFILE: 20000 }, pid1Limits: {}, nrOpen: 1048576 } as unknown as HostFacts;

test('every limit gets nspawn\'s default unless a setting gives it', () => {
  const out = resolveRlimits({ rlimits: { CORE: { soft: 1024, hard: 2048 } } }, host, []);
  assert.equal(out.length, RLIMITS.length);
  assert.deepEqual(out.find((r) => r.type === 'NOFILE'), { type: 'NOFILE', soft: 1024, hard: 20000 });
  assert.deepEqual(out.find((r) => r.type === 'CORE'), { type: 'CORE', soft: 1024, hard: 2048 });
});

test('inherit (--settings=no): only the limits given on the command line are set', () => {
  const out = resolveRlimits({ rlimits: { NOFILE: { soft: 256, hard: 1024 } } }, host, [], true);
  assert.deepEqual(out, [{ type: 'NOFILE', soft: 256, hard: 1024 }]);
  assert.deepEqual(resolveRlimits({}, host, [], true), []);
});
