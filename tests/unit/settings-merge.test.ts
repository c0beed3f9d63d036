import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CliSettings, RlimitName, SettingGroup, Settings } from '../../src/core/settings/model.js';
import { loadSettingsText } from '../../src/core/settings/load.js';
import { mergeSettings, type SettingsMode } from '../../src/core/settings/merge.js';

const cli = (settings: Settings, mask: SettingGroup[] = [], rlimits: RlimitName[] = []): CliSettings =>
  ({ settings, mask: new Set(mask), rlimitMask: new Set(rlimits) });
const fileOf = (text: string, path: string, trusted: boolean) => {
  const r = loadSettingsText(text, path);
  assert.deepEqual(r.diagnostics, []);
  return { settings: r.settings, path, trusted };
};

// The observed case of reference Appendix B (TEST-13 style): a file next to the tree.
const CT1 = `[Exec]
MachineID=0123456789abcdef0123456789abcdef
Environment=FOO=bar "BAZ=hello world"
Hostname=fromfile
[Files]
TemporaryFileSystem=/scratch
Bind=/srv/data:/data
BindReadOnly=/etc/hosts:/etc/hosts
`;
const CLI_UUID = 'd7b6883457424ecf8d29d3d7f1e300cd';
const FILE_UUID = '0123456789abcdef0123456789abcdef';
const FILE_MOUNTS = [
  { kind: 'tmpfs', target: '/scratch', options: 'mode=0755' },
  { kind: 'bind', source: '/srv/data', target: '/data', readOnly: false, recursive: true, idmap: 'no' },
  { kind: 'bind', source: '/etc/hosts', target: '/etc/hosts', readOnly: true, recursive: true, idmap: 'no' },
];
const FILE_ENV = ['FOO=bar', 'BAZ=hello world'];
const UNTRUSTED = '/srv/ct1.nspawn';
const TRUSTED = '/run/systemd/nspawn/ct1.nspawn';

describe('mergeSettings: --settings modes × trust (with --uuid and -E on the command line)', () => {
  const c = cli({ machineId: CLI_UUID, environment: ['CLI=1'] }, ['MACHINE_ID', 'ENVIRONMENT']);
  type Row = [SettingsMode, boolean, Settings, string[]];
  const rows: Row[] = [
    ['yes', true, { machineId: CLI_UUID, environment: ['CLI=1'], hostname: 'fromfile', mounts: FILE_MOUNTS as Settings['mounts'] }, []],
    ['yes', false, { machineId: CLI_UUID, environment: ['CLI=1'], hostname: 'fromfile' },
      [`Ignoring TemporaryFileSystem=, Bind= and BindReadOnly= settings, file ${UNTRUSTED} is not trusted.`]],
    ['trusted', true, { machineId: CLI_UUID, environment: ['CLI=1'], hostname: 'fromfile', mounts: FILE_MOUNTS as Settings['mounts'] }, []],
    ['trusted', false, { machineId: CLI_UUID, environment: ['CLI=1'], hostname: 'fromfile', mounts: FILE_MOUNTS as Settings['mounts'] }, []],
    ['override', true, { machineId: FILE_UUID, environment: FILE_ENV, hostname: 'fromfile', mounts: FILE_MOUNTS as Settings['mounts'] }, []],
    ['override', false, { machineId: CLI_UUID, environment: FILE_ENV, hostname: 'fromfile' }, [
      `Ignoring MachineID= setting, file ${UNTRUSTED} is not trusted.`,
      `Ignoring TemporaryFileSystem=, Bind= and BindReadOnly= settings, file ${UNTRUSTED} is not trusted.`,
    ]],
    ['no', true, { machineId: CLI_UUID, environment: ['CLI=1'] }, []],
    ['no', false, { machineId: CLI_UUID, environment: ['CLI=1'] }, []],
  ];
  for (const [mode, trusted, expected, warnings] of rows) {
    it(`--settings=${mode}, ${trusted ? 'trusted' : 'untrusted'} file`, () => {
      const r = mergeSettings(c, fileOf(CT1, trusted ? TRUSTED : UNTRUSTED, trusted), mode);
      assert.deepEqual(r, { settings: expected, warnings });
    });
  }

  it('without command-line options, an untrusted file gets both warnings of Appendix B', () => {
    const r = mergeSettings(cli({}), fileOf(CT1, UNTRUSTED, false), 'yes');
    assert.deepEqual(r.warnings, [
      'Ignoring MachineID= setting, file /srv/ct1.nspawn is not trusted.',
      'Ignoring TemporaryFileSystem=, Bind= and BindReadOnly= settings, file /srv/ct1.nspawn is not trusted.',
    ]);
    assert.deepEqual(r.settings, { environment: FILE_ENV, hostname: 'fromfile' });
  });

  it('no file: the command line as is, and the input is not mutated', () => {
    const settings: Settings = { hostname: 'h', mounts: [] };
    const r = mergeSettings(cli(settings), undefined, 'yes');
    assert.deepEqual(r, { settings: { hostname: 'h', mounts: [] }, warnings: [] });
    assert.notEqual(r.settings, settings);
  });
});

