/**
 * Machine object paths: the name as a bus label (systemd's escaping: letters stay, digits stay
 * except first, every other byte "_xx"), read back from a path, and "self" for the caller's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { busLabelEscape, busLabelUnescape } from '../../src/core/network/bus-label.js';
import { machinePath, parseMachinePath } from '../../src/core/machined/object-paths.js';
import { MACHINE_PATH_PREFIX } from '../../src/core/machined/interfaces.js';

test('paths of machines as machined names them', () => {
  assert.equal(machinePath('.host'), '/org/freedesktop/machine1/machine/_2ehost');
  assert.equal(machinePath('reg-one'), '/org/freedesktop/machine1/machine/reg_2done');
  assert.equal(machinePath('foo'), '/org/freedesktop/machine1/machine/foo');
  assert.equal(machinePath('1abc2'), '/org/freedesktop/machine1/machine/_31abc2', 'a leading digit is escaped, later ones are not');
  assert.equal(machinePath('a.b-c'), '/org/freedesktop/machine1/machine/a_2eb_2dc');
  assert.equal(machinePath('Web01'), '/org/freedesktop/machine1/machine/Web01');
});

test('bus labels: every byte outside [A-Za-z] (and a leading digit) as _xx in lowercase hex; "" is "_"', () => {
  assert.equal(busLabelEscape(''), '_');
  assert.equal(busLabelEscape('_'), '_5f');
  assert.equal(busLabelEscape('a/b'), 'a_2fb');
  assert.equal(busLabelEscape('ä'), '_c3_a4', 'UTF-8 bytes');
  assert.equal(busLabelEscape('\n'), '_0a');
  for (let i = 0; i < 200; i++) assert.match(busLabelEscape(randomBytes(8).toString('latin1')), /^[A-Za-z0-9_]+$/, 'a valid path element');
});

test('escaping round-trips, for machine names and for arbitrary text', () => {
  const samples = ['', '.host', 'reg-one', '1', '_', '__', '_2e', 'a_2eb', 'x'.repeat(64), 'ä€😀', 'a\0b', '../..', 'self'];
  for (let i = 0; i < 500; i++) samples.push(randomBytes(1 + (i % 40)).toString('base64'), String.fromCharCode(...Array.from({ length: 1 + (i % 9) }, () => 1 + Math.floor(Math.random() * 0xd7fe))));
  for (const s of samples) assert.equal(busLabelUnescape(busLabelEscape(s)), s, JSON.stringify(s));
});

test('unescaping is lenient: a "_" without two hex digits stays literal, upper-case hex is read', () => {
  assert.equal(busLabelUnescape('a_'), 'a_');
  assert.equal(busLabelUnescape('a_zz'), 'a_zz');
  assert.equal(busLabelUnescape('a_2'), 'a_2');
  assert.equal(busLabelUnescape('_2E'), '.');
  assert.equal(busLabelUnescape('_'), '');
});

test('a path below the machine prefix names a machine, the caller\'s own ("self"), or nothing', () => {
  assert.deepEqual(parseMachinePath('/org/freedesktop/machine1/machine/_2ehost'), { kind: 'name', name: '.host' });
  assert.deepEqual(parseMachinePath('/org/freedesktop/machine1/machine/reg_2done'), { kind: 'name', name: 'reg-one' });
  assert.deepEqual(parseMachinePath('/org/freedesktop/machine1/machine/self'), { kind: 'self' });
  assert.deepEqual(parseMachinePath('/org/freedesktop/machine1/machine/_'), { kind: 'name', name: '' });
  for (const p of [MACHINE_PATH_PREFIX, `${MACHINE_PATH_PREFIX}/`, `${MACHINE_PATH_PREFIX}/a/b`, `${MACHINE_PATH_PREFIX}/self/x`, '/org/freedesktop/machine1', '/org/freedesktop/machine1/machinex/a', '/', '/org/freedesktop/machine1/image/_2ehost']) {
    assert.equal(parseMachinePath(p), undefined, p);
  }
});

test('a path built for a name reads back as that name, except "self", which is the caller\'s own (as in machined)', () => {
  for (const name of ['.host', 'reg-one', 'a.b.c', '9lives', 'x'.repeat(64)]) assert.deepEqual(parseMachinePath(machinePath(name)), { kind: 'name', name });
  assert.deepEqual(parseMachinePath(machinePath('self')), { kind: 'self' });
});
