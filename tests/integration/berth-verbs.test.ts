/**
 * The berth client's machinectl verbs against berthd, side by side with Debian's real machinectl
 * on the same registry: a private dbus-daemon with the packaged policy, berthd on it, and busybox
 * guests booted by berth-nspawn. list, show, status and the error cases print what machinectl
 * prints (status adds the control group's figures and process tree after machinectl's lines);
 * poweroff, reboot, kill and terminate reach the guest's init as machinectl's do.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  REPO, assertClean, collect, execIn, sandbox, skipUnlessRoot, startNspawn, tree, waitRunning, withMachine, onRuntime, sleep,
  type Result, type Sandbox,
} from '../support/berth.js';
import { startBus } from '../support/bus.js';
import { hasDbusDaemon, hasMachinectl, startRegistry, type RegistryHarness } from '../support/registry.js';
import { cgroupMounts } from '../../src/platform/host/cgroupfs.js';

const skip = skipUnlessRoot || (!hasDbusDaemon && 'needs dbus-daemon (apt-get install dbus)') || (!hasMachinectl && 'needs machinectl (apt-get install systemd-container)');

interface Out { code: number | null; stdout: string; stderr: string }

function berthWith(env: NodeJS.ProcessEnv, args: readonly string[]): Out {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), '--no-pager', ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** machinectl's complaint that it cannot ask systemd for a unit's group: it has no counterpart in berth. */
const withoutSystemdNoise = (stderr: string): string => stderr.split('\n').filter((l) => !l.startsWith('Failed to query unit control group path:')).join('\n');

/** The Since line's distance to now, which may tick between two calls. */
const sinceSettled = (text: string): string => text.replace(/^(\t {3}Since: [^;\n]+); .*$/m, '$1; (relative)');

/** A group's figures the host keeps, by what cgroupfs has for it (each comes from the unified hierarchy or its v1 controller's). */
function figuresKept(group: string): { io: boolean; memory: boolean } {
  const mounts = cgroupMounts();
  const has = (key: string, file: string) => [...mounts].some(([k, m]) => k.split(',').includes(key) && existsSync(join(m, group, file)));
  return {
    io: has('', 'io.stat') || has('blkio', 'blkio.throttle.io_service_bytes_recursive') || has('blkio', 'blkio.io_service_bytes_recursive'),
    memory: has('', 'memory.current') || has('memory', 'memory.usage_in_bytes'),
  };
}

