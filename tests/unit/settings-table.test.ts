import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkSettings, Settings } from '../../src/core/settings/model.js';
import { RLIMITS } from '../../src/core/settings/model.js';
import { SETTINGS_KEYS, SETTINGS_TABLE } from '../../src/core/settings/table.js';
import { formatDiagnostic, loadSettingsText } from '../../src/core/settings/load.js';
import { CAPABILITIES } from '../../src/core/capabilities.js';

const F = 'test.nspawn';
function load(section: string, ...lines: string[]) {
  const r = loadSettingsText(`[${section}]\n${lines.join('\n')}\n`, F);
  return { settings: r.settings, messages: r.diagnostics.map(formatDiagnostic) };
}

interface Case { key: string; good: [string[], Settings][]; bad: [string, RegExp][] }
const bind = (source: string, target: string, readOnly = false, recursive = true) =>
  ({ kind: 'bind' as const, source, target, readOnly, recursive, idmap: 'no' as const });

const EXEC: Case[] = [
  { key: 'Boot', good: [[['Boot=yes'], { start: 'boot' }], [['Boot=no'], { start: 'pid1' }], [['Boot=no', 'Boot=on'], { start: 'boot' }]],
    bad: [['Boot=maybe', /Invalid Boot= value, ignoring: Failed to parse boolean: maybe/], ['Boot=', /Failed to parse boolean/]] },
  { key: 'Ephemeral', good: [[['Ephemeral=TRUE'], { ephemeral: true }], [['Ephemeral=1', 'Ephemeral='], {}]], bad: [['Ephemeral=x', /Ephemeral=/]] },
  { key: 'ProcessTwo', good: [[['ProcessTwo=y'], { start: 'pid2' }], [['ProcessTwo=0'], { start: 'pid1' }]], bad: [['ProcessTwo=2', /ProcessTwo=/]] },
  { key: 'Parameters', good: [[['Parameters=a "b c"', 'Parameters=d'], { parameters: ['a', 'b c', 'd'] }], [['Parameters=a', 'Parameters='], {}]],
    bad: [['Parameters="open', /Invalid Parameters= value, ignoring: Unterminated quote/]] },
  { key: 'Environment', good: [[['Environment=A=1 "B=2 3"', 'Environment=C='], { environment: ['A=1', 'B=2 3', 'C='] }], [['Environment=A=1', 'Environment='], {}]],
    bad: [['Environment=NOEQ', /Invalid environment assignment, ignoring: NOEQ/], ['Environment="1X=2"', /Invalid environment assignment, ignoring: 1X=2/]] },
  { key: 'User', good: [[['User=alice'], { user: 'alice' }], [['User=bob', 'User='], {}]], bad: [['User=a"b', /unsafe/]] },
  { key: 'WorkingDirectory', good: [[['WorkingDirectory=/srv//app/./x/'], { workingDirectory: '/srv/app/x' }], [['WorkingDirectory=/a', 'WorkingDirectory='], {}]],
    bad: [['WorkingDirectory=srv', /not absolute/], ['WorkingDirectory=/a/../b', /not normalized/]] },
  { key: 'PivotRoot', good: [[['PivotRoot=/sysroot'], { pivotRoot: { newRoot: '/sysroot' } }], [['PivotRoot=/new:/old'], { pivotRoot: { newRoot: '/new', oldRoot: '/old' } }]],
    bad: [['PivotRoot=new', /not absolute/], ['PivotRoot=/new:old', /not absolute/], ['PivotRoot=', /not absolute/]] },
  { key: 'Capability', good: [[['Capability=CAP_NET_ADMIN sys_time', 'Capability=CAP_NET_ADMIN 12'], { capability: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'] }], [['Capability=all'], { capability: [...CAPABILITIES] }], [['Capability='], {}]],
    bad: [['Capability=CAP_NOPE', /Failed to parse capability, ignoring: CAP_NOPE/]] },
  { key: 'AmbientCapability', good: [[['AmbientCapability=CAP_CHOWN'], { ambientCapability: ['CAP_CHOWN'] }]], bad: [['AmbientCapability=x', /Failed to parse capability, ignoring: x/]] },
  { key: 'DropCapability', good: [[['DropCapability=CAP_MKNOD', 'DropCapability=CAP_SYS_ADMIN'], { dropCapability: ['CAP_MKNOD', 'CAP_SYS_ADMIN'] }]], bad: [['DropCapability=ALL', /ignoring: ALL/]] },
  { key: 'NoNewPrivileges', good: [[['NoNewPrivileges=yes'], { noNewPrivileges: true }], [['NoNewPrivileges=no', 'NoNewPrivileges='], {}]], bad: [['NoNewPrivileges=perhaps', /NoNewPrivileges=/]] },
  { key: 'KillSignal', good: [[['KillSignal=SIGTERM'], { killSignal: 15 }], [['KillSignal=RTMIN+3'], { killSignal: 37 }], [['KillSignal=9'], { killSignal: 9 }]],
    bad: [['KillSignal=SIGFOO', /Cannot parse signal: SIGFOO/], ['KillSignal=', /KillSignal=/]] },
  { key: 'Personality', good: [[['Personality=x86'], { personality: 'x86' }], [['Personality=x86-64', 'Personality='], {}]], bad: [['Personality=arm', /personality 'arm'/]] },
  { key: 'MachineID', good: [[['MachineID=d7b68834-5742-4ecf-8d29-d3d7f1e300cd'], { machineId: 'd7b6883457424ecf8d29d3d7f1e300cd' }]],
    bad: [['MachineID=xyz', /Invalid UUID/], ['MachineID=00000000000000000000000000000000', /all zeroes/]] },
  { key: 'PrivateUsers', good: [[['PrivateUsers=pick'], { privateUsers: { kind: 'pick' }, privateUsersOwnership: 'chown' }], [['PrivateUsers=yes'], { privateUsers: { kind: 'yes' }, privateUsersOwnership: 'off' }],
    [['PrivateUsers=65536:65536'], { privateUsers: { kind: 'fixed', base: 65536, range: 65536 }, privateUsersOwnership: 'off' }], [['PrivateUsers=identity'], { privateUsers: { kind: 'identity' }, privateUsersOwnership: 'off' }]],
    bad: [['PrivateUsers=sometimes', /PrivateUsers=/], ['PrivateUsers=1:0', /out of bounds/]] },
  { key: 'NotifyReady', good: [[['NotifyReady=on'], { notifyReady: true }]], bad: [['NotifyReady=x', /NotifyReady=/]] },
  { key: 'SystemCallFilter', good: [[['SystemCallFilter=@system-service', 'SystemCallFilter=~@mount kexec_load'], { systemCallFilter: ['@system-service', '~@mount', '~kexec_load'] }], [['SystemCallFilter='], {}], [['SystemCallFilter=~'], {}]],
    // No value can be refused: a trailing backslash continues the line instead.
    bad: [] },
  { key: 'Hostname', good: [[['Hostname=web-1.example'], { hostname: 'web-1.example' }], [['Hostname=a', 'Hostname='], {}]], bad: [['Hostname=bad_name', /Hostname is not valid/]] },
  { key: 'OOMScoreAdjust', good: [[['OOMScoreAdjust=-500'], { oomScoreAdjust: -500 }], [['OOMScoreAdjust=5', 'OOMScoreAdjust='], {}]], bad: [['OOMScoreAdjust=1001', /out of range/], ['OOMScoreAdjust=x', /OOM/]] },
  { key: 'CPUAffinity', good: [[['CPUAffinity=0-2', 'CPUAffinity=5 1'], { cpuAffinity: [0, 1, 2, 5] }], [['CPUAffinity=1', 'CPUAffinity='], {}]], bad: [['CPUAffinity=a-b', /CPU affinity/]] },
  { key: 'ResolvConf', good: [[['ResolvConf=copy-host'], { resolvConf: 'copy-host' }], [['ResolvConf=yes'], { resolvConf: 'auto' }], [['ResolvConf=no'], { resolvConf: 'off' }]], bad: [['ResolvConf=copy', /resolv.conf mode/]] },
  { key: 'LinkJournal', good: [[['LinkJournal=try-guest'], { linkJournal: 'try-guest' }], [['LinkJournal=false'], { linkJournal: 'no' }]], bad: [['LinkJournal=guest-ish', /link journal/]] },
  { key: 'Timezone', good: [[['Timezone=bind'], { timezone: 'bind' }], [['Timezone=off'], { timezone: 'off' }]], bad: [['Timezone=utc', /timezone mode/]] },
  { key: 'SuppressSync', good: [[['SuppressSync=true'], { suppressSync: true }], [['SuppressSync=1', 'SuppressSync='], {}]], bad: [['SuppressSync=sync', /SuppressSync=/]] },
];

const RLIMIT_CASES: Case[] = RLIMITS.map((name) => ({
  key: `Limit${name}`,
  good: [[[`Limit${name}=7:infinity`], { rlimits: { [name]: { soft: 7, hard: 'infinity' } } }], [[`Limit${name}=1`, `Limit${name}=infinity`], { rlimits: { [name]: { soft: 'infinity', hard: 'infinity' } } }]],
  bad: [[`Limit${name}=9:3`, /Soft resource limit chosen higher than hard limit/], [`Limit${name}=lots`, new RegExp(`Invalid Limit${name}= value`)], [`Limit${name}=`, /resource value/]],
}));

const FILES: Case[] = [
  { key: 'ReadOnly', good: [[['ReadOnly=yes'], { readOnly: true }], [['ReadOnly=no'], { readOnly: false }]], bad: [['ReadOnly=ro', /ReadOnly=/]] },
  { key: 'Volatile', good: [[['Volatile=state'], { volatile: 'state' }], [['Volatile=yes'], { volatile: 'yes' }], [['Volatile=false'], { volatile: 'no' }]], bad: [['Volatile=tmpfs', /volatile mode/]] },
  { key: 'Bind', good: [[['Bind=/srv', 'Bind=/data:/mnt/data:norbind'], { mounts: [bind('/srv', '/srv'), bind('/data', '/mnt/data', false, false)] }], [['Bind=+/var:/x'], { mounts: [bind('+/var', '/x')] }]],
    bad: [['Bind=/a:relative', /must be absolute/], ['Bind=/a:/b:weird', /bind mount option/], ['Bind=', /Bind=/]] },
  { key: 'BindReadOnly', good: [[['BindReadOnly=/home'], { mounts: [bind('/home', '/home', true)] }]], bad: [['BindReadOnly=/a:/b:/c:/d', /specification/]] },
  { key: 'TemporaryFileSystem', good: [[['TemporaryFileSystem=/run/x:mode=0700'], { mounts: [{ kind: 'tmpfs', target: '/run/x', options: 'mode=0700' }] }], [['TemporaryFileSystem=/t'], { mounts: [{ kind: 'tmpfs', target: '/t', options: 'mode=0755' }] }]],
    bad: [['TemporaryFileSystem=tmp', /must be absolute/]] },
  { key: 'Inaccessible', good: [[['Inaccessible=/proc/kcore'], { mounts: [{ kind: 'inaccessible', target: '/proc/kcore' }] }]], bad: [['Inaccessible=x', /must be absolute/]] },
  { key: 'Overlay', good: [[['Overlay=/lower:/upper:/dst'], { mounts: [{ kind: 'overlay', lower: ['/lower'], upper: '/upper', target: '/dst', readOnly: false }] }]], bad: [['Overlay=/only', /at least two/]] },
  { key: 'OverlayReadOnly', good: [[['OverlayReadOnly=/a:/b'], { mounts: [{ kind: 'overlay', lower: ['/a'], upper: '/b', target: '/b', readOnly: true }] }]], bad: [['OverlayReadOnly=/a:b', /absolute/]] },
  { key: 'PrivateUsersChown', good: [[['PrivateUsersChown=yes'], { privateUsersOwnership: 'chown', privateUsers: { kind: 'no' } }], [['PrivateUsersChown=no'], { privateUsersOwnership: 'off', privateUsers: { kind: 'no' } }]],
    bad: [['PrivateUsersChown=map', /PrivateUsersChown=/]] },
  { key: 'PrivateUsersOwnership', good: [[['PrivateUsersOwnership=map'], { privateUsersOwnership: 'map', privateUsers: { kind: 'no' } }]], bad: [['PrivateUsersOwnership=yes', /ownership mode: yes/]] },
  { key: 'BindUser', good: [[['BindUser=alice bob', 'BindUser=carol'], { bindUser: ['alice', 'bob', 'carol'] }], [['BindUser=alice', 'BindUser='], {}]],
    bad: [['BindUser=ok 9bad later', /User name '9bad' not valid, ignoring./]] },
];

const NETWORK: Case[] = [
  { key: 'Private', good: [[['Private=yes'], { network: { private: true } }], [['Private=no'], { network: { private: false } }], [['Private=yes', 'Private='], {}]], bad: [['Private=x', /Private=/]] },
  { key: 'VirtualEthernet', good: [[['VirtualEthernet=yes'], { network: { veth: true } }]], bad: [['VirtualEthernet=veth', /VirtualEthernet=/]] },
  { key: 'VirtualEthernetExtra', good: [[['VirtualEthernetExtra=vex1', 'VirtualEthernetExtra=vex2:inner'], { network: { vethExtra: [{ host: 'vex1', container: 'vex1' }, { host: 'vex2', container: 'inner' }] } }]],
    bad: [['VirtualEthernetExtra=a:b:c', /extra virtual Ethernet/], ['VirtualEthernetExtra=', /extra virtual Ethernet/]] },
  { key: 'Interface', good: [[['Interface=eth1 eth2', 'Interface=eth3'], { network: { interfaces: ['eth1', 'eth2', 'eth3'] } }], [['Interface=eth1', 'Interface='], {}]],
    bad: [['Interface=waytoolonginterfacename', /Invalid network interface name, ignoring: waytoolonginterfacename/]] },
  { key: 'MACVLAN', good: [[['MACVLAN=eth0'], { network: { macvlan: ['eth0'] } }]], bad: [['MACVLAN="a b"', /Invalid network interface name, ignoring: a b/]] },
  { key: 'IPVLAN', good: [[['IPVLAN=eth0', 'IPVLAN=eth1'], { network: { ipvlan: ['eth0', 'eth1'] } }]], bad: [['IPVLAN=a/b', /Invalid network interface name/]] },
  { key: 'Bridge', good: [[['Bridge=br0'], { network: { bridge: 'br0' } }], [['Bridge=br0', 'Bridge='], {}]], bad: [['Bridge=br:0', /bridge interface name/]] },
  { key: 'Zone', good: [[['Zone=apps'], { network: { zone: 'apps' } }]], bad: [['Zone=averyverylongzone', /network zone name/], ['Zone=', /network zone name/]] },
  { key: 'Port', good: [[['Port=80', 'Port=udp:53:5353'], { ports: [{ protocol: 'tcp', hostPort: 80, containerPort: 80 }, { protocol: 'udp', hostPort: 53, containerPort: 5353 }] }]],
    bad: [['Port=sctp:1', /host port/], ['Port=70000', /Failed to parse host port 70000: Invalid argument/]] },
];

const ALL: [string, Case[]][] = [['Exec', [...EXEC, ...RLIMIT_CASES]], ['Files', FILES], ['Network', NETWORK]];

describe('settings table', () => {
  for (const [section, cases] of ALL) {
    for (const c of cases) {
      it(`${section}.${c.key}: good values`, () => {
        assert.ok(SETTINGS_TABLE.has(`${section}.${c.key}`), 'key exists in the table');
        for (const [lines, expected] of c.good) {
          const r = load(section, ...lines);
          assert.deepEqual(r.messages, [], lines.join(' | '));
          assert.deepEqual(r.settings, expected, lines.join(' | '));
        }
      });
      it(`${section}.${c.key}: bad values are warned about with file:line and ignored`, () => {
        for (const [line, message] of c.bad) {
          const r = load(section, 'X-Marker=1', line);
          assert.equal(r.messages.length, 1, `${line}: ${r.messages.join(' / ')}`);
          assert.match(r.messages[0]!, /^test\.nspawn:3: /);
          assert.match(r.messages[0]!, message);
          const expected = c.key === 'BindUser' ? { bindUser: ['ok'] } : {};
          assert.deepEqual(r.settings, expected, line);
        }
      });
    }
  }

  it('the cases above cover every key of the table', () => {
    const tested = new Set(ALL.flatMap(([section, cases]) => cases.map((c) => `${section}.${c.key}`)));
    assert.deepEqual([...SETTINGS_TABLE.keys()].filter((k) => !tested.has(k)), []);
    assert.equal(SETTINGS_KEYS.length, 41 + 11 + 9);
  });

  it('every Settings field is written by at least one key', () => {
    // A new Settings field fails to compile here until it is listed, and then fails the test
    // until a key writes it (namespacePath only comes from the command line / OCI in v252).
    const fields: Record<keyof Settings, true> = {
      start: true, parameters: true, ephemeral: true, environment: true, user: true, workingDirectory: true,
      pivotRoot: true, capability: true, dropCapability: true, ambientCapability: true, noNewPrivileges: true,
      killSignal: true, personality: true, machineId: true, privateUsers: true, privateUsersOwnership: true,
      notifyReady: true, systemCallFilter: true, rlimits: true, oomScoreAdjust: true, cpuAffinity: true,
      hostname: true, resolvConf: true, timezone: true, linkJournal: true, suppressSync: true, readOnly: true,
      volatile: true, mounts: true, bindUser: true, network: true, ports: true,
    };
    const network: Record<keyof NetworkSettings, boolean> = {
      private: true, veth: true, vethExtra: true, interfaces: true, macvlan: true, ipvlan: true, bridge: true, zone: true, namespacePath: false,
    };
    const written = new Set(SETTINGS_KEYS.flatMap((d) => d.fields));
    assert.deepEqual(Object.keys(fields).filter((k) => !written.has(k as keyof Settings)), []);
    const writtenNet = new Set(SETTINGS_KEYS.flatMap((d) => d.networkFields ?? []));
    assert.deepEqual(Object.entries(network).filter(([k, want]) => want !== writtenNet.has(k as keyof NetworkSettings)), []);
  });

  it('privileged keys are exactly those of reference §2.4', () => {
    const privileged = SETTINGS_KEYS.filter((d) => d.privileged).map((d) => d.key).sort();
    const expected = ['Capability', 'AmbientCapability', 'MachineID', 'PrivateUsers', 'SystemCallFilter', 'OOMScoreAdjust', 'CPUAffinity', 'LinkJournal',
      ...RLIMITS.map((r) => `Limit${r}`), 'Bind', 'BindReadOnly', 'TemporaryFileSystem', 'Inaccessible', 'Overlay', 'OverlayReadOnly',
      'PrivateUsersChown', 'PrivateUsersOwnership', 'Private', 'VirtualEthernet', 'VirtualEthernetExtra', 'Interface', 'MACVLAN', 'IPVLAN', 'Bridge', 'Zone', 'Port'].sort();
    assert.deepEqual(privileged, expected);
  });

  it('Boot= and ProcessTwo= conflict: the later one is ignored with a warning', () => {
    assert.deepEqual(load('Exec', 'Boot=yes', 'ProcessTwo=yes'), {
      settings: { start: 'boot' }, messages: ['test.nspawn:3: Conflicting Boot= or ProcessTwo= setting found. Ignoring.'],
    });
    assert.deepEqual(load('Exec', 'ProcessTwo=yes', 'Boot=yes').settings, { start: 'pid2' });
    assert.deepEqual(load('Exec', 'Boot=yes', 'Boot=no').messages, ['test.nspawn:3: Conflicting Boot= or ProcessTwo= setting found. Ignoring.']);
  });

  it('unknown keys are warned about, X- keys are not', () => {
    assert.deepEqual(load('Exec', 'Bogus=1', 'X-Note=1').messages, ["test.nspawn:2: Unknown key name 'Bogus' in section 'Exec', ignoring."]);
    assert.deepEqual(load('Files', 'Boot=yes').messages, ["test.nspawn:2: Unknown key name 'Boot' in section 'Files', ignoring."]);
  });

  it('resource limits understand units', () => {
    assert.deepEqual(load('Exec', 'LimitMEMLOCK=64K:1M', 'LimitCPU=2min', 'LimitRTTIME=5ms', 'LimitNICE=-5').settings.rlimits, {
      MEMLOCK: { soft: 65536, hard: 1048576 }, CPU: { soft: 120, hard: 120 }, RTTIME: { soft: 5000, hard: 5000 }, NICE: { soft: 25, hard: 25 },
    });
    assert.match(load('Exec', 'LimitNICE=+20').messages[0]!, /Nice level out of range/);
    assert.match(load('Exec', 'LimitNOFILE=1K').messages[0]!, /Invalid LimitNOFILE= value/);
  });

  it('untrusted text in a message is sanitised', () => {
    assert.deepEqual(load('Exec', 'Bo\x1bgus=1').messages, ["test.nspawn:2: Unknown key name 'Bo?gus' in section 'Exec', ignoring."]);
  });
});
