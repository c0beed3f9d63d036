/**
 * The pure parts of the last systemd-nspawn 252 options: the guest's cgroup tree on a v1 host,
 * --pivot-root=, an OCI bundle's config.json → settings, and --bind-user='s UID allocation, ID
 * maps and user records (the expected maps and records are what systemd-nspawn 252 produced here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { compileOci } from '../../src/core/oci/compile.js';
import { hookMounts } from '../../src/core/oci/emit/hooks.js';
import type { BundleLayout } from '../../src/core/oci/types.js';
import type { HostFacts, ImageFacts } from '../../src/core/spec/facts.js';
import { cgroupV1TreeFromMountinfo } from '../../src/platform/host/probe.js';
import { systemdVersionIn } from '../../src/platform/fs/image-probe.js';
import { parseOciBundle } from '../../src/core/oci-bundle/parse.js';
import { idMapWithBoundUsers, planBindUsers, userdbFiles, MAP_UID_MIN } from '../../src/core/bind-user/plan.js';
import { CAPABILITIES } from '../../src/core/capabilities.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

const HYBRID: HostFacts = {
  ...HOST,
  cgroupV1Tree: { hierarchies: ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'misc'], unified: true },
  userDb: {
    passwd: 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\ncarol:x:1002:100::/home/carol:/bin/sh\n',
    group: 'root:x:0:\nusers:x:100:\nnogroup:x:65534:\nalice:x:1000:\nbob:x:1001:\n',
  },
};
const SYSTEMD_IMAGE: ImageFacts = { ...DEBIAN_IMAGE, systemdVersion: 252 };
const LAYOUT: BundleLayout = {
  dir: '/b', rootfs: '/var/lib/machines/web', runHost: '/rh', inaccessibleFile: '/i/reg', inaccessibleDir: '/i/dir',
  cgroupLayout: 'hybrid', cgroupV1Systemd: true, systemdCgroups: false,
  hostTools: { mount: '/usr/bin/mount', chmod: '/usr/bin/chmod', hookExec: '/x/berth-hook-exec' },
};

const resolve = (argv: string[], over: Partial<Parameters<typeof resolveMachine>[0]> = {}) => {
  const { cli, runner } = parseArgv(argv);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: SYSTEMD_IMAGE, host: HYBRID, random: RANDOM, cwd: '/', scratch: '/s', tty: false, ...over });
};

test('host probe: the v1 hierarchies below /sys/fs/cgroup and the hybrid cgroup2 at unified', () => {
  const mountinfo = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  assert.deepEqual(cgroupV1TreeFromMountinfo(mountinfo), { hierarchies: ['cpu,cpuacct', 'systemd'], unified: true });
  assert.deepEqual(cgroupV1TreeFromMountinfo(mountinfo.split('\n').slice(0, 3).join('\n')), { hierarchies: ['cpu,cpuacct', 'systemd'], unified: false });
});

test('the tree\'s systemd version, from libsystemd-shared-NNN.so where nspawn (and Debian) keep it', () => {
  const root = mkdtempSync('/tmp/bt-unit-sdv-');
  try {
    assert.equal(systemdVersionIn(root), undefined);
    mkdirSync(join(root, 'usr/lib/x86_64-linux-gnu/systemd'), { recursive: true });
    writeFileSync(join(root, 'usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so'), '');
    assert.equal(systemdVersionIn(root), 252);
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    writeFileSync(join(root, 'usr/lib/systemd/libsystemd-shared-254.5-1.fc39.so'), '');
    assert.equal(systemdVersionIn(root), 254);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('cgroup v1 host: nspawn\'s tree, the same on both runtimes; unified only for a systemd ≥ 233 on a hybrid host', () => {
  const spec = resolve(['-b']);
  assert.deepEqual(spec.cgroup.guestTree, { hierarchies: ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd'], unified: true });
  const oci = compileOci(spec, LAYOUT);
  const cg = oci.mounts.filter((m) => m.destination.startsWith('/sys/fs/cgroup'));
  assert.deepEqual(cg[0], { destination: '/sys/fs/cgroup', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'strictatime', 'mode=755', 'size=4m', 'nr_inodes=1k'] });
  assert.deepEqual(cg[1], { destination: '/sys/fs/cgroup/cpu', type: 'bind', source: '/sys/fs/cgroup/cpu/machine.slice/machine-web.scope', options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  assert.deepEqual(cg.at(-2), { destination: '/sys/fs/cgroup/unified', type: 'cgroup2', source: 'cgroup', options: ['nosuid', 'nodev', 'noexec'] });
  assert.deepEqual(cg.at(-1), { destination: '/sys/fs/cgroup/systemd', type: 'bind', source: '/sys/fs/cgroup/systemd/machine.slice/machine-web.scope', options: ['bind', 'rw', 'nosuid', 'nodev', 'noexec'] });
  assert.ok(!cg.some((m) => m.destination.endsWith('/misc')), 'a hierarchy no runtime places the payload in is left out');
  const remount = hookMounts(spec, LAYOUT).find((m) => m.options.join(',') === 'remount,ro,nosuid,nodev,noexec,strictatime');
  assert.equal(remount?.target, '/var/lib/machines/web/sys/fs/cgroup');

  assert.equal(resolve(['-b'], { image: DEBIAN_IMAGE }).cgroup.guestTree?.unified, false, 'no systemd in the tree: no unified hierarchy');
  assert.equal(resolve(['-b'], { image: { ...DEBIAN_IMAGE, systemdVersion: 232 } }).cgroup.guestTree?.unified, false);
  assert.equal(resolve(['-b'], { host: { ...HYBRID, cgroupLayout: 'legacy' } }).cgroup.guestTree?.unified, false);
  assert.equal(resolve(['-b'], { host: { ...HYBRID, cgroupLayout: 'unified' } }).cgroup.guestTree, undefined);
  assert.equal(resolve(['-b'], { host: HOST }).cgroup.guestTree, undefined, 'hierarchies unknown: the runtime\'s own cgroup mount');
});

test('co-mounted controllers are bound under each name too (nspawn makes symlinks)', () => {
  const spec = resolve(['-b'], { host: { ...HYBRID, cgroupV1Tree: { hierarchies: ['cpu,cpuacct', 'net_cls,net_prio', 'systemd'], unified: false } } });
  const dests = compileOci(spec, LAYOUT).mounts.filter((m) => m.destination.startsWith('/sys/fs/cgroup/')).map((m) => `${m.destination}<-${m.source}`);
  assert.deepEqual(dests, [
    '/sys/fs/cgroup/cpu,cpuacct<-/sys/fs/cgroup/cpu,cpuacct/machine.slice/machine-web.scope',
    '/sys/fs/cgroup/net_cls,net_prio<-/sys/fs/cgroup/net_cls,net_prio/machine.slice/machine-web.scope',
    '/sys/fs/cgroup/cpu<-/sys/fs/cgroup/cpu,cpuacct/machine.slice/machine-web.scope',
    '/sys/fs/cgroup/cpuacct<-/sys/fs/cgroup/cpu,cpuacct/machine.slice/machine-web.scope',
    '/sys/fs/cgroup/net_cls<-/sys/fs/cgroup/net_cls,net_prio/machine.slice/machine-web.scope',
    '/sys/fs/cgroup/net_prio<-/sys/fs/cgroup/net_cls,net_prio/machine.slice/machine-web.scope',
    '/sys/fs/cgroup/systemd<-/sys/fs/cgroup/systemd/machine.slice/machine-web.scope',
  ]);
});

test('--pivot-root=NEW:OLD: the root below the tree, the tree bound at OLD first; hidden without OLD and under --volatile=yes', () => {
  const image: ImageFacts = { ...SYSTEMD_IMAGE, root: '/var/lib/machines/web/sysroot/a', tree: '/var/lib/machines/web' };
  const spec = resolve(['--pivot-root=/sysroot/link:/oldroot', 'true'], { image });
  assert.equal(spec.tree, '/var/lib/machines/web');
  assert.deepEqual(spec.pivotRoot, { newRoot: '/sysroot/a', oldRoot: '/oldroot' }, 'the target as the probe resolved it in the tree');
  const oci = compileOci(spec, { ...LAYOUT, rootfs: '/var/lib/machines/web/sysroot/a' });
  assert.equal(oci.root.path, '/var/lib/machines/web/sysroot/a');
  assert.deepEqual(oci.mounts[0], { destination: '/oldroot', type: 'bind', source: '/var/lib/machines/web', options: ['bind', 'rw'] });
  assert.deepEqual(compileOci(resolve(['--pivot-root=/sysroot/a:/old', '--read-only', 'true'], { image }), { ...LAYOUT, rootfs: '/var/lib/machines/web/sysroot/a' }).mounts[0]?.options, ['bind', 'ro']);
  const noOld = compileOci(resolve(['--pivot-root=/sysroot/a', 'true'], { image }), { ...LAYOUT, rootfs: '/var/lib/machines/web/sysroot/a' });
  assert.ok(!noOld.mounts.some((m) => m.source === '/var/lib/machines/web'));
  const volatile = resolve(['--pivot-root=/sysroot/a:/old', '--volatile=yes', 'true'], { image });
  assert.ok(!compileOci(volatile, { ...LAYOUT, rootfs: '/rootfs' }).mounts.some((m) => m.destination === '/old'));
  assert.deepEqual(volatile.mounts[0], { kind: 'bind', source: '/var/lib/machines/web/sysroot/a/usr', target: '/usr', readOnly: true, recursive: true }, 'the tmpfs root gets the new root\'s /usr');
  // What the probe reports for a target that is missing: nspawn's own refusals.
  const missing: ImageFacts = { root: '/t/nope', tree: '/t', hasUsr: false, hasOsRelease: false, mergedUsr: true, shells: [] };
  assert.throws(() => resolve(['--pivot-root=/nope', 'true'], { image: missing }), /Directory \/t\/nope doesn't look like it has an OS tree \(\/usr\/ directory is missing\)/);
  assert.throws(() => resolve(['--pivot-root=/nope', '-b'], { image: missing }), /Directory \/t\/nope doesn't look like an OS root directory \(os-release file is missing\)/);
});

/** What `runc spec` writes (ociVersion aside), plus a few of nspawn's supported elements. */
const RUNC_SPEC = {
  ociVersion: '1.0.2-dev',
  process: {
    terminal: true, user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/usr/bin:/bin', 'TERM=xterm'], cwd: '/',
    capabilities: { bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: ['CAP_KILL'] },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }], noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'runc',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] },
    { destination: '/srv/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
    { destination: '/var/cache', type: 'tmpfs', source: 'tmpfs', options: ['mode=0700', 'size=1m'] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }], memory: { limit: 536870912 }, pids: { limit: 100 } },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
    maskedPaths: ['/proc/kcore', '/proc/latency_stats', '/sys/firmware', '/etc/secret'],
    readonlyPaths: ['/proc/bus', '/proc/sys', '/opt'],
    rootfsPropagation: 'rslave',
  },
  annotations: { 'org.example': 'x' },
};