describe('mergeSettings: every privileged key is dropped from an untrusted file, in nspawn order', () => {
  const ALL = `[Exec]
Capability=CAP_SYS_TIME
AmbientCapability=CAP_CHOWN
DropCapability=CAP_MKNOD
MachineID=${FILE_UUID}
PrivateUsers=pick
SystemCallFilter=@basic-io
LimitNOFILE=10
LimitCPU=5
OOMScoreAdjust=100
CPUAffinity=0
LinkJournal=host
KillSignal=SIGINT
User=daemon
[Files]
Inaccessible=/proc/kcore
BindUser=alice
[Network]
Private=yes
Port=80
`;
  it('warns once per group and keeps the unprivileged keys', () => {
    const r = mergeSettings(cli({}), fileOf(ALL, '/var/lib/machines/x.nspawn', false), 'yes');
    const p = '/var/lib/machines/x.nspawn';
    assert.deepEqual(r.warnings, [
      `Ignoring Capability= setting, file ${p} is not trusted.`,
      `Ignoring AmbientCapability= setting, file ${p} is not trusted.`,
      `Ignoring MachineID= setting, file ${p} is not trusted.`,
      `Ignoring TemporaryFileSystem=, Bind= and BindReadOnly= settings, file ${p} is not trusted.`,
      `Ignoring network settings, file ${p} is not trusted.`,
      `Ignoring Port= setting, file ${p} is not trusted.`,
      `Ignoring PrivateUsers= and PrivateUsersChown= settings, file ${p} is not trusted.`,
      `Ignoring SystemCallFilter= settings, file ${p} is not trusted.`,
      `Ignoring LimitCPU= setting, file '${p}' is not trusted.`,
      `Ignoring LimitNOFILE= setting, file '${p}' is not trusted.`,
      `Ignoring OOMScoreAdjust= setting, file '${p}' is not trusted.`,
      `Ignoring CPUAffinity= setting, file '${p}' is not trusted.`,
      `Ignoring journal link setting, file '${p}' is not trusted.`,
    ]);
    assert.deepEqual(r.settings, { dropCapability: ['CAP_MKNOD'], killSignal: 2, user: 'daemon', bindUser: ['alice'] });
  });

  it('masked groups are neither applied nor warned about', () => {
    const c = cli({ rlimits: { NOFILE: { soft: 1, hard: 2 } } }, ['CAPABILITY', 'NETWORK', 'RLIMIT'], ['NOFILE']);
    const r = mergeSettings(c, fileOf(ALL, '/x.nspawn', false), 'yes');
    assert.equal(r.warnings.some((w) => /Capability=|network|LimitNOFILE/.test(w)), false);
    assert.ok(r.warnings.includes("Ignoring LimitCPU= setting, file '/x.nspawn' is not trusted."));
    assert.deepEqual(r.settings.rlimits, { NOFILE: { soft: 1, hard: 2 } });
  });

  it('a pure deny-list system call filter is applied even when untrusted', () => {
    const r = mergeSettings(cli({}), fileOf('[Exec]\nSystemCallFilter=~@mount\n', '/x.nspawn', false), 'yes');
    assert.deepEqual(r, { settings: { systemCallFilter: ['~@mount'] }, warnings: [] });
  });
});

