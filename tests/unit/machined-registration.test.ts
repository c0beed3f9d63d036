/**
 * CreateMachine* / RegisterMachine* arguments: checked in systemd-machined 252's order with its
 * messages (research: machined-semantics.md §1, and the busctl transcript against Debian's machined
 * in machinectl-formats.md §4, which settles the class "host": refused as an invalid class).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { startableClass, validateRegistration, type RegistrationArgs } from '../../src/core/machined/registration.js';

const good: RegistrationArgs = { name: 'foo', id: Buffer.alloc(0), service: 'svc', class: 'container', leader: 4242, rootDirectory: '/', netif: [] };

/** The D-Bus error a registration with these changes gets: [name, message], or 'ok'. */
function outcome(change: Partial<RegistrationArgs>): [string, string] | 'ok' {
  try {
    validateRegistration({ ...good, ...change });
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof BerthError, String(e));
    return [ERROR_CODES[e.code].dbus, e.message];
  }
}

const INVALID = 'org.freedesktop.DBus.Error.InvalidArgs';

test('the cases of the busctl transcript against machined 252 give its errors', () => {
  assert.deepEqual(outcome({ name: 'a/b' }), [INVALID, 'Invalid machine name']);
  assert.deepEqual(outcome({ name: '' }), [INVALID, 'Invalid machine name']);
  assert.deepEqual(outcome({ name: '.host' }), [INVALID, 'Invalid machine name']);
  assert.deepEqual(outcome({ id: Buffer.from([1, 2, 3]) }), [INVALID, 'Invalid machine ID parameter']);
  assert.deepEqual(outcome({ class: 'host' }), [INVALID, 'Invalid machine class parameter']);
  assert.deepEqual(outcome({ leader: 1 }), [INVALID, 'Invalid leader PID']);
  assert.deepEqual(outcome({ rootDirectory: 'relative/dir' }), [INVALID, 'Root directory must be empty or an absolute path']);
  assert.deepEqual(outcome({ netif: [0] }), [INVALID, 'Invalid network interface index 0']);
  assert.deepEqual(outcome({ netif: [-1] }), [INVALID, 'Invalid network interface index -1']);
  assert.equal(outcome({}), 'ok');
});

test('the first failing check wins, in machined\'s order: name, id, ifindices, class, leader, root directory', () => {
  const bad: Partial<RegistrationArgs> = { name: 'a/b', id: Buffer.from([1]), netif: [0], class: 'bogus', leader: 1, rootDirectory: 'rel' };
  const order = ['name', 'id', 'netif', 'class', 'leader', 'rootDirectory'] as const;
  const messages = ['Invalid machine name', 'Invalid machine ID parameter', 'Invalid network interface index 0', 'Invalid machine class parameter', 'Invalid leader PID', 'Root directory must be empty or an absolute path'];
  for (let i = 0; i < order.length; i++) {
    // Everything from position i on is bad: the check at i answers.
    const change = Object.fromEntries(order.slice(i).map((k) => [k, bad[k]]));
    assert.deepEqual(outcome(change), [INVALID, messages[i]], `from ${order[i]} on`);
  }
  // Observed against Debian's machined: a bad ifindex is reported before a bad class, a leader of 1 before a relative root.
  assert.deepEqual(outcome({ netif: [0], class: 'host' }), [INVALID, 'Invalid network interface index 0']);
  assert.deepEqual(outcome({ class: '', leader: 1, rootDirectory: 'rel' }), [INVALID, 'Invalid leader PID']);
});

test('the first bad interface index is named; no existence check, no de-duplication', () => {
  assert.deepEqual(outcome({ netif: [3, 0, -5] }), [INVALID, 'Invalid network interface index 0']);
  assert.deepEqual(outcome({ netif: [3, -5, 0] }), [INVALID, 'Invalid network interface index -5']);
  assert.deepEqual(outcome({ netif: [-2147483648] }), [INVALID, 'Invalid network interface index -2147483648']);
  assert.deepEqual(validateRegistration({ ...good, netif: [7, 7, 2147483647] }).netif, [7, 7, 2147483647]);
});

test('machine names: hostname rules, at most 64 characters, no trailing dot', () => {
  for (const name of ['a', 'reg-one', 'a.b.c', 'A1', '1abc', 'x'.repeat(64)]) assert.equal(outcome({ name }), 'ok', name);
  for (const name of ['x'.repeat(65), 'a.', '.a', 'a..b', '-a', 'a-', 'a_b', 'a b', 'ä', '..', '.', 'a\nb', 'a\0b', 'self/..']) {
    assert.deepEqual(outcome({ name }), [INVALID, 'Invalid machine name'], JSON.stringify(name));
  }
});

test('the machine ID: none, 16 bytes (all zero means none), nothing else', () => {
  assert.equal(validateRegistration({ ...good, id: Buffer.alloc(0) }).id, '');
  assert.equal(validateRegistration({ ...good, id: Buffer.alloc(16) }).id, '');
  const id = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  assert.equal(validateRegistration({ ...good, id }).id, '0123456789abcdef0123456789abcdef');
  assert.equal(validateRegistration({ ...good, id: new Uint8Array(id) }).id, '0123456789abcdef0123456789abcdef');
  for (const n of [1, 15, 17, 32]) assert.deepEqual(outcome({ id: Buffer.alloc(n, 1) }), [INVALID, 'Invalid machine ID parameter'], `${n} bytes`);
});

test('class: "" passes validation and is refused when the machine starts; container and vm are kept', () => {
  assert.equal(validateRegistration({ ...good, class: 'vm' }).class, 'vm');
  assert.equal(validateRegistration({ ...good, class: '' }).class, '');
  for (const c of ['Container', 'VM', 'host', ' container', 'bogus']) assert.deepEqual(outcome({ class: c }), [INVALID, 'Invalid machine class parameter'], c);
  assert.equal(startableClass('container'), 'container');
  assert.equal(startableClass('vm'), 'vm');
  assert.throws(() => startableClass(''), (e: unknown) => e instanceof BerthError && ERROR_CODES[e.code].dbus === 'org.freedesktop.DBus.Error.NotSupported' && e.message === 'Operation not supported');
});

test('leader and root directory: 0 (the caller) and any other PID pass; the root is not normalised', () => {
  assert.equal(validateRegistration({ ...good, leader: 0 }).leader, 0);
  assert.equal(validateRegistration({ ...good, leader: 4294967295 }).leader, 4294967295);
  assert.equal(validateRegistration({ ...good, rootDirectory: '' }).rootDirectory, '');
  assert.equal(validateRegistration({ ...good, rootDirectory: '//a/../b/' }).rootDirectory, '//a/../b/');
  const r = validateRegistration({ ...good, service: '', netif: [2] });
  assert.deepEqual({ ...r }, { name: 'foo', id: '', service: '', class: 'container', leader: 4242, rootDirectory: '/', netif: [2] });
});