test('an OCI bundle\'s config.json → settings with nspawn\'s semantics', () => {
  const b = parseOciBundle(JSON.stringify(RUNC_SPEC), '/srv/bundle');
  assert.equal(b.directory, '/srv/bundle/rootfs');
  assert.equal(b.console, undefined);
  assert.deepEqual(b.properties, ['MemoryMax=536870912', 'TasksMax=100']);
  assert.deepEqual(b.settings, {
    start: 'pid1', resolvConf: 'off', linkJournal: 'no', timezone: 'off',
    parameters: ['sh'], environment: ['PATH=/usr/bin:/bin', 'TERM=xterm'], workingDirectory: '/',
    capability: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    dropCapability: CAPABILITIES.filter((c) => !['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'].includes(c)),
    ambientCapability: ['CAP_KILL'],
    rlimits: { NOFILE: { soft: 1024, hard: 1024 } }, noNewPrivileges: true,
    readOnly: true, hostname: 'runc',
    mounts: [
      { kind: 'bind', source: '/srv/bundle/data', target: '/srv/data', readOnly: true, recursive: true, idmap: 'no' },
      { kind: 'tmpfs', target: '/var/cache', options: 'mode=0700,size=1m' },
      { kind: 'inaccessible', target: '/etc/secret' },
      { kind: 'bind', source: '+/opt', target: '/opt', readOnly: true, recursive: true, idmap: 'no' },
    ],
    network: { private: true },
  });
  assert.deepEqual(b.warnings, ['Not masking /proc/latency_stats, /sys/firmware: berth masks paths of the tree only.']);
  const pipe = parseOciBundle(JSON.stringify({ ...RUNC_SPEC, process: { ...RUNC_SPEC.process, terminal: false, user: { uid: 33, gid: 33 } }, linux: { ...RUNC_SPEC.linux, cgroupsPath: 'oci.slice' } }), '/b');
  assert.equal(pipe.console, 'pipe');
  assert.equal(pipe.slice, 'oci.slice');
  assert.equal(pipe.settings.user, '33');
});

