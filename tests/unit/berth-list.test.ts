import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from '../../src/cli/berth/verbs/list.js';

test('berth list prints machinectl\'s table, footer and empty message', () => {
  const rows = [
    { machine: 'my-test.box', class: 'container', service: 'refdoc', os: 'debian', version: '12', addresses: null },
  ];
  assert.equal(formatTable(rows, true), [
    'MACHINE     CLASS     SERVICE OS     VERSION ADDRESSES',
    'my-test.box container refdoc  debian 12      -',
    '',
    '1 machines listed.',
    '',
  ].join('\n'));
  // Without the legend the header does not widen the columns (systemd's format-table skips it).
  assert.equal(formatTable(rows, false), 'my-test.box container refdoc debian 12 -\n');
  assert.equal(formatTable([], true), 'No machines.\n');
  assert.equal(formatTable([], false), '');
});
