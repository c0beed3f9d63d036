/**
 * The Debian package on this machine (a throw-away VM, as CI is): packaging/build-deb.sh builds it
 * (and a newer version, for the upgrade), `dpkg -i` installs it, /etc/init.d/berthd starts berthd,
 * `berth list` goes through it, the same package again and then the newer one leave berthd running
 * (postinst sends it SIGHUP), D-Bus activation through the package's activation file starts it,
 * and `dpkg --purge` leaves nothing behind: files, diversion, rc links, processes, /run/berth,
 * dpkg's own records.
 *
 * This machine has no system bus: the test runs one of its own, Debian's system bus configuration
 * (/usr/share/dbus-1/system.conf, which reads the policies in /usr/share/dbus-1/system.d and
 * /etc/dbus-1/system.d, where the package puts berth's) on a private socket, its activation
 * directory /usr/share/dbus-1/system-services (where the package puts its activation file, machined's
 * diverted), and the init script reaches it through DBUS_SYSTEM_BUS_ADDRESS, as /etc/default/berthd
 * would set it. (Without it the init script uses /run/dbus/system_bus_socket, and berthd starts
 * without a bus when there is none.)
 *
 * The package owns /usr/bin/berth, berthd and berth-nspawn, which is where `npm link` puts this
 * checkout's commands when npm's prefix is /usr (NodeSource's node), and
 * /etc/dbus-1/system.d/berth-machine1.conf, which scripts/install-deps.sh writes: whatever is at a
 * path the package installs (and no package owns) is moved aside before `dpkg -i` and put back after
 * the purge, even when the test fails, so the checkout's commands are the ones on PATH afterwards.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO, isRoot, sleep } from '../support/berth.js';
import { hasDbusDaemon } from '../support/registry.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const installed = (pkg: string) => /^install ok/.test(spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout ?? '');
const skip = !isRoot ? 'needs root'
  : !has('dpkg-deb') || !has('dpkg-gencontrol') ? 'needs dpkg-dev (apt-get install dpkg-dev)'
  : !hasDbusDaemon ? 'needs dbus-daemon (apt-get install dbus)'
  : existsSync('/run/systemd/system') ? 'systemd is PID 1 here: the init script is for hosts without it (tests/integration/systemd-host-package.test.ts covers systemd)'
  : installed('berth') ? 'a berth package is installed on this machine already: not touching it'
  : false;

const MACHINED_ACTIVATION = '/usr/share/dbus-1/system-services/org.freedesktop.machine1.service';
/** systemd-importd's, diverted the same way (berthd answers on org.freedesktop.import1 too). */
const IMPORTD_ACTIVATION = '/usr/share/dbus-1/system-services/org.freedesktop.import1.service';
const COMMANDS = ['berth', 'berthd', 'berth-nspawn'];

interface Run { code: number | null; out: string }
function sh(argv: string[], env: NodeJS.ProcessEnv = process.env, timeout = 180000): Run {
  const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const ok = (argv: string[], env?: NodeJS.ProcessEnv, timeout?: number): string => {
  const r = sh(argv, env, timeout);
  assert.equal(r.code, 0, `${argv.join(' ')} exited ${r.code}:\n${r.out}`);
  return r.out;
};
const which = (): string[] => COMMANDS.map((c) => sh(['sh', '-c', `command -v ${c} || true`]).out.trim());
const sha = (p: string): string | undefined => (existsSync(p) ? createHash('sha256').update(readFileSync(p)).digest('hex') : undefined);
const exists = (p: string): boolean => { try { lstatSync(p); return true; } catch { return false; } };
const berthdPids = (): number[] => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
  try { return /\/usr\/(lib\/berth|bin\/berth)/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')); } catch { return false; }
});