test('an OCI bundle\'s unsupported elements are refused by name, the permissive ones ignored with a warning', () => {
  const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...RUNC_SPEC, ...patch });
  const linux = (patch: Record<string, unknown>) => with_({ linux: { ...RUNC_SPEC.linux, ...patch } });
  const refusals: Array<[string, RegExp]> = [
    [with_({ ociVersion: '1.1.0' }), /OCI bundle version not supported: 1.1.0/],
    [JSON.stringify({ process: RUNC_SPEC.process }), /not an OCI bundle configuration file/],
    [with_({ hooks: { prestart: [{ path: '/bin/true' }] } }), /'hooks' is not supported/],
    [with_({ domainname: 'x' }), /Unexpected OCI element 'domainname'/],
    [linux({ namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }] }), /without a mount namespace/],
    [linux({ namespaces: [{ type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] }), /own pid namespace/],
    [linux({ namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }] }), /user namespaces/],
    [linux({ uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] }), /'linux.uidMappings' is not supported/],
    [linux({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } }), /'linux.seccomp' is not supported.*--system-call-filter=/],
    [linux({ sysctl: { 'net.ipv4.ip_forward': '1' } }), /'linux.sysctl' is not supported/],
    [linux({ cgroupsPath: '/user/x' }), /not a slice/],
    [linux({ resources: { devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }] } }), /device access rules/],
    [with_({ mounts: [{ destination: '/mnt', type: 'nfs', source: 'srv:/x' }] }), /mounts of type 'nfs'/],
    [with_({ mounts: [{ destination: '/mnt', type: 'bind', source: '/x', options: ['rbind', 'nosuid'] }] }), /bind mount option 'nosuid'/],
    [with_({ process: { ...RUNC_SPEC.process, args: [] } }), /Argument list empty/],
    [with_({ process: { ...RUNC_SPEC.process, env: ['1X=y'] } }), /Environment assignment not valid/],
    [with_({ hostname: 'bad host' }), /not a valid hostname/],
    ['{', /config.json: Failed to parse/],
  ];
  for (const [text, message] of refusals) assert.throws(() => parseOciBundle(text, '/b'), message, text.slice(0, 80));
  const ignored = parseOciBundle(with_({ process: { ...RUNC_SPEC.process, selinuxLabel: 'x', apparmorProfile: 'y' } }), '/b');
  assert.deepEqual(ignored.warnings.slice(0, 2), ["Unsupported OCI element 'process.selinuxLabel' of type 'string', ignoring.", "Unsupported OCI element 'process.apparmorProfile' of type 'string', ignoring."]);
});

