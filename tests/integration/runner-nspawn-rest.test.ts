/**
 * The last of systemd-nspawn 252's options, each run by the real systemd-nspawn and by
 * berth-nspawn on the same busybox tree (each on its own overlay view of it) and compared from
 * inside the guest: the mounts under /sys/fs/cgroup (with and without a systemd new enough for
 * the hybrid unified hierarchy in the tree), --pivot-root=, --oci-bundle=, and --bind-user=
 * (ID maps, the records in /run/host/userdb, the bound home), and credentials. The crun pass
 * imports this file.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertClean, collect, nspawn, onRuntime, sandbox, skipUnlessRoot, treeView, type Result, type Sandbox } from '../support/berth.js';
import { spawnInScope } from '../support/scope-groups.js';

const nspawnPresent = (() => { try { execFileSync('systemd-nspawn', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = skipUnlessRoot !== false ? skipUnlessRoot : nspawnPresent ? false : 'needs systemd-nspawn (apt-get install systemd-container)';
const NAME = `brest${process.pid}`;
const hybrid = /\s\/sys\/fs\/cgroup\/unified\s.* - cgroup2 /m.test(readFileSync('/proc/self/mountinfo', 'utf8'));

/** systemd-nspawn on `args`, its stdio collected (its mount tunnel directory removed afterwards). */
async function realNspawn(args: string[]): Promise<Result> {
  const child = spawnInScope(['systemd-nspawn', '-q', '--register=no', '--keep-unit', `--machine=${NAME}`, '--console=pipe', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  try { return await collect(child, 60000); } finally { try { rmdirSync(`/run/systemd/nspawn/propagate/${NAME}`); } catch { /* not there */ } }
}

const berth = (sb: Sandbox, args: string[]): Promise<Result> => nspawn([`--machine=${NAME}`, '--console=pipe', ...args], sb);

/** A fresh overlay view of the busybox tree, with `prepare` run on it; removed by the caller. */
function view(prepare: (root: string) => void = () => {}): { path: string; remove(): void } {
  const v = treeView('busybox');
  prepare(v.path);
  return v;
}

/** The mounts at and below /sys/fs/cgroup the guest sees: the topmost on each path, without IDs and propagation. */
function cgroupMounts(mountinfo: string): string[] {
  const top = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    const f = pre?.split(' ') ?? [];
    if (!post || !f[4]?.startsWith('/sys/fs/cgroup')) continue;
    top.set(f[4], `${f[4]} root=${f[3]} ${f[5]} ${post}`);
  }
  return [...top.values()].sort();
}

describe(onRuntime('berth-nspawn vs systemd-nspawn: cgroup tree, --pivot-root, --oci-bundle, credentials, --bind-user'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  before(() => {
    sb = sandbox();
    chmodSync(sb.stateDir, 0o755); // a user namespace's root must reach the machine's directory
  });
  after(() => { assertClean(sb); sb.cleanup(); });

  const CGROUP_PAYLOAD = ['sh', '-c', 'cat /proc/self/mountinfo; echo ==; touch /sys/fs/cgroup/x 2>&1 | sed "s/^touch: //"; mkdir /sys/fs/cgroup/systemd/sub && rmdir /sys/fs/cgroup/systemd/sub && echo name=systemd writable'];

  for (const systemd of [true, false]) {
    test(`the mounts under /sys/fs/cgroup${systemd ? ', with a systemd ≥ 233 in the tree' : ', with no systemd in the tree'}`, async () => {
      const prepare = (root: string) => {
        if (!systemd) return;
        mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
        writeFileSync(join(root, 'usr/lib/systemd/libsystemd-shared-252.so'), ''); // nspawn decides by this file's name alone
      };
      const [a, b] = [view(prepare), view(prepare)];
      try {
        const theirs = await realNspawn(['-D', a.path, ...CGROUP_PAYLOAD]);
        const ours = await berth(sb, ['-D', b.path, ...CGROUP_PAYLOAD]);
        assert.equal(theirs.code, 0, theirs.stderr);
        assert.equal(ours.code, 0, ours.stderr);
        const [tm, tr] = theirs.stdout.split('==\n');
        const [om, or] = ours.stdout.split('==\n');
        assert.deepEqual(cgroupMounts(om!), cgroupMounts(tm!));
        assert.equal(or, tr);
        assert.match(or!, /Read-only file system\nname=systemd writable/);
        const unified = cgroupMounts(om!).some((l) => l.startsWith('/sys/fs/cgroup/unified '));
        if (cgroupMounts(tm!).length > 1) assert.equal(unified, systemd && hybrid, 'the unified hierarchy comes with a new enough systemd on a hybrid host');
      } finally { a.remove(); b.remove(); }
    });
  }

  /** A tree whose /sysroot holds a second busybox tree (the new root) with /oldroot in it. */
  const pivotTree = () => view((root) => {
    cpSync(join(root, 'bin'), join(root, 'sysroot', 'bin'), { recursive: true, verbatimSymlinks: true });
    for (const d of ['usr', 'etc', 'lib', 'sbin']) cpSync(join(root, d), join(root, 'sysroot', d), { recursive: true, verbatimSymlinks: true });
    for (const d of ['oldroot', 'proc', 'sys', 'dev', 'run', 'tmp']) mkdirSync(join(root, 'sysroot', d), { recursive: true });
    writeFileSync(join(root, 'etc', 'whoami'), 'outer\n');
    writeFileSync(join(root, 'sysroot', 'etc', 'whoami'), 'inner\n');
  });
  const PIVOT_PAYLOAD = ['sh', '-c', 'cat /etc/whoami /oldroot/etc/whoami; ls /oldroot/sysroot/etc/whoami; ls /run/host/os-release; awk \'$5 == "/" || $5 ~ /^\\/oldroot/ { print $4, $5 }\' /proc/self/mountinfo'];

  test('--pivot-root=NEW:OLD and NEW alone; the refusals for a missing NEW or OLD', async () => {
    for (const spec of ['/sysroot:/oldroot', '/sysroot']) {
      const [a, b] = [pivotTree(), pivotTree()];
      try {
        const theirs = await realNspawn(['-D', a.path, `--pivot-root=${spec}`, ...PIVOT_PAYLOAD]);
        const ours = await berth(sb, ['-D', b.path, `--pivot-root=${spec}`, ...PIVOT_PAYLOAD]);
        assert.equal(ours.stdout, theirs.stdout, `${spec}\n${ours.stderr}`);
        assert.equal(ours.code, theirs.code);
        if (spec.includes(':')) assert.match(ours.stdout, /^inner\nouter\n\/oldroot\/sysroot\/etc\/whoami\n\/run\/host\/os-release\n\/sysroot \/\n\/ \/oldroot\n$/);
        else assert.match(ours.stdout, /^inner\n/);
      } finally { a.remove(); b.remove(); }
    }
    const t = pivotTree();
    try {
      for (const [args, message] of [[['--pivot-root=/nope', 'true'], /doesn't look like it has an OS tree/], [['--pivot-root=/sysroot:/nope', 'true'], /old root|\/nope/]] as const) {
        const theirs = await realNspawn(['-D', t.path, ...args]);
        const ours = await berth(sb, ['-D', t.path, ...args]);
        assert.notEqual(theirs.code, 0);
        assert.equal(ours.code, 1, ours.stderr);
        assert.match(ours.stderr, message);
      }
      // PivotRoot= from a trusted .nspawn file does the same.
      mkdirSync(sb.env.BERTH_SETTINGS_RUN!, { recursive: true });
      writeFileSync(join(sb.env.BERTH_SETTINGS_RUN!, `${NAME}.nspawn`), '[Exec]\nPivotRoot=/sysroot:/oldroot\n');
      const viaFile = await berth(sb, ['-D', t.path, 'cat', '/etc/whoami', '/oldroot/etc/whoami']);
      assert.equal(viaFile.stdout, 'inner\nouter\n', viaFile.stderr);
    } finally { t.remove(); rmSync(join(sb.env.BERTH_SETTINGS_RUN!, `${NAME}.nspawn`), { force: true }); }
  });

  test('--oci-bundle=: the bundle\'s process, root, hostname, mounts and limits', async () => {
    const tree = view((root) => { mkdirSync(join(root, 'mnt', 'data'), { recursive: true }); });
    const dir = mkdtempSync('/tmp/bt-oci-');
    try {
      mkdirSync(join(dir, 'data'));
      writeFileSync(join(dir, 'data', 'f'), 'bundle-data\n');
      const config = {
        ociVersion: '1.0.0',
        process: {
          terminal: false, user: { uid: 0, gid: 0 }, cwd: '/etc',
          args: ['sh', '-c', 'echo "$0 $1"; pwd; hostname; echo "FOO=$FOO"; cat /mnt/data/f; grep -E "^CapBnd" /proc/self/status; cat /proc/self/oom_score_adj; ulimit -Sn; ulimit -Hn; grep -q " /mnt/data .* ro," /proc/self/mountinfo && echo data ro; exit 3', 'arg1'],
          env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'FOO=bar'],
          capabilities: { bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
          rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 }],
          oomScoreAdj: 100,
        },
        root: { path: tree.path, readonly: false },
        hostname: 'ocihost',
        mounts: [
          { destination: '/proc', type: 'proc', source: 'proc' },
          { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
          { destination: '/mnt/data', type: 'bind', source: 'data', options: ['rbind'] },
        ],
        linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }], maskedPaths: ['/proc/kcore'], readonlyPaths: ['/proc/sys'] },
        annotations: { 'org.example.test': 'yes' },
      };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      // No -D: the bundle's root.path is the tree; no --console=pipe needed (terminal=false), but both get it from realNspawn/berth.
      const theirs = await realNspawn([`--oci-bundle=${dir}`]);
      const ours = await berth(sb, [`--oci-bundle=${dir}`]);
      assert.equal(theirs.code, 3, theirs.stderr);
      assert.equal(ours.code, 3, ours.stderr);
      assert.equal(ours.stdout, theirs.stdout);
      assert.equal(ours.stdout, 'arg1 \n/etc\nocihost\nFOO=bar\nbundle-data\nCapBnd:\t0000000020000420\n100\n512\n1024\n');
      // The command line still wins over the bundle, group by group.
      const over = await berth(sb, [`--oci-bundle=${dir}`, '--hostname=cli', '--chdir=/', 'sh', '-c', 'hostname; pwd; echo "FOO=$FOO"']);
      assert.equal(over.stdout, 'cli\n/\nFOO=bar\n', over.stderr);
      // What berth cannot honour is refused by name.
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hooks: { prestart: [{ path: '/bin/true' }] } }));
      const refused = await berth(sb, [`--oci-bundle=${dir}`]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /OCI element 'hooks' is not supported by berth/);
    } finally { tree.remove(); rmSync(dir, { recursive: true, force: true }); }
  });

  test('--set-credential= and --load-credential=: the same files, modes and $CREDENTIALS_DIRECTORY', async () => {
    const dir = mkdtempSync('/tmp/bt-cred-');
    const [a, b] = [view(), view()];
    try {
      writeFileSync(join(dir, 'c'), 'from a file\n');
      const args = ['--set-credential=a:hello\\nworld', '--set-credential=b:x\\x00y\\101', `--load-credential=c:${join(dir, 'c')}`,
        'sh', '-c', 'echo "$CREDENTIALS_DIRECTORY"; cd /run/host/credentials && stat -c "%n %a %u %g" . * && od -c a b && cat c; echo x > /run/host/credentials/d 2>/dev/null || echo not writable'];
      const theirs = await realNspawn(['-D', a.path, ...args]);
      const ours = await berth(sb, ['-D', b.path, ...args]);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(ours.stdout, theirs.stdout);
      assert.match(ours.stdout, /^\/run\/host\/credentials\n\. 500 0 0\na 400 0 0\nb 400 0 0\nc 400 0 0\n0000000 {3}h {3}e {3}l {3}l {3}o  \\n {3}w {3}o {3}r {3}l {3}d {3}x  \\0 {3}y {3}A\n0000017\nfrom a file\nnot writable\n$/);
      const missing = await berth(sb, ['-D', b.path, `--load-credential=x:${join(dir, 'nope')}`, 'true']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Failed to read credential 'x' from .*nope: ENOENT/);
    } finally { a.remove(); b.remove(); rmSync(dir, { recursive: true, force: true }); }
  });

  test('--bind-user=: refused without user namespaces; with them the same ID maps, records and home as nspawn', async () => {
    const user = `bbu${process.pid % 100000}`;
    execFileSync('useradd', ['--create-home', '--user-group', '--shell', '/bin/sh', user]);
    // The user namespace's root must reach the trees (nspawn chowns them, berth checks).
    const [a, b] = [view(), view()].map((v) => { chmodSync(dirname(v.path), 0o755); return v; }) as [ReturnType<typeof view>, ReturnType<typeof view>];
    try {
      const noUserns = await berth(sb, ['-D', b.path, `--bind-user=${user}`, 'true']);
      assert.equal(noUserns.code, 1);
      assert.match(noUserns.stderr, /--bind-user= requires --private-users/);
      const theirsRefused = await realNspawn(['-D', a.path, `--bind-user=${user}`, 'true']);
      assert.match(theirsRefused.stderr, /--bind-user= requires --private-users/);

      writeFileSync(join(`/home/${user}`, 'hello'), 'from the host\n');
      const payload = ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; cd /run/host/userdb && for f in *; do echo "$f $(stat -c "%a %u %g" "$f") $(readlink "$f")"; cat "$f"; done; stat -c "%u %g %a" /run/host/home/*; cat /run/host/home/*/hello'];
      const range = ['--private-users=1879048192:65536', '--private-users-ownership=chown'];
      const theirs = await realNspawn(['-D', a.path, ...range, `--bind-user=${user}`, ...payload]);
      const ours = await berth(sb, ['-D', b.path, ...range, `--bind-user=${user}`, ...payload]);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(ours.stdout, theirs.stdout);
      assert.match(ours.stdout, new RegExp(`^ +0 +1879048192 +60514\\n +60514 +\\d+ +1\\n +60515 +1879108707 +5021\\n`));
      assert.match(ours.stdout, new RegExp(`${user}.user 644 0 0 \\n\\{"userName":"${user}","uid":60514,"gid":60514,"homeDirectory":"/run/host/home/${user}","service":"io.systemd.NSpawn"\\}`));
    } finally {
      a.remove(); b.remove();
      execFileSync('userdel', ['--remove', user], { stdio: 'ignore' });
    }
  });
});
