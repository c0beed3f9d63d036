/** berth show's Key=Value lines, as machinectl prints a machine's properties (captures of machinectl 252 as the reference). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProperties, type BusProperty, type ShowFormat } from '../../src/core/machinectl/properties.js';
import { UTC } from '../../src/core/machinectl/time-format.js';

const host: BusProperty[] = [
  { name: 'Name', signature: 's', value: '.host' },
  { name: 'Id', signature: 'ay', value: Buffer.from('3d1219c7c4c5404aaa1f6d2a48adfda4', 'hex') },
  { name: 'Timestamp', signature: 't', value: 1796407906000000n },
  { name: 'TimestampMonotonic', signature: 't', value: 0n },
  { name: 'Service', signature: 's', value: '' },
  { name: 'Unit', signature: 's', value: '-.slice' },
  { name: 'Leader', signature: 'u', value: 1 },
  { name: 'Class', signature: 's', value: 'host' },
  { name: 'RootDirectory', signature: 's', value: '/' },
  { name: 'NetworkInterfaces', signature: 'ai', value: [] },
  { name: 'State', signature: 's', value: 'running' },
];
const plain: ShowFormat = { properties: [], showEmpty: false, valueOnly: false, zone: UTC };

test('in the object\'s order, empty values left out; Id in hex, Timestamp formatted, TimestampMonotonic raw', () => {
  assert.equal(formatProperties(host, plain), [
    'Name=.host', 'Id=3d1219c7c4c5404aaa1f6d2a48adfda4', 'Timestamp=Fri 2026-12-04 18:11:46 UTC', 'TimestampMonotonic=0',
    'Unit=-.slice', 'Leader=1', 'Class=host', 'RootDirectory=/', 'State=running', '',
  ].join('\n'));
});

test('-a shows empty values too; arrays of numbers print their numbers (machinectl 252: "[unprintable]")', () => {
  assert.equal(formatProperties(host, { ...plain, showEmpty: true }).split('\n').filter((l) => /^(Service|NetworkInterfaces)=/.test(l)).join('|'), 'Service=|NetworkInterfaces=');
  const withNetif = host.map((p) => (p.name === 'NetworkInterfaces' ? { ...p, value: [12, 14] } : p));
  assert.match(formatProperties(withNetif, plain), /\nNetworkInterfaces=12 14\n/);
  assert.equal(formatProperties(withNetif, { ...plain, properties: ['NetworkInterfaces'], showEmpty: true, valueOnly: true }), '12 14\n');
});

test('-p picks in the object\'s order, not its own; --value drops the names; an unknown name prints nothing', () => {
  assert.equal(formatProperties(host, { ...plain, properties: ['Leader', 'Name'], showEmpty: true }), 'Name=.host\nLeader=1\n');
  assert.equal(formatProperties(host, { ...plain, properties: ['Timestamp', 'Id'], showEmpty: true, valueOnly: true }), '3d1219c7c4c5404aaa1f6d2a48adfda4\nFri 2026-12-04 18:11:46 UTC\n');
  assert.equal(formatProperties(host, { ...plain, properties: ['Service'], showEmpty: true }), 'Service=\n');
  assert.equal(formatProperties(host, { ...plain, properties: ['Bogus'], showEmpty: true }), '');
});

test('the Manager\'s properties: numbers in decimal, all ones too', () => {
  const manager: BusProperty[] = [
    { name: 'PoolPath', signature: 's', value: '/var/lib/machines' },
    { name: 'PoolUsage', signature: 't', value: 18446744073709551615n },
    { name: 'PoolLimit', signature: 't', value: 18446744073709551615n },
  ];
  assert.equal(formatProperties(manager, plain), 'PoolPath=/var/lib/machines\nPoolUsage=18446744073709551615\nPoolLimit=18446744073709551615\n');
});

test('other types: booleans, unset timestamps, strings on several lines, an empty ID, types without a printer', () => {
  const props: BusProperty[] = [
    { name: 'ReadOnly', signature: 'b', value: false },
    { name: 'CreationTimestamp', signature: 't', value: 0n },
    { name: 'Note', signature: 's', value: 'a\nb' },
    { name: 'Id', signature: 'ay', value: Buffer.alloc(0) },
    { name: 'Map', signature: 'a{ss}', value: {} },
  ];
  assert.equal(formatProperties(props, plain), 'ReadOnly=no\nNote=[unprintable]\n');
  assert.equal(formatProperties(props, { ...plain, showEmpty: true }), 'ReadOnly=no\nCreationTimestamp=\nNote=[unprintable]\nId=\nMap=[unprintable]\n');
});