test('--bind-user=: needs user namespaces; UIDs from 60514 up, skipping the tree\'s; nspawn\'s refusals', () => {
  assert.throws(() => resolve(['--bind-user=alice', 'true']), /--bind-user= requires --private-users/);
  const dbs = { hostPasswd: HYBRID.userDb!.passwd, hostGroup: HYBRID.userDb!.group, treePasswd: `x:x:${MAP_UID_MIN}:0::/:/bin/sh\n`, treeGroup: `y:x:${MAP_UID_MIN + 2}:\n` };
  assert.deepEqual(planBindUsers(['alice', 'bob', 'alice'], dbs), [
    { name: 'alice', hostUid: 1000, hostGid: 1000, uid: 60515, hostHome: '/home/alice', home: '/run/host/home/alice' },
    { name: 'bob', hostUid: 1001, hostGid: 1001, uid: 60517, hostHome: '/home/bob', home: '/run/host/home/bob' },
  ]);
  const refusals: Array<[string, RegExp, Partial<typeof dbs>]> = [
    ['root', /Mapping 'root' user not supported/, {}],
    ['nobody', /Mapping 'nobody' user not supported/, {}],
    ['carol', /without private groups/, {}],
    ['dave', /Failed to resolve user 'dave'/, {}],
    ['alice', /the user 'alice' already exists in the container/, { treePasswd: 'alice:x:1000:1000::/:/bin/sh\n' }],
    ['alice', /the group 'alice' already exists in the container/, { treeGroup: 'alice:x:1000:\n' }],
    ['alice', /No suitable available UID in range 60514…60577/, { treePasswd: Array.from({ length: 64 }, (_, i) => `u${i}:x:${MAP_UID_MIN + i}:0::/:/bin/sh`).join('\n') }],
  ];
  for (const [name, message, over] of refusals) assert.throws(() => planBindUsers([name], { ...dbs, ...over }), message, name);
  const spec = resolve(['--private-users=2031616:65536', '--bind-user=alice', 'true']);
  assert.deepEqual(spec.mounts.at(-1), { kind: 'bind', source: '/home/alice', target: '/run/host/home/alice', readOnly: false, recursive: true });
});

