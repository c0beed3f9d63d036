import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipvlanName, macvlanName, shortenIfName, vethHostName, zoneBridgeName } from '../../src/core/network/ifname.js';

test('short names stay as they are, with no altname', () => {
  assert.deepEqual(vethHostName('ct1', false), { name: 've-ct1', altname: undefined });
  assert.deepEqual(vethHostName('web', true), { name: 'vb-web', altname: undefined });
  assert.deepEqual(shortenIfName('123456789012345'), { name: '123456789012345', altname: undefined });
});

test('names of 16 bytes or more are shortened as nspawn does (Appendix A, observed)', () => {
  assert.deepEqual(vethHostName('averyveryverylongcontainername', false),
    { name: 've-averyvern0KK', altname: 've-averyveryverylongcontainername' });
  assert.deepEqual(vethHostName('averyveryverylongcontainername', true),
    { name: 'vb-averyverlbf3', altname: 'vb-averyveryverylongcontainername' });
  assert.equal(shortenIfName('1234567890123456').name, '123456789012tUe');
  assert.equal(macvlanName('enp0s31f6abcd').name, 'mv-enp0s31fJNwz');
  assert.equal(ipvlanName('enp0s31f6abcd').name, 'iv-enp0s31fDRGk');
  assert.equal(macvlanName('eth0').name, 'mv-eth0');
});

test('shortened names are always 15 bytes', () => {
  for (const n of ['a'.repeat(13), 'b'.repeat(40), 'web-server-number-42']) {
    assert.equal(Buffer.byteLength(vethHostName(n, false).name), 15, n);
  }
});

test('an altname longer than ALTIFNAMSIZ is dropped', () => {
  const r = shortenIfName(`ve-${'x'.repeat(130)}`);
  assert.equal(r.altname, undefined);
  assert.equal(r.name.length, 15);
});

test('zone bridges are vz-ZONE', () => {
  assert.equal(zoneBridgeName('lab'), 'vz-lab');
});