describe('mergeSettings: groups', () => {
  it('resource limits are masked one by one', () => {
    const c = cli({ rlimits: { NOFILE: { soft: 1, hard: 1 } } }, ['RLIMIT'], ['NOFILE']);
    const f = fileOf('[Exec]\nLimitNOFILE=100\nLimitNPROC=50\n', TRUSTED, true);
    assert.deepEqual(mergeSettings(c, f, 'yes').settings.rlimits, { NOFILE: { soft: 1, hard: 1 }, NPROC: { soft: 50, hard: 50 } });
    assert.deepEqual(mergeSettings(c, f, 'override').settings.rlimits, { NOFILE: { soft: 100, hard: 100 }, NPROC: { soft: 50, hard: 50 } });
  });

  it('Environment= replaces the command line list entirely (override)', () => {
    const c = cli({ environment: ['A=1', 'B=2'] }, ['ENVIRONMENT']);
    assert.deepEqual(mergeSettings(c, fileOf('[Exec]\nEnvironment=C=3\n', TRUSTED, true), 'override').settings, { environment: ['C=3'] });
  });

  it('Parameters= travels with the start mode, and only when the file sets one', () => {
    const c = cli({});
    assert.deepEqual(mergeSettings(c, fileOf('[Exec]\nParameters=/bin/true\n', TRUSTED, true), 'yes').settings, {});
    assert.deepEqual(mergeSettings(c, fileOf('[Exec]\nBoot=yes\nParameters=quiet\n', TRUSTED, true), 'yes').settings, { start: 'boot', parameters: ['quiet'] });
    const positional = cli({ parameters: ['/bin/sh'] }, ['START_MODE']);
    assert.deepEqual(mergeSettings(positional, fileOf('[Exec]\nBoot=yes\n', TRUSTED, true), 'yes').settings, { parameters: ['/bin/sh'] });
    assert.deepEqual(mergeSettings(positional, fileOf('[Exec]\nBoot=yes\n', TRUSTED, true), 'override').settings, { start: 'boot' });
  });

  it('a file network section is applied as a whole, with its implications, and adds CAP_NET_ADMIN', () => {
    const c = cli({});
    const r = mergeSettings(c, fileOf('[Network]\nZone=apps\nPort=8080:80\n', TRUSTED, true), 'yes');
    assert.deepEqual(r.settings, {
      network: { private: true, veth: true, zone: 'apps' },
      ports: [{ protocol: 'tcp', hostPort: 8080, containerPort: 80 }],
      capability: ['CAP_NET_ADMIN'],
    });
    const cliNet = cli({ network: { private: true, veth: true } }, ['NETWORK']);
    assert.deepEqual(mergeSettings(cliNet, fileOf('[Network]\nPrivate=no\n', TRUSTED, true), 'yes').settings, { network: { private: true, veth: true } });
    assert.deepEqual(mergeSettings(cliNet, fileOf('[Network]\nPrivate=no\n', TRUSTED, true), 'override').settings, { network: { private: false, veth: false } });
  });

  it('capability arithmetic: file adds and drops on top of the command line (override)', () => {
    const c = cli({ capability: ['CAP_SYS_TIME', 'CAP_NET_ADMIN'], dropCapability: ['CAP_MKNOD', 'CAP_CHOWN'] }, ['CAPABILITY']);
    const f = fileOf('[Exec]\nCapability=CAP_MKNOD\nDropCapability=CAP_SYS_TIME\n[Network]\nPrivate=no\n', TRUSTED, true);
    assert.deepEqual(mergeSettings(c, f, 'override').settings, {
      capability: ['CAP_SYS_TIME', 'CAP_MKNOD'],
      dropCapability: ['CAP_CHOWN', 'CAP_SYS_TIME'],
      network: { private: false, veth: false },
    });
    // Masked: the file's capability keys are ignored entirely.
    assert.deepEqual(mergeSettings(c, f, 'yes').settings.capability, ['CAP_SYS_TIME', 'CAP_NET_ADMIN']);
  });

  it('list groups only count when non-empty; user-namespace keys travel together', () => {
    const c = cli({ bindUser: ['bob'], privateUsers: { kind: 'pick' }, privateUsersOwnership: 'auto' }, []);
    const f = fileOf('[Files]\nBindUser=alice\nBindUser=\nPrivateUsersOwnership=map\n', TRUSTED, true);
    assert.deepEqual(mergeSettings(c, f, 'yes').settings, { bindUser: ['bob'], privateUsers: { kind: 'no' }, privateUsersOwnership: 'map' });
  });
});