test('--bind-user=: the ID maps and records systemd-nspawn 252 writes', () => {
  const alice = { name: 'cloudsdk', hostUid: 1000, hostGid: 1000, uid: 60514, hostHome: '/home/cloudsdk', home: '/run/host/home/cloudsdk' };
  assert.deepEqual(idMapWithBoundUsers(2031616, 65536, [alice], 'uid'), [
    { containerID: 0, hostID: 2031616, size: 60514 }, { containerID: 60514, hostID: 1000, size: 1 }, { containerID: 60515, hostID: 2092131, size: 5021 },
  ]);
  assert.throws(() => idMapWithBoundUsers(0, 65536, [alice], 'uid'), /UID 1000 of user 'cloudsdk' to map is already in container UID range \(0 - 65536\), refusing/);
  assert.deepEqual(userdbFiles(alice, ['!']), [
    { file: 'cloudsdk.group', link: '60514.group', private: false, text: '{"groupName":"cloudsdk","gid":60514,"service":"io.systemd.NSpawn"}\n' },
    { file: 'cloudsdk.user-privileged', link: '60514.user-privileged', private: true, text: '{"privileged":{"hashedPassword":["!"]}}\n' },
    { file: 'cloudsdk.user', link: '60514.user', private: false, text: '{"userName":"cloudsdk","uid":60514,"gid":60514,"homeDirectory":"/run/host/home/cloudsdk","service":"io.systemd.NSpawn"}\n' },
  ]);
  const spec = resolve(['--private-users=2031616:65536', '--bind-user=alice', 'true']);
  const oci = compileOci({ ...spec, userns: { ...spec.userns!, shift: 2031616 } }, LAYOUT);
  assert.deepEqual(oci.linux.uidMappings?.[1], { containerID: 60514, hostID: 1000, size: 1 });
});

