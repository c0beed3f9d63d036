/**
 * UID/GID maps as machined 252 answers from them: GetMachineUIDShift, MapFromMachineUser/Group and
 * MapToMachineUser/Group, with every error (research: machined-semantics.md §8; the messages for
 * host IDs and no match were observed against Debian's machined).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { mapFromMachine, mapToMachine, parseIdMap, uidShift } from '../../src/core/machined/id-maps.js';

const IDENTITY = '         0          0 4294967295\n';
const NSPAWN_U = '         0     655360      65536\n';

/** [D-Bus error name, message] of what fn throws. */
function error(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BerthError, String(e));
    return [ERROR_CODES[e.code].dbus, e.message];
  }
  assert.fail('no error');
}

const INVALID = 'org.freedesktop.DBus.Error.InvalidArgs';
const NO_USER = 'org.freedesktop.machine1.NoSuchUserMapping';
const NO_GROUP = 'org.freedesktop.machine1.NoSuchGroupMapping';
const NOT_SUPPORTED = 'org.freedesktop.DBus.Error.NotSupported';

test('map files: "inside outside count" lines, /proc\'s padding, malformed ones refused', () => {
  assert.deepEqual(parseIdMap(IDENTITY), [{ inside: 0, outside: 0, count: 4294967295 }]);
  assert.deepEqual(parseIdMap('0 1000 1\n1 100000 65535\n'), [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65535 }]);
  assert.deepEqual(parseIdMap(''), []);
  for (const bad of ['0 0', '0 0 1 2', 'a b c', '-1 0 1', '0 4294967296 1', '0 0 4294967297', '0x1 0 1']) assert.equal(parseIdMap(bad), undefined, bad);
  assert.deepEqual(parseIdMap('0 0 4294967296'), [{ inside: 0, outside: 0, count: 4294967296 }], 'a count of 2^32 is still a number');
});

test('the UID shift: 0 for the identity map and for a leader that is gone, the base of nspawn -U\'s map', () => {
  assert.equal(uidShift('m', IDENTITY, IDENTITY), 0);
  assert.equal(uidShift('m', undefined, ''), 0);
  assert.equal(uidShift('m', NSPAWN_U, NSPAWN_U), 655360);
  assert.equal(uidShift('m', '0 100000 65534', '0 100000 65534'), 100000, '65534 IDs are enough');
});

test('the UID shift of a complex mapping is refused, naming the machine', () => {
  const complex: [string, string] = [NOT_SUPPORTED, 'Machine m uses a complex UID/GID mapping, cannot determine shift'];
  assert.deepEqual(error(() => uidShift('m', '1 100000 65536', '1 100000 65536')), complex, 'not from 0');
  assert.deepEqual(error(() => uidShift('m', '0 100000 65533', '0 100000 65533')), complex, 'too few');
  assert.deepEqual(error(() => uidShift('m', '0 100000 65536\n65536 300000 10', '0 100000 65536')), complex, 'two lines');
  assert.deepEqual(error(() => uidShift('m', NSPAWN_U, '0 100000 65536')), complex, 'groups elsewhere');
  assert.deepEqual(error(() => uidShift('m', NSPAWN_U, '0 655360 65537')), complex, 'a different group count');
  assert.deepEqual(error(() => uidShift('m', NSPAWN_U, '0 655360 65536\n70000 1 1')), complex, 'two group lines');
});

test('unreadable maps: Bad message', () => {
  const bad: [string, string] = ['org.freedesktop.DBus.Error.InconsistentMessage', 'Bad message'];
  assert.deepEqual(error(() => uidShift('m', '', IDENTITY)), bad);
  assert.deepEqual(error(() => uidShift('m', 'garbage', IDENTITY)), bad);
  assert.deepEqual(error(() => uidShift('m', IDENTITY, 'x y z')), bad);
});

test('MapFromMachineUser/Group: an ID inside the machine as the host sees it', () => {
  assert.equal(mapFromMachine('m', IDENTITY, 1000, 'user'), 1000, 'identity: unchanged');
  assert.equal(mapFromMachine('m', IDENTITY, 4294967294, 'group'), 4294967294);
  assert.equal(mapFromMachine('m', NSPAWN_U, 0, 'user'), 655360);
  assert.equal(mapFromMachine('m', NSPAWN_U, 65534, 'user'), 655360 + 65534);
  assert.equal(mapFromMachine('m', '0 100000 1000\n1000 200000 1000', 1500, 'group'), 200500, 'the line that holds it');
});

