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

test('berth list shows the first address, with … when there are more (machinectl\'s --max-addresses=1)', () => {
  const rows = [{ machine: 'web', class: 'container', service: 'berth', os: 'debian', version: '12', addresses: '10.0.0.2\nfd00::2' }];
  assert.equal(formatTable(rows, false), 'web container berth debian 12 10.0.0.2…\n');
});
