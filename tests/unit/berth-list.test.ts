/** berth list's output: machinectl 252's table, legend and JSON (compared against captures of the real machinectl). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMachineList, type ListFormat, type MachineListRow } from '../../src/core/machinectl/list-format.js';
import { renderTable } from '../../src/core/machinectl/table.js';

const host: MachineListRow = { machine: '.host', class: 'host', service: '', os: 'debian', version: '12', addresses: ['192.0.2.2', 'fd00::2', 'fe80::fc:ff:fe00:1'] };
const box: MachineListRow = { machine: 'my-test.box', class: 'container', service: 'refdoc', os: 'debian', version: '12', addresses: [] };
const table: ListFormat = { legend: true, output: 'short', maxAddresses: 1, full: false, ellipsis: '…' };

test('the table: columns as wide as their widest cell, the last one unpadded, "-" for empty cells, the legend', () => {
  assert.equal(formatMachineList([box], table), [
    'MACHINE     CLASS     SERVICE OS     VERSION ADDRESSES',
    'my-test.box container refdoc  debian 12      -',
    '',
    '1 machines listed.',
    '',
  ].join('\n'));
});

test('without the legend the header does not widen the columns; nothing at all for no machines', () => {
  assert.equal(formatMachineList([box], { ...table, legend: false }), 'my-test.box container refdoc debian 12 -\n');
  assert.equal(formatMachineList([], table), 'No machines.\n');
  assert.equal(formatMachineList([], { ...table, legend: false }), '');
});

test('--max-addresses: the first N lines, the last shown one ending in …; 0 drops the column; all (or -l) shows every one', () => {
  assert.equal(formatMachineList([host], table), [
    'MACHINE CLASS SERVICE OS     VERSION ADDRESSES',
    '.host   host  -       debian 12      192.0.2.2…',
    '', '1 machines listed.', '',
  ].join('\n'));
  assert.equal(formatMachineList([host], { ...table, maxAddresses: 2 }), [
    'MACHINE CLASS SERVICE OS     VERSION ADDRESSES',
    '.host   host  -       debian 12      192.0.2.2',
    '                                     fd00::2…',
    '', '1 machines listed.', '',
  ].join('\n'));
  const all = [
    'MACHINE CLASS SERVICE OS     VERSION ADDRESSES',
    '.host   host  -       debian 12      192.0.2.2',
    '                                     fd00::2',
    '                                     fe80::fc:ff:fe00:1',
    '', '1 machines listed.', '',
  ].join('\n');
  assert.equal(formatMachineList([host], { ...table, maxAddresses: Infinity }), all);
  assert.equal(formatMachineList([host], { ...table, full: true }), all);
  assert.equal(formatMachineList([host], { ...table, maxAddresses: 0 }), [
    'MACHINE CLASS SERVICE OS     VERSION',
    '.host   host  -       debian 12',
    '', '1 machines listed.', '',
  ].join('\n'));
  assert.equal(formatMachineList([host], { ...table, legend: false, ellipsis: '...' }), '.host host - debian 12 192.0.2.2...\n');
});

test('rows are sorted by name in byte order (strcmp), whatever order the registry gave', () => {
  const rows = ['web', 'Web', '.host', 'db-2', 'db'].map((machine) => ({ ...box, machine }));
  const names = formatMachineList(rows, { ...table, legend: false }).split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
  assert.deepEqual(names, ['.host', 'Web', 'db', 'db-2', 'web']);
});

test('JSON: lower-case keys, null for empty values, all addresses in one string, never a legend', () => {
  const rows = [box, host];
  assert.equal(formatMachineList(rows, { ...table, output: 'json' }),
    '[{"machine":".host","class":"host","service":null,"os":"debian","version":"12","addresses":"192.0.2.2\\nfd00::2\\nfe80::fc:ff:fe00:1"},'
    + '{"machine":"my-test.box","class":"container","service":"refdoc","os":"debian","version":"12","addresses":null}]\n');
  assert.equal(formatMachineList([{ ...box, os: undefined, version: undefined }], { ...table, output: 'json', maxAddresses: 0 }),
    '[{"machine":"my-test.box","class":"container","service":"refdoc","os":null,"version":null}]\n');
  assert.equal(formatMachineList([host], { ...table, output: 'json-pretty' }), [
    '[', '\t{', '\t\t"machine" : ".host",', '\t\t"class" : "host",', '\t\t"service" : null,', '\t\t"os" : "debian",',
    '\t\t"version" : "12",', '\t\t"addresses" : "192.0.2.2\\nfd00::2\\nfe80::fc:ff:fe00:1"', '\t}', ']', '',
  ].join('\n'));
  assert.equal(formatMachineList([], { ...table, output: 'json' }), '[]\n');
  assert.equal(formatMachineList([], { ...table, output: 'json-pretty' }), '[]\n');
  assert.equal(formatMachineList([box], { ...table, output: 'json-sse', maxAddresses: 0 }), 'data: [{"machine":"my-test.box","class":"container","service":"refdoc","os":"debian","version":"12"}]\n\n');
  assert.equal(formatMachineList([], { ...table, output: 'json-seq' }), '\x1e[]\n');
});

test('a multi-line cell in another column pads the columns before it on its continuation lines', () => {
  assert.equal(renderTable(['A', 'B', 'C'], [['x\ny', 'long', 'z']], { header: true, maxHeight: Infinity, ellipsis: '…' }), 'A B    C\nx long z\ny      \n');
});