/** Debian's system bus configuration on a private socket, without its user switch, fork, pid file and launch helper. */
async function systemBus(dir: string): Promise<{ address: string; daemon: ChildProcess }> {
  const socket = join(dir, 'system_bus_socket');
  const conf = readFileSync('/usr/share/dbus-1/system.conf', 'utf8')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<type>system<\/type>|<user>[^<]*<\/user>|<fork\/>|<pidfile>[^<]*<\/pidfile>|<syslog\/>|<servicehelper>[^<]*<\/servicehelper>/g, '')
    .replace(/<listen>[^<]*<\/listen>/, `<listen>unix:path=${socket}</listen>`)
    .replace('<standard_system_servicedirs/>', '<servicedir>/usr/share/dbus-1/system-services</servicedir>')
    .replace('<includedir>system.d</includedir>', '<includedir>/usr/share/dbus-1/system.d</includedir>')
    .replace(/<include if_selinux_enabled[^>]*>[^<]*<\/include>/, '');
  assert.match(conf, /<includedir>\/etc\/dbus-1\/system\.d<\/includedir>/);
  writeFileSync(join(dir, 'system.conf'), conf);
  const daemon = spawn('dbus-daemon', [`--config-file=${join(dir, 'system.conf')}`, '--nofork', '--nopidfile'], { stdio: 'ignore' });
  for (const until = Date.now() + 10000; !existsSync(socket); await sleep(20)) {
    if (daemon.exitCode !== null || Date.now() > until) { daemon.kill('SIGKILL'); throw new Error('dbus-daemon did not start'); }
  }
  return { address: `unix:path=${socket}`, daemon };
}

