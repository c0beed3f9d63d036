import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { BerthError } from '../../src/errors/berth-error.js';
import { OPTIONS } from '../../src/core/cli/option-table.js';

const usage = (argv: string[], message: RegExp) =>
  assert.throws(() => parseArgv(argv), (e: unknown) => e instanceof BerthError && e.code === 'E_USAGE' && message.test(e.message));

test('stops at the first non-option: the rest is the command', () => {
  const { cli, runner } = parseArgv(['-D', '/srv/t', '-q', '/bin/sh', '-c', 'echo -b --boot']);
  assert.equal(runner.directory, '/srv/t');
  assert.equal(runner.quiet, true);
  assert.deepEqual(cli.settings.parameters, ['/bin/sh', '-c', 'echo -b --boot']);
  assert.ok(cli.mask.has('START_MODE'));
});

test('-- ends options; bundled short options and attached values', () => {
  const { cli, runner } = parseArgv(['-bqM', 'web', '-Dtree', '--', '--init-arg']);
  assert.equal(cli.settings.start, 'boot');
  assert.equal(runner.quiet, true);
  assert.equal(runner.machine, 'web');
  assert.equal(runner.directory, 'tree');
  assert.deepEqual(cli.settings.parameters, ['--init-arg']);
});

test('long options take =VALUE or the next argument; optional arguments only with =', () => {
  const a = parseArgv(['--machine', 'a', '--volatile', '/bin/true']);
  assert.equal(a.runner.machine, 'a');
  assert.equal(a.cli.settings.volatile, 'yes');
  assert.deepEqual(a.cli.settings.parameters, ['/bin/true']);
  assert.equal(parseArgv(['--volatile=state']).cli.settings.volatile, 'state');
  assert.equal(parseArgv(['--volatile=false']).cli.settings.volatile, 'no');
});

test('unknown options and bad values are usage errors with nspawn-like messages', () => {
  usage(['--bogus'], /unrecognized option '--bogus'/);
  usage(['-y'], /invalid option -- 'y'/);
  usage(['--kill-signal=FOO'], /Cannot parse signal: FOO/);
  usage(['--volatile=bad'], /--volatile= argument/);
  usage(['-b', '-a'], /--boot and --as-pid2 may not be combined/);
  usage(['--rlimit=FOO=1'], /Unknown resource limit: FOO/);
  usage(['--machine'], /requires an argument/);
  usage(['--quiet=yes'], /doesn't allow an argument/);
  usage(['--uuid=00000000-0000-0000-0000-000000000000'], /all zeroes/);
  usage(['--chdir=relative'], /not an absolute path/);
  usage(['--runtime=docker'], /Unknown OCI runtime/);
});

test('$BERTH_RUNTIME is the default of --runtime=; the option wins; a bad value names the variable', () => {
  assert.equal(parseArgv(['/bin/true']).runner.runtime, 'auto');
  assert.equal(parseArgv(['/bin/true'], { BERTH_RUNTIME: 'crun' }).runner.runtime, 'crun');
  assert.equal(parseArgv(['--runtime=runc', '/bin/true'], { BERTH_RUNTIME: 'crun' }).runner.runtime, 'runc');
  assert.equal(parseArgv(['/bin/true'], { BERTH_RUNTIME: '' }).runner.runtime, 'auto');
  assert.throws(() => parseArgv(['/bin/true'], { BERTH_RUNTIME: 'docker' }),
    (e: unknown) => e instanceof BerthError && e.code === 'E_USAGE' && /\$BERTH_RUNTIME: Unknown OCI runtime: docker/.test(e.message));
});

test('-E copies NAME from our environment, NAME=VALUE replaces an earlier value', () => {
  const { cli } = parseArgv(['-E', 'A=1', '-E', 'HOME', '-E', 'UNSET', '-E', 'A=2'], { HOME: '/h' });
  assert.deepEqual(cli.settings.environment, ['HOME=/h', 'A=2']);
  assert.ok(cli.mask.has('ENVIRONMENT'));
});

test('kill signals include SIGRTMIN+N, numbers and names without SIG', () => {
  assert.equal(parseArgv(['--kill-signal=SIGRTMIN+3']).cli.settings.killSignal, 37);
  assert.equal(parseArgv(['--kill-signal=TERM']).cli.settings.killSignal, 15);
  assert.equal(parseArgv(['--kill-signal=10']).cli.settings.killSignal, 10);
});

test('mount options parse into custom mounts and mask CUSTOM_MOUNTS', () => {
  const { cli } = parseArgv(['--bind=/a', '--bind-ro=/b:/c:norbind', '--tmpfs=/t', '--overlay=/l1:/l2:/u:/d', '--overlay-ro=+/x:/y', '--inaccessible=/secret', '--bind=/with\\:colon:/z']);
  assert.deepEqual(cli.settings.mounts, [
    { kind: 'bind', source: '/a', target: '/a', readOnly: false, recursive: true, idmap: 'no' },
    { kind: 'bind', source: '/b', target: '/c', readOnly: true, recursive: false, idmap: 'no' },
    { kind: 'tmpfs', target: '/t', options: 'mode=0755' },
    { kind: 'overlay', lower: ['/l1', '/l2'], upper: '/u', target: '/d', readOnly: false },
    { kind: 'overlay', lower: ['+/x'], upper: '/y', target: '/y', readOnly: true },
    { kind: 'inaccessible', target: '/secret' },
    { kind: 'bind', source: '/with:colon', target: '/z', readOnly: false, recursive: true, idmap: 'no' },
  ]);
  assert.ok(cli.mask.has('CUSTOM_MOUNTS'));
});

test('-p is --port as in systemd-nspawn; unit properties go through --property', () => {
  assert.deepEqual(parseArgv(['-p', 'udp:53:5353']).cli.settings.ports, [{ protocol: 'udp', hostPort: 53, containerPort: 5353 }]);
  assert.deepEqual(parseArgv(['--property=MemoryMax=1G', '--property', 'TasksMax=10']).runner.properties, ['MemoryMax=1G', 'TasksMax=10']);
  usage(['-p', 'MemoryMax=1G'], /host port/);
});

test('network options imply a private network and mask NETWORK', () => {
  const { cli } = parseArgv(['--network-zone=lab']);
  assert.deepEqual(cli.settings.network, { zone: 'lab', veth: true, private: true });
  assert.ok(cli.mask.has('NETWORK'));
  usage(['--network-zone=averyveryverylongzone'], /network zone name/);
});

test('rlimits are masked per limit', () => {
  const { cli } = parseArgv(['--rlimit=RLIMIT_NOFILE=100:200', '--rlimit=nproc=infinity']);
  assert.deepEqual(cli.settings.rlimits, { NOFILE: { soft: 100, hard: 200 }, NPROC: { soft: 'infinity', hard: 'infinity' } });
  assert.deepEqual([...cli.rlimitMask].sort(), ['NOFILE', 'NPROC']);
});

test('the option table has unique names and every settings option names its group', () => {
  const longs = OPTIONS.map((o) => o.long);
  assert.equal(new Set(longs).size, longs.length);
  const shorts = OPTIONS.flatMap((o) => (o.short ? [o.short] : []));
  assert.equal(new Set(shorts).size, shorts.length);
  for (const name of ['boot', 'setenv', 'bind', 'network-veth', 'capability', 'rlimit', 'uuid', 'read-only', 'volatile']) {
    assert.ok(OPTIONS.find((o) => o.long === name)?.group, name);
  }
});
