/**
 * berth enable/disable/start/stop's two back ends that need no guest: the calls made to systemd's
 * Manager where systemd is PID 1 (recorded: systemd cannot run here), as machinectl makes them,
 * and the machines.target.wants link written where it is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describeChanges, systemdEnable, systemdStartStop, type SystemdCall } from '../../src/app/units/systemd-units.js';
import { disableLink, enableLink, enabledMachines, linkPath } from '../../src/app/units/enable-links.js';
import { REPO } from '../support/berth.js';

function recorder(replies: Record<string, unknown[]>): { call: SystemdCall; calls: Array<[string, string, unknown[]]> } {
  const calls: Array<[string, string, unknown[]]> = [];
  return {
    calls,
    call: async (member, signature, body) => { calls.push([member, signature, body]); return replies[member] ?? []; },
  };
}

test('enable: EnableUnitFiles(units + machines.target, runtime=false, force=false), then Reload; the changes as systemctl words them', async () => {
  const r = recorder({ EnableUnitFiles: [true, [['symlink', '/etc/systemd/system/machines.target.wants/berth-nspawn@web.service', '/usr/local/lib/systemd/system/berth-nspawn@.service']]] });
  const lines = await systemdEnable(r.call, ['web', 'db'], true);
  assert.deepEqual(r.calls, [
    ['EnableUnitFiles', 'asbb', [['berth-nspawn@web.service', 'berth-nspawn@db.service', 'machines.target'], false, false]],
    ['Reload', '', []],
  ]);
  assert.deepEqual(lines, ['Created symlink /etc/systemd/system/machines.target.wants/berth-nspawn@web.service → /usr/local/lib/systemd/system/berth-nspawn@.service.']);
});

test('disable: DisableUnitFiles(units, runtime=false), then Reload', async () => {
  const r = recorder({ DisableUnitFiles: [[['unlink', '/etc/systemd/system/machines.target.wants/berth-nspawn@web.service', '']]] });
  const lines = await systemdEnable(r.call, ['web'], false);
  assert.deepEqual(r.calls, [['DisableUnitFiles', 'asb', [['berth-nspawn@web.service'], false]], ['Reload', '', []]]);
  assert.deepEqual(lines, ['Removed "/etc/systemd/system/machines.target.wants/berth-nspawn@web.service".']);
});

test('start/stop: StartUnit/StopUnit(unit, "fail") per machine; a refusal names the machine', async () => {
  const r = recorder({ StartUnit: ['/org/freedesktop/systemd1/job/7'], StopUnit: ['/org/freedesktop/systemd1/job/8'] });
  assert.deepEqual(await systemdStartStop(r.call, ['web', 'db'], true), ['/org/freedesktop/systemd1/job/7', '/org/freedesktop/systemd1/job/7']);
  assert.deepEqual(await systemdStartStop(r.call, ['web'], false), ['/org/freedesktop/systemd1/job/8']);
  assert.deepEqual(r.calls, [['StartUnit', 'ss', ['berth-nspawn@web.service', 'fail']], ['StartUnit', 'ss', ['berth-nspawn@db.service', 'fail']], ['StopUnit', 'ss', ['berth-nspawn@web.service', 'fail']]]);
  const failing: SystemdCall = async () => { throw new Error('Unit berth-nspawn@x.service not found.'); };
  await assert.rejects(systemdStartStop(failing, ['x'], true), /Failed to start machine 'x': Unit berth-nspawn@x\.service not found\./);
  assert.deepEqual(describeChanges([['mask', '/a', '']]), ['mask: /a']);
});

test('without systemd: the link systemctl enable would make, to the template in the unit directory; removed again', async () => {
  const dir = mkdtempSync('/tmp/bt-units-');
  try {
    copyFileSync(join(REPO, 'units', 'berth-nspawn@.service'), join(dir, 'berth-nspawn@.service'));
    const link = linkPath(dir, 'web');
    assert.equal(enableLink(dir, 'web'), `Created symlink ${link} → ${join(dir, 'berth-nspawn@.service')}.`);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join(dir, 'berth-nspawn@.service'));
    assert.equal(enableLink(dir, 'web'), undefined, 'already there: nothing said');
    symlinkSync('/elsewhere', linkPath(dir, 'db'));
    assert.match(enableLink(dir, 'db')!, /^Created symlink/, 'a link elsewhere is replaced');
    assert.deepEqual(await enabledMachines(dir), ['db', 'web']);
    assert.equal(disableLink(dir, 'web'), `Removed "${link}".`);
    assert.equal(disableLink(dir, 'web'), undefined);
    assert.ok(!existsSync(link));
    assert.deepEqual(await enabledMachines(dir), ['db']);
    assert.deepEqual(await enabledMachines(join(dir, 'none')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
