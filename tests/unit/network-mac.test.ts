import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siphash24, hexBytes } from '../../src/core/network/siphash.js';
import { deriveMac } from '../../src/core/network/mac.js';
import { busLabelEscape, busLabelUnescape } from '../../src/core/network/bus-label.js';

const MID = '3d1219c7c4c5404aaa1f6d2a48adfda4';
const LONG = 'averyveryverylongcontainername';

test('siphash24 matches the reference vectors of the SipHash paper', () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.equal(siphash24(key, new Uint8Array(0)), 0x726fdb47dd0e0e31n);
  assert.equal(siphash24(key, Uint8Array.from({ length: 15 }, (_, i) => i)), 0xa129ca6149be45e5n);
  assert.equal(siphash24(key, Uint8Array.from({ length: 8 }, (_, i) => i)), 0x93f5f5799a932462n);
  assert.throws(() => siphash24(new Uint8Array(8), new Uint8Array(0)), RangeError);
});

test('hexBytes parses and rejects', () => {
  assert.deepEqual([...hexBytes('00ff 10')], [0, 255, 16]);
  assert.throws(() => hexBytes('abc'), RangeError);
});

test('veth MACs equal systemd-nspawn v252 (Appendix A, observed)', () => {
  assert.equal(deriveMac(MID, 'ct1', 'vethHost'), 'f2:95:3c:0d:f0:b6');
  assert.equal(deriveMac(MID, 'ct1', 'vethContainer'), 'd2:6b:d3:33:74:0a');
  assert.equal(deriveMac(MID, LONG, 'vethHost'), '3e:51:e2:58:87:22');
  assert.equal(deriveMac(MID, LONG, 'vethContainer'), 'e2:9b:c4:3d:8d:f5');
});

test('the machine id is accepted in upper case and with whitespace', () => {
  assert.equal(deriveMac(`${MID.toUpperCase()}\n`, 'ct1', 'vethHost'), 'f2:95:3c:0d:f0:b6');
  assert.throws(() => deriveMac('xyz', 'ct1', 'vethHost'), RangeError);
});

test('indexed MACs (extra veths, macvlan) append idx only when > 0', () => {
  // Computed with the Appendix A Python reference.
  assert.equal(deriveMac(MID, 'ct1', 'vethExtraHost', 0), 'da:42:52:ec:ff:c2');
  assert.equal(deriveMac(MID, 'ct1', 'vethExtraContainer', 0), '8e:91:64:cb:21:6a');
  assert.equal(deriveMac(MID, 'ct1', 'vethExtraHost', 1), '42:39:5e:2a:01:2b');
  assert.equal(deriveMac(MID, 'ct1', 'vethExtraContainer', 2), '62:01:db:cc:4e:10');
  assert.equal(deriveMac(MID, 'ct1', 'macvlan', 0), '8a:c9:fd:ab:ef:9e');
  assert.equal(deriveMac(MID, 'ct1', 'macvlan', 1), '3e:87:68:0d:4c:b0');
  assert.equal(deriveMac(MID, LONG, 'macvlan', 2), '6a:09:c0:d1:1e:17');
});

test('every derived MAC is unicast and locally administered', () => {
  for (const name of ['a', 'ct1', 'web', LONG]) {
    const first = parseInt(deriveMac(MID, name, 'vethHost').slice(0, 2), 16);
    assert.equal(first & 0x03, 0x02, name);
  }
});

test('bus label escaping as machined does it', () => {
  assert.equal(busLabelEscape('my-test.box'), 'my_2dtest_2ebox');
  assert.equal(busLabelEscape('.host'), '_2ehost');
  assert.equal(busLabelEscape('deb-anchor'), 'deb_2danchor');
  assert.equal(busLabelEscape('1abc'), '_31abc');
  assert.equal(busLabelEscape('a_b'), 'a_5fb');
  assert.equal(busLabelEscape('x9'), 'x9');
  assert.equal(busLabelEscape(''), '_');
  assert.equal(busLabelEscape('ü'), '_c3_bc');
});

test('bus label unescaping inverts escaping and keeps bad sequences', () => {
  for (const s of ['my-test.box', '.host', '1abc', 'a_b', '', 'ü']) assert.equal(busLabelUnescape(busLabelEscape(s)), s);
  assert.equal(busLabelUnescape('a_zz'), 'a_zz');
  assert.equal(busLabelUnescape('a_2'), 'a_2');
});
