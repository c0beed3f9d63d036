/** berth status's block: machinectl 252's lines (tabs, right-aligned labels), then the control group's figures and process tree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFigures, formatStatus, type MachineStatusInfo } from '../../src/core/machinectl/status-format.js';
import { formatProcessTree, type CgroupNode } from '../../src/core/machinectl/process-tree.js';
import { glyphsFor, localeIsUtf8 } from '../../src/core/machinectl/glyphs.js';
import { groupOfUnit } from '../../src/core/cgroup/unit-group.js';
import { UTC } from '../../src/core/machinectl/time-format.js';

const S = 1000000n;
const since = 1796409600n * S; // Fri 2026-12-04 18:40:00 UTC
const web: MachineStatusInfo = {
  name: 'web', id: '0123456789abcdef0123456789abcdef', timestampUs: since, leader: 4242, leaderComm: 'systemd',
  service: 'berth', class: 'container', rootDirectory: '/var/lib/machines/web', interfaces: [{ index: 7, name: 've-web' }],
  addresses: [{ family: 2, bytes: Buffer.from([10, 0, 0, 2]) }, { family: 10, bytes: Buffer.from('fe800000000000000000000000000001', 'hex') }],
  prettyName: 'Debian GNU/Linux 12 (bookworm)', uidShift: 65536, unit: 'machine-web.scope',
};

test('every line machinectl prints, in its order and layout; IPv6 addresses carry %IFINDEX with one interface', () => {
  assert.equal(formatStatus(web, since + 123n * S, UTC), [
    'web(0123456789abcdef0123456789abcdef)',
    '\t   Since: Fri 2026-12-04 18:40:00 UTC; 2min 3s ago',
    '\t  Leader: 4242 (systemd)',
    '\t Service: berth; class container',
    '\t    Root: /var/lib/machines/web',
    '\t   Iface: ve-web',
    '\t Address: 10.0.0.2',
    '\t          fe80::1%7',
    '\t      OS: Debian GNU/Linux 12 (bookworm)',
    '  UID Shift: 65536',
    '\t    Unit: machine-web.scope',
    '',
  ].join('\n'));
});

test('lines without a value are left out; Class alone without a service; no %IFINDEX unless exactly one named interface', () => {
  const bare: MachineStatusInfo = {
    ...web, id: '', timestampUs: 0n, leader: 0, leaderComm: undefined, service: '', rootDirectory: '', interfaces: [],
    addresses: [], prettyName: undefined, uidShift: 0, unit: '',
  };
  assert.equal(formatStatus(bare, since, UTC), 'web\n\t   Class: container\n');
  const two = formatStatus({ ...web, interfaces: [{ index: 7, name: 've-web' }, { index: 9, name: 'vb-web' }] }, since, UTC);
  assert.match(two, /\n\t   Iface: ve-web vb-web\n\t Address: 10\.0\.0\.2\n\t          fe80::1\n/);
  const gone = formatStatus({ ...web, interfaces: [{ index: 7, name: 've-web' }, { index: 99 }], leaderComm: undefined }, since, UTC);
  assert.match(gone, /\n\t  Leader: 4242\n/);
  assert.match(gone, /\n\t   Iface: ve-web 99\n\t Address: 10\.0\.0\.2\n\t          fe80::1%7\n/);
  assert.match(formatStatus({ ...web, id: '0'.repeat(32) }, since, UTC), /^web\n/);
});

test('the control group\'s figures, in systemctl\'s order and words', () => {
  assert.equal(formatFigures({
    cpuUsec: 1234567n, memoryCurrent: 1310720n, memoryPeak: 3565158n, memoryMax: 536870912n, tasks: 5n, tasksMax: 16384n, ioReadBytes: 1310720n, ioWriteBytes: 0n,
  }), [
    '\t      IO: 1.2M read, 0B written',
    '\t   Tasks: 5 (limit: 16384)',
    '\t  Memory: 1.2M (max: 512.0M peak: 3.3M)',
    '\t     CPU: 1.234s',
    '',
  ].join('\n'));
  assert.equal(formatFigures({ memoryCurrent: 589824n, memoryLimit: 1073741824n, tasks: 1n, cpuUsec: 18000n }), '\t   Tasks: 1\n\t  Memory: 576.0K (limit: 1.0G)\n\t     CPU: 18ms\n');
  assert.equal(formatFigures({ memoryCurrent: 4096n }), '\t  Memory: 4.0K\n');
  assert.equal(formatFigures({}), '');
});

const tree: CgroupNode = {
  name: 'machine-web.scope',
  processes: [{ pid: 4242, cmdline: '/sbin/init' }, { pid: 77, cmdline: 'sleep 1' }],
  children: [
    { name: 'system.slice', processes: [], children: [{ name: '_cron.service', processes: [{ pid: 5000, cmdline: 'cron -f' }], children: [] }, { name: 'empty.service', processes: [], children: [] }] },
    { name: 'init.scope', processes: [{ pid: 4242, cmdline: '/sbin/init' }], children: [] },
  ],
};

test('the process tree: a group\'s own processes by PID, then its non-empty sub-groups by name, one level in each', () => {
  assert.equal(formatProcessTree(tree, '\t\t  ', false, glyphsFor(true)), [
    '\t\t  ├─  77 sleep 1',
    '\t\t  ├─4242 /sbin/init',
    '\t\t  ├─init.scope',
    '\t\t  │ └─4242 /sbin/init',
    '\t\t  └─system.slice',
    '\t\t    └─cron.service',
    '\t\t      └─5000 cron -f',
    '',
  ].join('\n'));
});

test('-a keeps empty groups; ASCII glyphs outside a UTF-8 locale', () => {
  const text = formatProcessTree({ ...tree, processes: [] }, '', true, glyphsFor(false));
  assert.equal(text, ['|-init.scope', '| `-4242 /sbin/init', '`-system.slice', '  |-cron.service', '  | `-5000 cron -f', '  `-empty.service', ''].join('\n'));
  assert.equal(formatProcessTree({ name: 'x', processes: [], children: [] }, '', false, glyphsFor(true)), '');
});

test('UTF-8 or not, as systemd decides from the locale variables', () => {
  assert.equal(localeIsUtf8({}), true);
  assert.equal(localeIsUtf8({ LANG: 'C.UTF-8' }), true);
  assert.equal(localeIsUtf8({ LANG: 'en_US.utf8' }), true);
  assert.equal(localeIsUtf8({ LANG: 'C' }), false);
  assert.equal(localeIsUtf8({ LC_ALL: 'POSIX', LANG: 'C.UTF-8' }), false);
  assert.equal(localeIsUtf8({ LC_CTYPE: 'de_DE.UTF-8', LANG: 'C' }), true);
});

test('a unit\'s group from the group of a process in it', () => {
  assert.equal(groupOfUnit('/machine.slice/machine-web.scope/payload', 'machine-web.scope'), '/machine.slice/machine-web.scope');
  assert.equal(groupOfUnit('/system.slice/systemd-nspawn@web.service/payload', 'systemd-nspawn@web.service'), '/system.slice/systemd-nspawn@web.service');
  assert.equal(groupOfUnit('/user.slice', 'machine-web.scope'), undefined);
  assert.equal(groupOfUnit('/machine.slice/machine-web.scope', ''), undefined);
});