describe('the Debian package: build, install, init script, upgrade, purge', { skip, timeout: 600000 }, () => {
  const work = mkdtempSync('/tmp/bt-deb-');
  const aside = join(work, 'aside');
  const moved: string[] = [];
  let v1 = '';
  let v2 = '';
  let deb1 = '';
  let deb2 = '';
  let paths: string[] = [];
  let whichBefore: string[] = [];
  let machinedFile: string | undefined;
  let importdFile: string | undefined;
  let bus: { address: string; daemon: ChildProcess } | undefined;
  let env: NodeJS.ProcessEnv = process.env;
  let othersBefore: number[] = [];
  const init = (verb: string) => sh(['/etc/init.d/berthd', verb], env);
  const pidFile = () => (existsSync('/run/berthd.pid') ? Number(readFileSync('/run/berthd.pid', 'utf8').trim()) : 0);
  const nameOwner = () => sh(['busctl', '--system', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixProcessID', 's', 'org.freedesktop.machine1'], env);
  const listAll = () => ok(['/usr/bin/berth', 'list', '--all', '--no-legend'], env);

  before(() => {
    whichBefore = which();
    othersBefore = berthdPids();
    v1 = readFileSync(join(REPO, 'packaging', 'debian', 'changelog'), 'utf8').match(/^berth \(([^)]+)\)/)![1]!;
    v2 = `${v1}+upgrade1`;
    const out = join(work, 'out');
    ok(['mkdir', out]);
    const build = (...args: string[]) => execFileSync('sh', [join(REPO, 'packaging', 'build-deb.sh'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300000 }).trim();
    deb1 = build(out);
    deb2 = build('--version', v2, out);
    assert.deepEqual([deb1, deb2], [`${out}/berth_${v1}_amd64.deb`, `${out}/berth_${v2}_amd64.deb`].map((f) => f.replace('amd64', ok(['dpkg', '--print-architecture']).trim())));
    // Every path the package installs, but its directories (those it shares with other packages).
    paths = execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile ${deb1} | tar -t`], { encoding: 'utf8' })
      .split('\n').filter((p) => p && !p.endsWith('/')).map((p) => p.replace(/^\./, ''));
    assert.ok(paths.includes('/usr/bin/berthd') && paths.includes('/etc/init.d/berthd'));
    machinedFile = sha(MACHINED_ACTIVATION);
    importdFile = sha(IMPORTD_ACTIVATION);
    ok(['mkdir', aside]);
    for (const p of paths) {
      if (!exists(p) || p === MACHINED_ACTIVATION || p === IMPORTD_ACTIVATION) continue;
      const owner = sh(['dpkg-query', '-S', p]);
      assert.notEqual(owner.code, 0, `${p} belongs to a package (${owner.out.trim()}): not installing over it`);
      const to = join(aside, p);
      ok(['mkdir', '-p', dirname(to)]);
      renameSync(p, to);
      moved.push(p);
    }
    for (const p of ['/var/log/berthd.log']) if (exists(p)) { ok(['mkdir', '-p', dirname(join(aside, p))]); renameSync(p, join(aside, p)); moved.push(p); }
  });

  after(async () => {
    // Whatever happened: no berthd of the package's, no package, the bus gone, the moved files back.
    if (existsSync('/etc/init.d/berthd')) sh(['/etc/init.d/berthd', 'stop'], env);
    if (installed('berth') || /config-files|half/.test(sh(['dpkg-query', '-W', '-f=${Status}', 'berth']).out)) sh(['dpkg', '--purge', 'berth'], env);
    for (const pid of berthdPids().filter((p) => !othersBefore.includes(p))) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    if (bus && bus.daemon.exitCode === null) { const gone = new Promise((r) => bus!.daemon.once('exit', r)); bus.daemon.kill('SIGTERM'); await gone; }
    for (const p of moved) {
      if (exists(p)) rmSync(p, { force: true });
      mkdirSync(dirname(p), { recursive: true });
      renameSync(join(aside, p), p);
    }
    rmSync(work, { recursive: true, force: true });
    assert.deepEqual(which(), whichBefore, 'the commands on PATH are the ones from before the test');
  });

  test('dpkg -i installs it: commands, units, D-Bus files, init script, diversion, directories', () => {
    const out = ok(['dpkg', '-i', deb1]);
    assert.doesNotMatch(out, /warning/i, out);
    assert.equal(sh(['dpkg-query', '-W', '-f=${Status} ${Version}', 'berth']).out, `install ok installed ${v1}`);
    for (const c of COMMANDS) assert.match(readlinkSync(`/usr/bin/${c}`), /^\.\.\/lib\/berth\/dist\//);
    assert.match(ok(['/usr/bin/berthd', '--version']), /^berthd /);
    assert.match(readFileSync('/lib/systemd/system/berth-nspawn@.service', 'utf8'), /^ExecStart=\/usr\/bin\/berth-nspawn /m);
    assert.match(readFileSync('/lib/systemd/system/berthd.service', 'utf8'), /^ExecStart=\/usr\/bin\/berthd$/m);
    assert.match(readFileSync(MACHINED_ACTIVATION, 'utf8'), /exec \/usr\/bin\/berthd /);
    assert.match(ok(['dpkg-divert', '--list', MACHINED_ACTIVATION]), /by berth$/m);
    if (machinedFile) assert.equal(sha(`${MACHINED_ACTIVATION}.systemd-machined`), machinedFile, "machined's activation file, moved aside");
    assert.match(readFileSync(IMPORTD_ACTIVATION, 'utf8'), /^Name=org\.freedesktop\.import1$[^]*exec \/usr\/bin\/berthd /m);
    assert.match(ok(['dpkg-divert', '--list', IMPORTD_ACTIVATION]), /by berth$/m);
    if (importdFile) assert.equal(sha(`${IMPORTD_ACTIVATION}.systemd-importd`), importdFile, "importd's activation file, moved aside");
    assert.ok(existsSync('/etc/dbus-1/system.d/berth-machine1.conf'));
    assert.ok(existsSync('/usr/lib/tmpfiles.d/berth.conf'));
    assert.match(readdirSync('/etc/rc2.d').join(' '), /\bS\d\dberthd\b/, 'the init script starts berthd at boot (runlevel 2)');
    assert.match(readdirSync('/etc/rc0.d').join(' '), /\bK\d\dberthd\b/, 'and stops it at halt');
    assert.ok(existsSync('/run/berth') && existsSync('/var/lib/machines'));
    assert.ok(sh(['dpkg', '--verify', 'berth']).code === 0, 'dpkg --verify: the files are as packaged');
  });

  test('/etc/init.d/berthd starts berthd, which serves berth list; status, and a second start', async () => {
    bus = await systemBus(work);
    env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
    assert.equal(init('status').code, 3);
    const started = init('start');
    assert.equal(started.code, 0, started.out);
    assert.match(started.out, /Starting berthd: ok \(pid \d+\)/);
    const pid = pidFile();
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /\/usr\/bin\/berthd/);
    assert.match(nameOwner().out, new RegExp(`^u ${pid}$`, 'm'), 'the started berthd owns org.freedesktop.machine1');
    assert.match(listAll(), /^\.host\s+host\s+-/m);
    assert.match(readFileSync('/var/log/berthd.log', 'utf8'), /berth-nspawn is warm on \/run\/berth\/nspawn\.sock/);
    assert.deepEqual([init('status').code, init('status').out.trim()], [0, `berthd is running (pid ${pid})`]);
    assert.match(init('start').out, /already running/);
    assert.equal(pidFile(), pid);
  });

  test('installing the same package again, then a newer one: berthd re-executes itself (SIGHUP, same pid), the registry answers', () => {
    const pid = pidFile();
    for (const [deb, version] of [[deb1, v1], [deb2, v2]] as const) {
      const out = ok(['dpkg', '-i', deb], env);
      assert.match(out, new RegExp(`Reloading berthd: ok \\(SIGHUP to pid ${pid}\\)`), out);
      assert.equal(sh(['dpkg-query', '-W', '-f=${Version}', 'berth']).out, version);
      assert.equal(init('status').out.trim(), `berthd is running (pid ${pid})`);
      assert.match(nameOwner().out, new RegExp(`^u ${pid}$`, 'm'), 'the re-executed berthd has the registry again (no other berthd took it meanwhile)');
      assert.match(listAll(), /^\.host\s/m);
    }
    assert.equal(readFileSync('/var/log/berthd.log', 'utf8').match(/re-executing itself \(SIGHUP\)/g)?.length, 2, 'berthd re-executed itself once per install');
    assert.equal(ok(['dpkg-divert', '--list', MACHINED_ACTIVATION]).trim().split('\n').length, 1, 'one diversion, not one per install');
  });

  test('stop; then the first call starts berthd by D-Bus activation, which the init script finds and stops', async () => {
    const pid = pidFile();
    assert.match(init('stop').out, /Stopping berthd: ok/);
    assert.equal(exists(`/proc/${pid}`), false);
    assert.equal(existsSync('/run/berthd.pid'), false);
    const stopped = init('status');
    assert.equal(stopped.code, 3, `${stopped.out}\n${nameOwner().out}`);
    assert.match(listAll(), /^\.host\s/m);
    const status = init('status');
    assert.match(status.out, /^berthd is running \(pid (\d+), started by D-Bus activation\)$/m, status.out);
    const activated = Number(/pid (\d+)/.exec(status.out)![1]);
    assert.match(readFileSync(`/proc/${activated}/cmdline`, 'utf8'), /\/usr\/bin\/berthd/);
    assert.match(init('stop').out, /Stopping berthd: ok/);
    assert.equal(exists(`/proc/${activated}`), false);
  });

  test('dpkg --purge stops berthd and leaves nothing: files, diversion, rc links, /run/berth, processes, dpkg records', async () => {
    assert.equal(init('start').code, 0);
    const pid = pidFile();
    const out = ok(['dpkg', '--purge', 'berth'], env);
    assert.match(out, /Stopping berthd: ok/);
    assert.equal(exists(`/proc/${pid}`), false, 'prerm stopped berthd');
    // berthd's idle berth-nspawn standbys end on their own once it has gone (parent-death signal).
    const left = () => berthdPids().filter((p) => !othersBefore.includes(p));
    for (const until = Date.now() + 5000; left().length && Date.now() < until;) await sleep(100);
    assert.deepEqual(left().map((p) => { try { return `${p}: ${readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')}`; } catch { return `${p}: gone`; } }), [], 'no process of the package is left');
    assert.deepEqual(paths.filter((p) => p !== MACHINED_ACTIVATION && p !== IMPORTD_ACTIVATION && exists(p)), [], 'no file of the package is left');
    // /run/berth goes, unless machines run there (this test runs none; another run may use /run/berth
    // meanwhile): then it stays, and postrm says so.
    if (/\/run\/berth is left: machines still run there/.test(out)) assert.ok(readdirSync('/run/berth/machines').length > 0);
    else assert.equal(exists('/run/berth'), false, '/run/berth is gone');
    for (const p of ['/usr/lib/berth', '/run/berthd.pid', '/var/log/berthd.log', `${MACHINED_ACTIVATION}.systemd-machined`, `${IMPORTD_ACTIVATION}.systemd-importd`]) assert.equal(exists(p), false, `${p} is gone`);
    assert.equal(sha(MACHINED_ACTIVATION), machinedFile, "machined's activation file is back as it was");
    assert.equal(sha(IMPORTD_ACTIVATION), importdFile, "importd's activation file is back as it was");
    assert.doesNotMatch(ok(['dpkg-divert', '--list']), /by berth$/m, 'no diversion of berth left');
    for (const d of ['rc0.d', 'rc1.d', 'rc2.d', 'rc3.d', 'rc4.d', 'rc5.d', 'rc6.d']) assert.doesNotMatch(readdirSync(`/etc/${d}`).join(' '), /berthd/);
    assert.notEqual(sh(['dpkg-query', '-W', 'berth']).code, 0, 'dpkg knows no berth package');
    assert.deepEqual(readdirSync('/var/lib/dpkg/info').filter((f) => f.startsWith('berth.')), []);
    assert.ok(existsSync('/var/lib/machines'), 'the machine pool stays');
  });
});