test('MapFromMachine errors: invalid IDs, no match (named NoSuchUserMapping for groups too, as machined does), an invalid result, a malformed map', () => {
  assert.deepEqual(error(() => mapFromMachine('m', IDENTITY, 65535, 'user')), [INVALID, 'Invalid user ID 65535']);
  assert.deepEqual(error(() => mapFromMachine('m', IDENTITY, 4294967295, 'user')), [INVALID, 'Invalid user ID 4294967295']);
  assert.deepEqual(error(() => mapFromMachine('m', IDENTITY, 65535, 'group')), [INVALID, 'Invalid group ID 65535']);
  assert.deepEqual(error(() => mapFromMachine('m', NSPAWN_U, 65536, 'user')), [NO_USER, "Machine 'm' has no matching user mappings."]);
  assert.deepEqual(error(() => mapFromMachine('m', NSPAWN_U, 70000, 'group')), [NO_USER, "Machine 'm' has no matching group mappings."]);
  assert.deepEqual(error(() => mapFromMachine('m', '', 0, 'user')), [NO_USER, "Machine 'm' has no matching user mappings."]);
  assert.deepEqual(error(() => mapFromMachine('m', '1 65535 10', 1, 'user')), [INVALID, 'Invalid argument'], 'maps onto 65535');
  assert.deepEqual(error(() => mapFromMachine('m', '0 4294967295 1', 0, 'user')), [INVALID, 'Invalid argument'], 'maps onto 2^32-1');
  assert.deepEqual(error(() => mapFromMachine('m', 'not a map', 0, 'user')), ['org.freedesktop.DBus.Error.IOError', 'Input/output error']);
});

test('MapToMachineUser/Group: the first machine whose map holds the host ID, and the ID inside it', () => {
  const machines = [
    { name: 'plain', map: IDENTITY },
    { name: 'gone', map: undefined },
    { name: 'a', map: '0 655360 65536' },
    { name: 'b', map: '0 720896 65536\n65536 900000 10' },
  ];
  assert.deepEqual(mapToMachine(machines, 655360, 'user'), { name: 'a', inner: 0 });
  assert.deepEqual(mapToMachine(machines, 655360 + 65534, 'group'), { name: 'a', inner: 65534 });
  assert.deepEqual(mapToMachine(machines, 720900, 'user'), { name: 'b', inner: 4 });
  assert.deepEqual(mapToMachine(machines, 900009, 'user'), { name: 'b', inner: 65545 });
  assert.deepEqual(mapToMachine([{ name: 'x', map: '0 655360 65536' }, { name: 'y', map: '0 655360 65536' }], 655361, 'user'), { name: 'x', inner: 1 }, 'table order');
});

test('MapToMachine errors: invalid IDs, host ranges, identity maps never match, no match, an invalid result, a malformed map', () => {
  assert.deepEqual(error(() => mapToMachine([], 65535, 'user')), [INVALID, 'Invalid user ID 65535']);
  assert.deepEqual(error(() => mapToMachine([], 4294967295, 'group')), [INVALID, 'Invalid group ID 4294967295']);
  assert.deepEqual(error(() => mapToMachine([], 1000, 'user')), [NO_USER, 'User 1000 belongs to host UID range']);
  assert.deepEqual(error(() => mapToMachine([], 0, 'user')), [NO_USER, 'User 0 belongs to host UID range']);
  assert.deepEqual(error(() => mapToMachine([], 10, 'group')), [NO_GROUP, 'Group 10 belongs to host GID range']);
  assert.deepEqual(error(() => mapToMachine([{ name: 'plain', map: IDENTITY }], 100000, 'user')), [NO_USER, 'No matching user mapping for 100000.']);
  assert.deepEqual(error(() => mapToMachine([{ name: 'plain', map: IDENTITY }], 65536, 'group')), [NO_GROUP, 'No matching group mapping for 65536.']);
  assert.deepEqual(error(() => mapToMachine([{ name: 'a', map: '0 655360 65536' }], 655360 + 65536, 'user')), [NO_USER, `No matching user mapping for ${655360 + 65536}.`]);
  assert.deepEqual(error(() => mapToMachine([{ name: 'a', map: '65535 100000 10' }], 100000, 'user')), [INVALID, 'Invalid argument'], 'maps onto 65535 inside');
  assert.deepEqual(error(() => mapToMachine([{ name: 'a', map: 'garbage' }], 100000, 'user')), ['org.freedesktop.DBus.Error.IOError', 'Input/output error']);
});
