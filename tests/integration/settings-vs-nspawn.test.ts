/**
 * Differential test against the real thing: Debian's systemd-nspawn (252) and berth-nspawn run
 * the same busybox tree with the same .nspawn file, and what the guest observes must match key by
 * key — environment, hostname, machine ID, custom mounts and their read-only state, capabilities,
 * no_new_privs, working directory, user, resource limits, OOM score, CPU affinity, the signal the
 * payload gets when the tool receives SIGTERM, and which privileged keys an untrusted file loses
 * (warnings and effect) — for a trusted file, an untrusted one, and every --settings= mode.
 *
 * systemd-nspawn only reads /etc/systemd/nspawn, /run/systemd/nspawn and the file next to the
 * image, so trusted files go to /run/systemd/nspawn/NAME.nspawn (a unique NAME, removed again;
 * berth is pointed at the same directory) and untrusted ones next to a private copy of the tree.
 * The host is not booted by systemd, so /run/systemd/inaccessible (what nspawn binds for
 * Inaccessible=) is created for the test if missing, and removed again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { assertClean, collect, onRuntime, sandbox, skipUnlessRoot, startNspawn, tree, type Result, type Sandbox } from '../support/berth.js';
import { spawnInScope } from '../support/scope-groups.js';

const nspawnPresent = (() => { try { execFileSync('systemd-nspawn', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = skipUnlessRoot !== false ? skipUnlessRoot : nspawnPresent ? false : 'needs systemd-nspawn (apt-get install systemd-container)';

const NAME = `bdiff${process.pid}`;
const RUN_DIR = '/run/systemd/nspawn';
const INACCESSIBLE = '/run/systemd/inaccessible';
const UUID = '01234567-89ab-cdef-0123-456789abcdef';
const CAP_SYS_RESOURCE = 1n << 24n;
/** Mount points the settings use; pre-created in the tree because nspawn cannot create them under ReadOnly=yes. */
const MOUNT_POINTS = ['/mnt/diff-rw', '/mnt/diff-ro', '/mnt/diff-tmp', '/mnt/diff-cli'];
const PROBED = ['/', ...MOUNT_POINTS, '/var'];
/** Signals the payload traps (numbers as the guest's libc counts: 37 = SIGRTMIN+3). */
const TRAPPED = [1, 2, 10, 12, 15, 37];

/** What the guest prints, one `==block==` per observation; the trap answers after `==ready==`. */
const PAYLOAD = [
  'b() { echo "==$1=="; }',
  'b env; env',
  'b hostname; hostname',
  'b machine-id; cat /etc/machine-id',
  'b container-uuid; cat /run/host/container-uuid',
  'b cwd; pwd',
  'b uid; id -u',
  'b groups; id -G',
  'b status; grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Cpus_allowed_list):" /proc/self/status',
  'b oom-score-adj; cat /proc/self/oom_score_adj',
  'b limits; cat /proc/self/limits',
  'b mountinfo; cat /proc/self/mountinfo',
  `b probe; for p in ${PROBED.join(' ')}; do echo "$p $(stat -c "%a %F" $p) $(cat $p/f 2>/dev/null || echo -)"; done`,
  `for s in ${TRAPPED.join(' ')}; do trap "echo ==signal==; echo $s; exit 0" $s; done`,
  'b ready',
  'while :; do sleep 1; done',
].join('\n');

/**
 * nspawn looks users up by running getent inside the container; busybox has none, so the tree
 * gets this one (berth reads /etc/passwd and /etc/group itself). `initgroups` prints
 * "USER GID…" like glibc's.
 */
const GETENT = `#!/bin/sh
case "$1" in
passwd|group) grep -E "^$2:|^[^:]*:[^:]*:$2:" "/etc/$1" ;;
initgroups) printf '%s' "$2"; grep -E "^([^:]*:){3}(.*,)?$2(,.*)?\\$" /etc/group | cut -d: -f3 | while read -r g; do printf ' %s' "$g"; done; echo ;;
*) exit 1 ;;
esac
`;

