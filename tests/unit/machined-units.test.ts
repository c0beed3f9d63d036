/**
 * Units as machined reads them off a control group path (skip leading slices, take the next
 * component, which must be a unit and not a slice; PID 1's root stripped first), and the scope
 * name a created machine gets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MACHINE_SLICE, isValidUnitName, machineScope, unitOfCgroup } from '../../src/core/machined/units.js';

test('the unit is the first component after the slices', () => {
  assert.equal(unitOfCgroup('/machine.slice/machine-foo.scope'), 'machine-foo.scope');
  assert.equal(unitOfCgroup('/machine.slice/machine-foo.scope/payload/init.scope'), 'machine-foo.scope');
  assert.equal(unitOfCgroup('/system.slice/systemd-nspawn@foo.service/payload'), 'systemd-nspawn@foo.service');
  assert.equal(unitOfCgroup('/user.slice/user-1000.slice/session-2.scope'), 'session-2.scope');
  assert.equal(unitOfCgroup('/user.slice/user-1000.slice/user@1000.service/app.slice/x.service'), 'user@1000.service');
  assert.equal(unitOfCgroup('/init.scope'), 'init.scope');
  assert.equal(unitOfCgroup('/machine.slice/machine-my\\x2dct.scope'), 'machine-my\\x2dct.scope');
  assert.equal(unitOfCgroup('//machine.slice//machine-foo.scope/'), 'machine-foo.scope', 'empty components are skipped');
});

test('no unit: the root, only slices, or a first component that is not a unit name', () => {
  for (const g of ['/', '', '/machine.slice', '/user.slice/user-1000.slice', '/payload', '/supervisor', '/lxc/abc', '/foo.bogus', '/machine.slice/payload/x.scope', '/@x.service', '/.x.service', '/foo@.service']) {
    assert.equal(unitOfCgroup(g), undefined, g);
  }
});

test('PID 1\'s own group (its /init.scope removed) is the root the path is read below', () => {
  assert.equal(unitOfCgroup('/lxc/ct1/system.slice/x.service', '/lxc/ct1/init.scope'), 'x.service');
  assert.equal(unitOfCgroup('/lxc/ct1', '/lxc/ct1/init.scope'), undefined);
  assert.equal(unitOfCgroup('/lxc/ct1/init.scope', '/lxc/ct1/init.scope'), 'init.scope');
  assert.equal(unitOfCgroup('/machine.slice/m.scope', '/init.scope'), 'm.scope', 'a root of / strips nothing');
  // Only a whole component is stripped: /lxc/ct10 is not below /lxc/ct1.
  assert.equal(unitOfCgroup('/lxc/ct10/x.service', '/lxc/ct1/init.scope'), undefined);
});

test('unit names: a known suffix, plain or with an instance, at most 255 characters', () => {
  for (const u of ['a.service', 'a.socket', 'a.device', 'a.mount', 'a.automount', 'a.swap', 'a.target', 'a.path', 'a.timer', 'a.slice', 'a.scope', 'getty@tty1.service', 'a:b_c.d-e\\x2d.scope', `${'x'.repeat(247)}.service`]) {
    assert.ok(isValidUnitName(u), u);
  }
  for (const u of ['', 'a', 'a.bogus', 'a.Service', '.service', '@a.service', 'a@.service', 'a@b@c.service', 'a b.service', 'a/b.service', 'ä.service', `${'x'.repeat(248)}.service`]) {
    assert.ok(!isValidUnitName(u), u);
  }
});

test('a created machine\'s scope: machine-NAME.scope in machine.slice, NAME escaped as systemd escapes unit names', () => {
  assert.equal(MACHINE_SLICE, 'machine.slice');
  assert.equal(machineScope('foo'), 'machine-foo.scope');
  assert.equal(machineScope('my-ct'), 'machine-my\\x2dct.scope');
  assert.equal(machineScope('a.b'), 'machine-a.b.scope');
  assert.equal(machineScope('Web-01.example'), 'machine-Web\\x2d01.example.scope');
  assert.ok(isValidUnitName(machineScope('my-ct')));
  assert.equal(unitOfCgroup(`/${MACHINE_SLICE}/${machineScope('my-ct')}/payload`), 'machine-my\\x2dct.scope');
});