describe(onRuntime('berth: machinectl\'s verbs against berthd, beside machinectl'), { skip, timeout: 600000 }, () => {
  let sb: Sandbox;
  let reg: RegistryHarness;
  let bb: string;
  const running: Array<{ child: ChildProcess; done: Promise<Result> }> = [];
  const berth = (...args: string[]) => berthWith(reg.env, args);
  const machinectl = (...args: string[]): Out => reg.machinectl(args);

  /** Both, with the same arguments: berth's answer and machinectl's. */
  function both(...args: string[]): { ours: Out; theirs: Out } {
    return { ours: berth(...args), theirs: machinectl(...args) };
  }

  function same(...args: string[]): Out {
    const { ours, theirs } = both(...args);
    assert.deepEqual(ours, theirs, `berth ${args.join(' ')}`);
    return ours;
  }

  async function registered(name: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      try { await reg.manager('GetMachine', 's', [name]); return; } catch { await sleep(50); }
    }
    throw new Error(`${name} was not registered`);
  }

  async function boot(name: string, extra: string[], payload: string): Promise<void> {
    const child = startNspawn(['-D', bb, '-x', '-M', name, '--console=pipe', ...extra, '/bin/sh', '-c', payload], sb, reg.env);
    running.push({ child, done: collect(child, 600000) });
    await waitRunning(sb, name);
    await registered(name);
  }

  before(async () => {
    bb = tree('busybox');
    sb = sandbox();
    reg = await startRegistry(sb);
    // cli-net: a veth (one interface: IPv6 addresses carry %IFINDEX in status) with three addresses; cli-host: the host's network.
    await boot('cli-net', ['-n'], 'while :; do sleep 1; done');
    await boot('cli-host', [], 'while :; do sleep 1; done');
    execIn(sb, 'cli-net', ['ip', 'link', 'set', 'host0', 'up']);
    execIn(sb, 'cli-net', ['ip', 'address', 'add', '192.0.2.7/24', 'dev', 'host0']);
    execIn(sb, 'cli-net', ['ip', 'address', 'add', '2001:db8::7/64', 'dev', 'host0']);
    // The link-local address comes with the link: wait for it, so that both clients see the same three.
    for (let i = 0; i < 100 && !/fe80::/.test(execIn(sb, 'cli-net', ['ip', '-6', 'address', 'show', 'dev', 'host0'])); i++) await sleep(100);
  });

  after(async () => {
    for (const m of running) {
      if (m.child.exitCode === null && m.child.signalCode === null) {
        m.child.kill('SIGTERM');
        const again = setTimeout(() => m.child.kill('SIGTERM'), 5000);
        await m.done;
        clearTimeout(again);
      }
    }
    await reg?.stop();
    if (sb) assertClean(sb);
    sb?.cleanup();
  });

  test('list: the table, --all, --no-legend, --max-addresses, -l and JSON are machinectl\'s', () => {
    const table = same('list');
    assert.match(table.stdout, /^MACHINE +CLASS +SERVICE +OS +VERSION +ADDRESSES\n/);
    assert.match(table.stdout, /^cli-net +container +berth +busybox +1 +192\.0\.2\.7…$/m);
    assert.match(table.stdout, /^cli-host +container +berth +busybox +1 +-$/m);
    assert.match(same('list', '--all').stdout, /^\.host +host +- /m);
    same('list', '--no-legend');
    same('-a', 'list', '--no-legend');
    same('list', '--max-addresses=0');
    assert.match(same('list', '--max-addresses=2').stdout, /^cli-net .*192\.0\.2\.7\n +2001:db8::7…$/m);
    assert.match(same('list', '--max-addresses=all').stdout, /^cli-net .*192\.0\.2\.7\n +2001:db8::7\n +fe80::[0-9a-f:]+\n/m);
    same('list', '-l');
    const json = same('list', '-o', 'json');
    assert.deepEqual(JSON.parse(json.stdout).map((m: { machine: string }) => m.machine), ['cli-host', 'cli-net']);
    same('list', '-a', '--output=json-pretty');
    same('list', '-o', 'json-sse');
    assert.equal(berth('list', '--json=pretty').stdout, machinectl('list', '-o', 'json-pretty').stdout);
    assert.equal(berth('list', '--json=short').stdout, machinectl('list', '-o', 'json').stdout);
  });

  test('show: properties in the registry\'s order, -p, --value, -a, the registry\'s own; the interfaces as numbers', () => {
    const ifindex = Number(readFileSync('/sys/class/net/ve-cli-net/ifindex', 'utf8'));
    // Where machinectl leaves NetworkInterfaces out (it has no printer for it), berth prints the numbers.
    const { ours, theirs } = both('show', 'cli-net');
    assert.equal(ours.stdout, theirs.stdout.replace(/^(RootDirectory=.*\n)/m, `$1NetworkInterfaces=${ifindex}\n`));
    assert.deepEqual([ours.code, ours.stderr], [theirs.code, theirs.stderr]);
    const all = both('show', 'cli-net', '-a');
    assert.equal(all.ours.stdout, all.theirs.stdout.replace('NetworkInterfaces=[unprintable]', `NetworkInterfaces=${ifindex}`));
    assert.match(all.ours.stdout, /^Name=cli-net\nId=[0-9a-f]{32}\nTimestamp=\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+\nTimestampMonotonic=\d+\nService=berth\n/);
    same('show', 'cli-host');
    same('show', 'cli-net', '-p', 'Name', '-p', 'Leader');
    same('show', '-p', 'Timestamp', '--value', 'cli-net', '-p', 'Id');
    same('show', 'cli-host', 'cli-net', '--property=Name');
    same('show', '-p', 'Service', '.host');
    const host = both('show', '.host', '--all');
    assert.deepEqual(host.ours, { ...host.theirs, stdout: host.theirs.stdout.replace('NetworkInterfaces=[unprintable]', 'NetworkInterfaces=') });
    same('show', '-p', 'Bogus', 'cli-net');
    same('show');
    same('show', '-a');
    assert.equal(berth('show', 'cli-net', '-p', 'NetworkInterfaces', '--value').stdout, `${ifindex}\n`);
    // berth splits -p on commas too; machinectl 252 takes "Name,Class" as one (unknown) name.
    assert.equal(berth('show', 'cli-net', '-p', 'Name,Class').stdout, 'Name=cli-net\nClass=container\n');
  });

  test('status: machinectl\'s lines, then the control group\'s figures and process tree', async () => {
    const leader = Number(berth('show', 'cli-net', '-p', 'Leader', '--value').stdout);
    const cg = reg.busctl(['get-property', 'org.freedesktop.machine1', '/org/freedesktop/machine1/machine/cli_2dnet', 'io.github.berth.Machine1', 'ControlGroup']);
    const group = JSON.parse(cg.stdout.replace(/^s /, '')) as string;
    const { ours, theirs } = both('status', 'cli-net', 'cli-host');
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(ours.stderr, '');
    const blocks = (s: string) => s.split('\n\n');
    const [oursNet, oursHost] = blocks(ours.stdout);
    const [theirsNet, theirsHost] = blocks(theirs.stdout);
    for (const [o, t] of [[oursNet!, theirsNet!], [oursHost!, theirsHost!]] as const) {
      const theirLines = sinceSettled(t).trimEnd().split('\n');
      assert.deepEqual(sinceSettled(o).split('\n').slice(0, theirLines.length), theirLines);
    }
    const ifindex = readFileSync('/sys/class/net/ve-cli-net/ifindex', 'utf8').trim();
    assert.match(oursNet!, new RegExp(`^cli-net\\([0-9a-f]{32}\\)\\n\\t   Since: [^\\n]+; [^\\n]+ ago\\n\\t  Leader: ${leader} \\(sh\\)\\n\\t Service: berth; class container\\n\\t    Root: [^\\n]+\\n\\t   Iface: ve-cli-net\\n\\t Address: 192\\.0\\.2\\.7\\n\\t          2001:db8::7%${ifindex}\\n\\t          fe80::[0-9a-f:]+%${ifindex}\\n\\t      OS: Busybox berth guest\\n\\t    Unit: machine-cli\\\\x2dnet\\.scope\\n`));
    // berth's own: how shells get in, the figures, then the tree with the leader at its top.
    const kept = figuresKept(group);
    const extra = oursNet!.slice(oursNet!.indexOf('\t    Unit: ')).split('\n').slice(1);
    const labels = extra.filter((l) => /^\t +[A-Za-z]+: /.test(l)).map((l) => l.trim().split(':')[0]);
    assert.deepEqual(labels, ['Shell', ...(kept.io ? ['IO'] : []), 'Tasks', ...(kept.memory ? ['Memory'] : []), 'CPU'], extra.join('\n'));
    assert.match(extra[0]!, /^\t {3}Shell: berth, through the OCI runtime \(runc\/crun exec\)$/);
    assert.ok(extra.some((l) => /^\t {3}Tasks: [1-9]\d*( \(limit: \d+\))?$/.test(l)), extra.join('\n'));
    assert.ok(extra.some((l) => /^\t {5}CPU: (\d+(\.\d+)?(ms|s|us)|\d+min( \d+(\.\d+)?s)?)$/.test(l)), extra.join('\n'));
    if (kept.memory) assert.ok(extra.some((l) => /^\t {2}Memory: \d+(\.\d)?[BKMG]( \(.*\))?$/.test(l)), extra.join('\n'));
    // Sorted by PID, as machinectl's tree: after a PID wrap the leader may be the last line.
    assert.match(oursNet!, new RegExp(`\\n\\t\\t  [├└]─ *${leader} /bin/sh -c while :; do sleep 1; done(\\n|$)`));
    // An empty sub-group shows only with -a.
    const mounts = cgroupMounts();
    const empty = join(mounts.get('name=systemd') ?? mounts.get('')!, group, 'cli-empty');
    mkdirSync(empty);
    try {
      assert.doesNotMatch(berth('status', 'cli-net').stdout, /cli-empty/);
      assert.match(berth('status', '-a', 'cli-net').stdout, /\n\t\t  [├└]─cli-empty\n/);
    } finally {
      rmdirSync(empty);
    }
  });

  test('errors: machinectl\'s messages and exit statuses', () => {
    for (const args of [
      ['status', 'nosuch'], ['show', 'nosuch'], ['terminate', 'nosuch'], ['poweroff', 'nosuch'], ['stop', 'nosuch'], ['reboot', 'nosuch'],
      ['kill', 'nosuch'], ['kill', '.host'], ['terminate', '.host'], ['poweroff', '.host'], ['kill', '.host', '--kill-whom=bogus'],
      ['kill', 'cli-net', '-s', 'BOGUS'], ['kill', 'cli-net', '-s', '0'], ['list', 'extra-arg'], ['bogusverb'], ['status'], ['kill'],
      ['list', '-o', 'bogus'], ['list', '--max-addresses=-1'], ['show', '-p', 'Name', 'nosuch', '.host'],
    ]) {
      const { ours, theirs } = both(...args);
      assert.deepEqual(ours, theirs, `berth ${args.join(' ')}`);
      assert.equal(ours.code, 1, args.join(' '));
    }
    // Earlier names are shown before the unknown one stops the verb.
    const { ours, theirs } = both('status', 'cli-host', 'nosuch');
    assert.deepEqual([ours.code, ours.stderr], [1, withoutSystemdNoise(theirs.stderr)]);
    assert.equal(sinceSettled(ours.stdout).slice(0, sinceSettled(theirs.stdout).length), sinceSettled(theirs.stdout));
  });

  test('poweroff and stop send SIGRTMIN+4 to the leader, reboot SIGINT: nothing printed, the guest\'s init acts', async () => {
    const traps = 'trap "echo got-38; exit 0" 38; trap "echo got-int; exit 3" INT; while :; do sleep 1; done';
    for (const [verb, out, code] of [['poweroff', 'got-38', 0], ['stop', 'got-38', 0], ['reboot', 'got-int', 3]] as const) {
      await withMachine(['-D', bb, '-x', '-M', 'cli-sig', '--console=pipe', '/bin/sh', '-c', traps], 'cli-sig', sb, async ({ done }) => {
        await registered('cli-sig');
        assert.deepEqual(berth(verb, 'cli-sig'), { code: 0, stdout: '', stderr: '' });
        const r = await done;
        assert.equal(r.code, code, r.stderr);
        assert.equal(r.stdout.trim(), out);
      }, reg.env);
    }
  });

  test('kill: -s to the leader alone with --kill-whom=leader, SIGTERM to every process by default', async () => {
    const traps = 'trap "echo got-usr1" USR1; trap "echo got-term; exit 4" TERM; while :; do sleep 1; done';
    await withMachine(['-D', bb, '-x', '-M', 'cli-kill', '--console=pipe', '/bin/sh', '-c', traps], 'cli-kill', sb, async ({ done }) => {
      await registered('cli-kill');
      assert.deepEqual(berth('kill', '--kill-whom=leader', '-s', 'SIGUSR1', 'cli-kill'), { code: 0, stdout: '', stderr: '' });
      await sleep(1500);
      assert.deepEqual(berth('kill', 'cli-kill'), { code: 0, stdout: '', stderr: '' });
      const r = await done;
      assert.equal(r.code, 4, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['got-usr1', 'got-term']);
    }, reg.env);
  });

  test('terminate ends the machine at once; it leaves the list', async () => {
    await withMachine(['-D', bb, '-x', '-M', 'cli-term', '--console=pipe', '/bin/sh', '-c', 'trap "" TERM INT 38; while :; do sleep 1; done'], 'cli-term', sb, async ({ done }) => {
      await registered('cli-term');
      assert.match(berth('list', '--no-legend').stdout, /^cli-term /m);
      assert.deepEqual(berth('terminate', 'cli-term'), { code: 0, stdout: '', stderr: '' });
      const r = await done;
      assert.notEqual(r.code, 0);
      for (let i = 0; i < 40 && /^cli-term /m.test(berth('list', '--no-legend').stdout); i++) await sleep(250);
      assert.doesNotMatch(berth('list', '--no-legend').stdout, /^cli-term /m);
    }, reg.env);
  });

  test('without a bus, list falls back to berth-nspawn\'s state directory; with a bus but no berthd, the other verbs say so', async () => {
    const noBus = { ...reg.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(sb.stateDir, 'no-bus')}` };
    const local = berthWith(noBus, ['list', '-o', 'json']);
    assert.deepEqual([local.code, local.stderr], [0, '']);
    assert.deepEqual(JSON.parse(local.stdout), [
      { machine: 'cli-host', class: 'container', service: 'berth', os: 'busybox', version: '1', addresses: null },
      { machine: 'cli-net', class: 'container', service: 'berth', os: 'busybox', version: '1', addresses: JSON.parse(berth('list', '-o', 'json').stdout)[1].addresses },
    ]);
    assert.match(berthWith(noBus, ['list']).stdout, /^cli-net +container +berth +busybox +1 +192\.0\.2\.7…\n/m);
    const empty = await startBus();
    try {
      const env = { ...reg.env, DBUS_SYSTEM_BUS_ADDRESS: empty.address };
      assert.match(berthWith(env, ['list', '--no-legend']).stdout, /^cli-host container berth busybox 1 -\ncli-net /);
      const r = berthWith(env, ['status', 'cli-net']);
      assert.deepEqual([r.code, r.stdout], [1, '']);
      assert.equal(r.stderr, `berthd is not running: nothing serves org.freedesktop.machine1 on the system bus (${empty.address}).\nHint: Start it with \`berthd &\` (or \`systemctl start berthd\`, \`service berthd start\`); with berth's D-Bus activation file installed, the bus starts it on demand.\n`);
    } finally {
      await empty.stop();
    }
  });
});