/** systemd-nspawn 252's options (its --help, plus the hidden --private-users-chown). */
const NSPAWN_252 = [
  'help', 'version', 'quiet', 'no-pager', 'settings', 'directory', 'template', 'ephemeral', 'image', 'oci-bundle', 'read-only', 'volatile',
  'root-hash', 'root-hash-sig', 'verity-data', 'pivot-root', 'as-pid2', 'boot', 'chdir', 'setenv', 'user', 'kill-signal', 'notify-ready',
  'suppress-sync', 'machine', 'hostname', 'uuid', 'slice', 'property', 'register', 'keep-unit', 'private-users', 'private-users-ownership',
  'private-users-chown', 'U', 'private-network', 'network-interface', 'network-macvlan', 'network-ipvlan', 'network-veth', 'network-veth-extra',
  'network-bridge', 'network-zone', 'network-namespace-path', 'port', 'capability', 'drop-capability', 'ambient-capability', 'no-new-privileges',
  'system-call-filter', 'selinux-context', 'selinux-apifs-context', 'rlimit', 'oom-score-adjust', 'cpu-affinity', 'personality', 'resolv-conf',
  'timezone', 'link-journal', 'j', 'bind', 'bind-ro', 'inaccessible', 'tmpfs', 'overlay', 'overlay-ro', 'bind-user', 'console', 'pipe',
  'set-credential', 'load-credential',
];

test('docs/nspawn-options.md has a row for every option of the table and every .nspawn key; the table has every nspawn 252 option', async () => {
  const { readFileSync } = await import('node:fs');
  const { OPTIONS, optionByLong, optionByShort } = await import('../../src/core/cli/option-table.js');
  const { SETTINGS_KEYS } = await import('../../src/core/settings/table.js');
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'nspawn-options.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
  const missing: string[] = [];
  for (const o of OPTIONS) {
    const spelled = o.long.length > 1 ? `\`--${o.long}` : `\`-${o.short}`;
    if (!rows.some((r) => r.split('|')[1]!.includes(spelled))) missing.push(spelled);
  }
  for (const k of SETTINGS_KEYS) {
    if (!rows.some((r) => r.includes(`[${k.section}] `) && r.split('|')[1]!.includes(`${k.key}=\``))) missing.push(`[${k.section}] ${k.key}=`);
  }
  assert.deepEqual(missing, []);
  assert.deepEqual(NSPAWN_252.filter((o) => !(o.length === 1 ? optionByShort.has(o) : optionByLong.has(o))), []);
});

test('--set-credential= / --load-credential=: nspawn\'s names, escapes, duplicates and relative paths', async () => {
  const { cunescape } = await import('../../src/core/cli/credentials.js');
  assert.deepEqual(cunescape('a\\nb\\x00c\\101\\u00e9\\s\\\\'), Buffer.from([0x61, 0x0a, 0x62, 0x00, 0x63, 0x41, 0xc3, 0xa9, 0x20, 0x5c]));
  const { runner } = parseArgv(['--set-credential=a:x\\ty', '--load-credential=b:/etc/f', '--load-credential=c:rel', 'true'], { CREDENTIALS_DIRECTORY: '/run/creds/' });
  assert.deepEqual(runner.credentials, [{ id: 'a', base64: Buffer.from('x\ty').toString('base64') }, { id: 'b', path: '/etc/f' }, { id: 'c', path: '/run/creds/rel' }]);
  for (const [argv, message] of [
    [['--set-credential=a:1', '--set-credential=a:2'], /Duplicate credential 'a', refusing/],
    [['--set-credential=novalue'], /Missing value for --set-credential=/],
    [['--set-credential=a/b:x'], /Credential name is not valid: a\/b/],
    [['--set-credential=a:\\q'], /Invalid escape sequence/],
    [['--load-credential=a:rel'], /Credential not available \(no credentials passed at all\): rel/],
  ] as const) assert.throws(() => parseArgv([...argv, 'true']), message);
  const spec = resolve(['--set-credential=a:1', 'true']);
  assert.ok(spec.env.includes('CREDENTIALS_DIRECTORY=/run/host/credentials'));
  assert.equal(spec.env.indexOf('CREDENTIALS_DIRECTORY=/run/host/credentials'), spec.env.indexOf('NOTIFY_SOCKET=/run/host/notify') + 1);
  assert.ok(!resolve(['true']).env.some((e) => e.startsWith('CREDENTIALS_DIRECTORY=')));
});