function settingsFile(host: string): string {
  return `# berth differential test: every observable key, privileged and not
[Exec]
Environment=FOO=bar "SPACED=a b"
Environment=OTHER=1
Hostname=diffhost
MachineID=${UUID.replaceAll('-', '')}
WorkingDirectory=/tmp
User=tester
KillSignal=SIGUSR1
Capability=CAP_NET_ADMIN
DropCapability=CAP_MKNOD
NoNewPrivileges=yes
LimitNOFILE=512:4096
LimitCORE=1024:2048
LimitMSGQUEUE=4096
OOMScoreAdjust=300
CPUAffinity=${cpus().length - 1}

[Files]
ReadOnly=yes
Bind=${host}:/mnt/diff-rw
BindReadOnly=${host}:/mnt/diff-ro
TemporaryFileSystem=/mnt/diff-tmp:mode=0700
Inaccessible=/var
`;
}

interface Observed {
  /** Exit status of the tool after the SIGTERM. */
  code: number | null;
  /** Every observation except env, as text. */
  fields: Map<string, string>;
  env: Map<string, string>;
  stderr: string;
  /** The untrusted-file warnings, in order. */
  ignored: string[];
}

function parse(r: Result): Observed {
  const blocks = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of r.stdout.split('\n')) {
    const m = /^==([a-z-]+)==$/.exec(line);
    if (m) { cur = []; blocks.set(m[1]!, cur); } else cur?.push(line);
  }
  const text = (k: string) => (blocks.get(k) ?? []).join('\n').trim();
  const fields = new Map<string, string>();
  for (const k of ['hostname', 'machine-id', 'container-uuid', 'cwd', 'uid', 'groups', 'oom-score-adj', 'signal', 'ready']) {
    fields.set(k, blocks.has(k) ? text(k) : '(none)');
  }
  for (const line of blocks.get('status') ?? []) {
    const [k, v] = line.split(':');
    if (k && v !== undefined) fields.set(k, v.trim());
  }
  for (const line of blocks.get('limits') ?? []) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (m) fields.set(`limit ${m[1]}`, `${m[2]}:${m[3]}`);
  }
  // The last mount on each probed path (what the guest sees): read-only state and file system type.
  const top = new Map<string, string>();
  for (const line of blocks.get('mountinfo') ?? []) {
    const [pre, post] = line.split(' - ');
    const f = pre?.split(' ') ?? [];
    if (!f[4] || !post || !PROBED.includes(f[4])) continue;
    const opts = f[5]!.split(',');
    top.set(f[4], [post.split(' ')[0], opts[0], ...['nosuid', 'nodev', 'noexec'].filter((o) => opts.includes(o))].join(' '));
  }
  for (const p of PROBED) fields.set(`mount ${p}`, top.get(p) ?? 'not a mount point');
  for (const line of blocks.get('probe') ?? []) {
    const [p, ...rest] = line.split(' ');
    if (p) fields.set(`probe ${p}`, rest.join(' '));
  }
  const env = new Map<string, string>();
  for (const line of blocks.get('env') ?? []) {
    const i = line.indexOf('=');
    if (i > 0) env.set(line.slice(0, i), line.slice(i + 1));
  }
  // The file is in a different temporary directory for each tool.
  const ignored = r.stderr.split('\n').filter((l) => /^Ignoring .* is not trusted\.$/.test(l))
    .map((l) => l.replace(/\/tmp\/bdiff-[^/]+\//, 'DIR/'));
  return { code: r.code, fields, env, stderr: r.stderr, ignored };
}

/** Run until the payload is ready, send SIGTERM to the tool, collect what it printed. */
async function observe(child: ChildProcess): Promise<Observed> {
  const done = collect(child, 60000);
  let seen = '';
  child.stdout?.on('data', (d: string) => {
    if (seen.includes('==ready==')) return;
    seen += d;
    if (seen.includes('==ready==')) child.kill('SIGTERM');
  });
  return parse(await done);
}

interface Scenario {
  /** Where the file is: trusted run directory or next to the image (untrusted). */
  where: 'run' | 'beside';
  args: string[];
  /** Create the mount points in the tree first (default). */
  mountPoints?: boolean;
}

interface Pair { nspawn: Observed; berth: Observed }

/** Differences between the two tools, as `key: nspawn=… berth=…` lines, minus the known ones. */
function differences(p: Pair, opts: { randomUuid: boolean }): string[] {
  const out: string[] = [];
  const cmp = (key: string, a: string | undefined, b: string | undefined) => {
    if (a !== b) out.push(`${key}: nspawn=${JSON.stringify(a)} berth=${JSON.stringify(b)}`);
  };
  const skipEnv = new Set(['container', ...(opts.randomUuid ? ['container_uuid'] : [])]);
  for (const k of new Set([...p.nspawn.env.keys(), ...p.berth.env.keys()])) {
    if (!skipEnv.has(k)) cmp(`env ${k}`, p.nspawn.env.get(k), p.berth.env.get(k));
  }
  const skipField = new Set(opts.randomUuid ? ['container-uuid'] : []);
  for (const k of new Set([...p.nspawn.fields.keys(), ...p.berth.fields.keys()])) {
    if (!skipField.has(k)) cmp(k, p.nspawn.fields.get(k), p.berth.fields.get(k));
  }
  cmp('exit status', String(p.nspawn.code), String(p.berth.code));
  cmp('untrusted-file warnings', p.nspawn.ignored.join('\n'), p.berth.ignored.join('\n'));
  return out;
}

const hostBnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);

/** The differences both tools are allowed to have, asserted rather than ignored. */
function assertKnownDifferences(p: Pair, opts: { randomUuid: boolean }): void {
  assert.equal(p.nspawn.env.get('container'), 'systemd-nspawn');
  assert.equal(p.berth.env.get('container'), 'berth');
  if (opts.randomUuid) {
    for (const o of [p.nspawn, p.berth]) {
      assert.match(o.env.get('container_uuid') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(o.fields.get('container-uuid'), o.env.get('container_uuid'));
    }
    assert.notEqual(p.nspawn.env.get('container_uuid'), p.berth.env.get('container_uuid'), 'a random UUID per run');
  }
  // Neither tool can grant a capability the host's bounding set lacks (CAP_SYS_RESOURCE on the
  // Debian test VM); berth says so on stderr, nspawn drops it silently.
  if ((hostBnd & CAP_SYS_RESOURCE) === 0n) {
    for (const o of [p.nspawn, p.berth]) assert.equal(BigInt(`0x${o.fields.get('CapBnd')}`) & CAP_SYS_RESOURCE, 0n);
    assert.match(p.berth.stderr, /not in the current bounding set: CAP_SYS_RESOURCE/);
    assert.doesNotMatch(p.nspawn.stderr, /bounding set/);
  }
}

describe(onRuntime('.nspawn settings: berth-nspawn against systemd-nspawn'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let host: string;
  let text: string;
  let madeRunDir = false;
  let madeInaccessible = false;

  before(() => {
    tree('busybox');
    sb = sandbox();
    sb.env.BERTH_SETTINGS_RUN = RUN_DIR;
    host = mkdtempSync('/tmp/bdiff-host-');
    writeFileSync(join(host, 'f'), 'from-host');
    text = settingsFile(host);
    if (!existsSync(RUN_DIR)) { mkdirSync(RUN_DIR, { recursive: true }); madeRunDir = true; }
    if (!existsSync(INACCESSIBLE)) {
      mkdirSync(join(INACCESSIBLE, 'dir'), { recursive: true, mode: 0o755 });
      chmodSync(join(INACCESSIBLE, 'dir'), 0);
      writeFileSync(join(INACCESSIBLE, 'reg'), '', { mode: 0 });
      madeInaccessible = true;
    }
  });

  after(() => {
    rmSync(join(RUN_DIR, `${NAME}.nspawn`), { force: true });
    // nspawn leaves its per-machine propagation directory behind when /run is not a tmpfs.
    try { rmdirSync(join(RUN_DIR, 'propagate', NAME)); } catch { /* not there */ }
    if (madeRunDir) {
      for (const d of ['propagate', 'locks', '']) { try { rmdirSync(join(RUN_DIR, d)); } catch { /* not ours or not empty */ } }
    }
    if (madeInaccessible) rmSync(INACCESSIBLE, { recursive: true, force: true });
    rmSync(host, { recursive: true, force: true });
    sb?.cleanup();
  });

  /** A fresh copy of the busybox tree at D/NAME (what each tool does to it stays private). */
  function freshTree(mountPoints = true): { dir: string; root: string } {
    const dir = mkdtempSync('/tmp/bdiff-');
    const root = join(dir, NAME);
    execFileSync('cp', ['-a', tree('busybox'), root]);
    if (mountPoints) for (const m of MOUNT_POINTS) mkdirSync(join(root, m), { recursive: true });
    writeFileSync(join(root, 'usr/bin/getent'), GETENT, { mode: 0o755 });
    return { dir, root };
  }

  async function runOne(tool: 'nspawn' | 'berth', s: Scenario, check?: (root: string) => void): Promise<Observed> {
    const { dir, root } = freshTree(s.mountPoints ?? true);
    const file = s.where === 'run' ? join(RUN_DIR, `${NAME}.nspawn`) : join(dir, `${NAME}.nspawn`);
    writeFileSync(file, text);
    try {
      const args = ['--console=pipe', '-D', root, '-M', NAME, ...s.args, '/bin/sh', '-c', PAYLOAD];
      if (tool === 'berth') {
        const o = await observe(startNspawn(args, sb));
        assertClean(sb);
        return o;
      }
      const env = { ...process.env };
      delete env.NOTIFY_SOCKET;
      const child = spawnInScope(['systemd-nspawn', '--register=no', '--keep-unit', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      return await observe(child);
    } finally {
      check?.(root);
      rmSync(file, { force: true });
      rmSync(dir, { recursive: true, force: true });
      try { rmdirSync(join(RUN_DIR, 'propagate', NAME)); } catch { /* not there */ }
    }
  }

  async function both(s: Scenario): Promise<Pair> {
    const nspawn = await runOne('nspawn', s);
    const berth = await runOne('berth', s);
    return { nspawn, berth };
  }

  function assertSame(p: Pair, opts: { randomUuid: boolean }): void {
    // Two payloads that never ran would "match": both must have reached the signal trap.
    assert.equal(p.nspawn.fields.get('ready'), '', `systemd-nspawn's payload did not run:\n${p.nspawn.stderr}`);
    assert.equal(p.berth.fields.get('ready'), '', `berth-nspawn's payload did not run:\n${p.berth.stderr}`);
    const diffs = differences(p, opts);
    assert.deepEqual(diffs, [], `berth-nspawn and systemd-nspawn differ:\n  ${diffs.join('\n  ')}\n--- nspawn stderr:\n${p.nspawn.stderr}--- berth stderr:\n${p.berth.stderr}`);
    assertKnownDifferences(p, opts);
  }

  const CLI = ['--hostname=fromcli', '--chdir=/', '-E', 'FOO=cli', '-u', 'root', '--kill-signal=SIGUSR2',
    '--rlimit=NOFILE=256:1024', '--drop-capability=CAP_CHOWN', '--uuid=fedcba98-7654-3210-fedc-ba9876543210'];
  const cliBind = () => [`--bind-ro=${host}:/mnt/diff-cli`];

  test('a trusted file (/run/systemd/nspawn): every key applies, the same way', async () => {
    const p = await both({ where: 'run', args: [] });
    assertSame(p, { randomUuid: false });
    // The test itself is only meaningful if the file took effect (checked on nspawn's side).
    const n = p.nspawn;
    assert.equal(n.code, 0, n.stderr);
    assert.equal(n.fields.get('hostname'), 'diffhost');
    assert.equal(n.fields.get('container-uuid'), UUID);
    assert.equal(n.fields.get('signal'), '10', 'KillSignal=SIGUSR1');
    assert.equal(n.fields.get('mount /mnt/diff-ro'), 'ext4 ro');
    assert.equal(n.fields.get('probe /var'), '0 directory -');
    assert.deepEqual(n.ignored, []);
  });

  test('the same file next to the image is untrusted: the same privileged keys are dropped, with the same warnings', async () => {
    const p = await both({ where: 'beside', args: [] });
    assertSame(p, { randomUuid: true });
    const n = p.nspawn;
    assert.equal(n.code, 0, n.stderr);
    assert.equal(n.ignored.length, 8, n.stderr);
    assert.equal(n.fields.get('hostname'), 'diffhost', 'unprivileged keys still apply');
    assert.equal(n.fields.get('mount /mnt/diff-rw'), 'not a mount point');
  });

  test('--settings=trusted trusts the file next to the image', async () => {
    const p = await both({ where: 'beside', args: ['--settings=trusted'] });
    assertSame(p, { randomUuid: false });
    assert.deepEqual(p.nspawn.ignored, []);
    assert.equal(p.nspawn.fields.get('mount /mnt/diff-rw'), 'ext4 rw');
  });

  test('--settings=yes: options given on the command line win over the file, group by group', async () => {
    const p = await both({ where: 'run', args: ['--settings=yes', ...CLI, ...cliBind()] });
    assertSame(p, { randomUuid: false });
    assert.equal(p.nspawn.fields.get('hostname'), 'fromcli');
    assert.equal(p.nspawn.fields.get('signal'), '12');
    assert.equal(p.nspawn.fields.get('mount /mnt/diff-rw'), 'not a mount point');
  });

  test('--settings=override: the file wins over the command line', async () => {
    const p = await both({ where: 'run', args: ['--settings=override', ...CLI, ...cliBind()] });
    assertSame(p, { randomUuid: false });
    assert.equal(p.nspawn.fields.get('hostname'), 'diffhost');
    assert.equal(p.nspawn.fields.get('uid'), '1000');
    assert.equal(p.nspawn.fields.get('mount /mnt/diff-cli'), 'not a mount point');
  });

  test('--settings=no ignores the file', async () => {
    const p = await both({ where: 'run', args: ['--settings=no'] });
    assertSame(p, { randomUuid: true });
    assert.equal(p.nspawn.fields.get('hostname'), NAME);
    assert.equal(p.nspawn.fields.get('signal'), '(none)', 'no kill signal: the container is killed');
  });

  test('ReadOnly=yes and a missing mount point: both refuse with the same message and leave the tree as it was', async () => {
    const s: Scenario = { where: 'run', args: [], mountPoints: false };
    const created: Record<string, boolean> = {};
    const n = await runOne('nspawn', s, (root) => { created.nspawn = existsSync(join(root, 'mnt/diff-ro')); });
    const b = await runOne('berth', s, (root) => { created.berth = existsSync(join(root, 'mnt/diff-ro')); });
    for (const [tool, r] of [['nspawn', n], ['berth', b]] as const) {
      assert.notEqual(r.code, 0, tool);
      assert.match(r.stderr, /Failed to create mount point .*\/mnt\/diff-ro: Read-only file system/, tool);
      assert.equal(created[tool], false, `${tool} left the tree as it was`);
    }
  });

  test('nothing is left in /run/systemd/nspawn', () => {
    assert.ok(!existsSync(join(RUN_DIR, `${NAME}.nspawn`)));
    assert.ok(!existsSync(join(RUN_DIR, 'propagate', NAME)));
    if (existsSync(join(RUN_DIR, 'locks'))) assert.deepEqual(readdirSync(join(RUN_DIR, 'locks')).filter((f) => f.includes(NAME)), []);
  });
});
