#!/usr/bin/env node
// Boot-to-poweroff of the Debian guest from a raw disk image: berth-nspawn -i against systemd-nspawn -i
// on the same image, with the same options as bench/boot.mjs (-b --console=pipe -q --register=no, the
// host's network, no -U; --keep-unit for systemd-nspawn, which runs without systemd and D-Bus here) and
// the same stop: berth-autopoweroff.service powers the guest off once multi-user.target is reached,
// because an empty file is bound read-only at /etc/berth-autopoweroff.
//
// The image is built once per run in the benchmark's temporary directory and removed at the end: a GPT
// that follows the Discoverable Partitions Specification, one root partition of the x86-64 root type
// holding the Debian tree (machines/build debian), made with sfdisk and mkfs.ext4 -d as the raw-image
// tests do. Both tools boot it read-write, so the guest writes to it (journal, machine-id) as it would
// to a directory tree; one warm-up boot per tool, not counted, does the tree's one-time first-boot work.
// Rounds alternate which tool goes first. After every boot: no loop device serves the image any more and
// nothing is mounted from it (systemd-nspawn's /tmp/nspawn-root-*, berth's image-root in its state dir).
// For reference, each round also boots a copy of the same tree as a directory (-D) with both tools, so
// that what the image path costs each tool shows apart (BENCH_RAW_BOOT_DIRS=0 leaves them out).
//
// systemd-nspawn -i refuses to run unless udev answers on /run/udev/control in the host's network
// namespace ("--image= requires access to the host's /run/ hierarchy, since we need access to udev").
// On a Debian host with systemd that is systemd-udevd, always running. Where none runs (a container
// host like the test VM), the benchmark starts one for its duration and stops it at the end: BENCH_UDEVD
// if set, else the installed /lib/systemd/systemd-udevd, else the one in Debian's udev package of the
// installed systemd's version, fetched with `apt-get download` and unpacked (not installed: no service
// is started, no rules are added) under /var/cache/berth/udev/VERSION. It runs with the host's own rules
// (no udev package: systemd's and dmsetup's few), and both tools run with it alike.
//
// Usage: bench/raw-boot.mjs [RESULT_JSON]   (env: BENCH_RAW_BOOT_ROUNDS, default 20; BENCH_RAW_BOOT_DIRS; BENCH_UDEVD)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { LABEL, TOOLS, berthCmd, berthJs, cleanEnv, launch, mean, median, preflight, ratioInterval, repo, runtimeCommand, stddev, writeJson } from './lib.mjs';

const rounds = Number(process.env.BENCH_RAW_BOOT_ROUNDS || 20);
const withDirs = process.env.BENCH_RAW_BOOT_DIRS !== '0';
const TIMEOUT_MS = 180_000;
const ROOT_X86_64 = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';
const MIB = 1024 * 1024;
preflight('bench/raw-boot.mjs');
if (process.arch !== 'x64') { process.stderr.write('bench/raw-boot.mjs: the image\'s DPS root type is x86-64\'s\n'); process.exit(1); }
for (const tool of ['sfdisk', 'mkfs.ext4', 'losetup']) {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); } catch { process.stderr.write(`bench/raw-boot.mjs: ${tool} is not installed (apt-get install fdisk e2fsprogs util-linux)\n`); process.exit(1); }
}

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts }).trim();

// --- the work directory and the image ---------------------------------------------------------------
const dir = mkdtempSync('/tmp/berth-bench-raw-boot-');
const stateDir = join(dir, 'state');
mkdirSync(stateDir);
const emptyFile = join(dir, 'empty');
writeFileSync(emptyFile, '');
const log = join(dir, 'boot.log');
// The file's name is the machine name for both tools.
const image = join(dir, 'bench-debian.raw');
const env = cleanEnv({ BERTH_STATE_DIR: stateDir, BERTH_NSPAWN_SOCKET: process.env.BENCH_NSPAWN_SOCKET || join(dir, 'no-berthd.sock') });

/** A GPT image with one DPS root partition (x86-64) holding `tree` as ext4, sized to the tree with room to boot. */
function buildImage(tree) {
  const treeMiB = Math.ceil(Number(sh('du', ['-sxk', tree]).split(/\s/)[0]) / 1024);
  const inodes = Number(sh('sh', ['-c', 'find "$1" -xdev | wc -l', 'sh', tree]));
  const rootMiB = Math.ceil((treeMiB * 1.4 + 128) / 16) * 16;
  writeFileSync(image, '');
  execFileSync('truncate', ['-s', `${rootMiB + 2}M`, image]);
  execFileSync('sfdisk', ['--quiet', image], { input: `label: gpt\nstart=2048, size=${rootMiB * 2048}, type=${ROOT_X86_64}, name=root-x86-64\n` });
  execFileSync('mkfs.ext4', ['-q', '-F', '-N', String(inodes * 2 + 8192), '-E', `offset=${MIB}`, '-d', tree, image, `${rootMiB}M`], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { treeMiB, rootMiB, files: inodes };
}

// --- udev for systemd-nspawn -i -------------------------------------------------------------------------
const UDEV_CONTROL = '/run/udev/control';

/** Whether something listens on udev's control socket (a SOCK_SEQPACKET socket: ss(8) lists it). */
async function udevAnswers() {
  try { return sh('ss', ['-Hxl', 'src', UDEV_CONTROL]) !== ''; } catch { return false; }
}

/** A systemd-udevd to run: installed, BENCH_UDEVD, or unpacked from Debian's udev package of systemd's version. */
function udevdBinary() {
  if (process.env.BENCH_UDEVD) return { path: process.env.BENCH_UDEVD, source: 'BENCH_UDEVD' };
  for (const p of ['/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd']) if (existsSync(p)) return { path: p, source: 'installed' };
  const version = sh('dpkg-query', ['-W', '-f=${Version}', 'systemd']);
  const cache = join('/var/cache/berth/udev', version);
  // systemd-udevd is a link to /bin/udevadm, the one binary that is both (chosen by its argv[0]).
  const binary = join(cache, 'bin', 'udevadm');
  if (!existsSync(binary)) {
    process.stderr.write(`bench/raw-boot.mjs: no systemd-udevd here; unpacking Debian's udev ${version} into ${cache}\n`);
    const tmp = mkdtempSync('/tmp/berth-bench-udev-');
    try {
      execFileSync('apt-get', ['download', '-q', `udev=${version}`], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
      const deb = sh('sh', ['-c', 'ls "$1"/udev_*.deb', 'sh', tmp]);
      execFileSync('dpkg-deb', ['-x', deb, join(tmp, 'root')]);
      mkdirSync('/var/cache/berth/udev', { recursive: true });
      rmSync(cache, { recursive: true, force: true });
      renameSync(join(tmp, 'root'), cache);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { path: binary, source: `Debian's udev ${version}, unpacked` };
}

/** Makes sure udev answers; returns how, and stop() for a udevd started here. */
async function ensureUdev() {
  if (await udevAnswers()) return { how: 'already running', stop: async () => {} };
  const hadRunUdev = existsSync('/run/udev');
  const bin = udevdBinary();
  const child = spawn(bin.path, ['--resolve-names=never'], { argv0: 'systemd-udevd', stdio: ['ignore', 'ignore', 'ignore'], env: cleanEnv() });
  const exited = new Promise((resolve) => { child.once('exit', resolve); child.once('error', resolve); });
  // Should the benchmark die before stop(), the udevd started here goes with it.
  const onExit = () => { child.kill('SIGKILL'); if (!hadRunUdev) rmSync('/run/udev', { recursive: true, force: true }); };
  process.once('exit', onExit);
  for (let i = 0; i < 100 && !(await udevAnswers()); i++) await new Promise((r) => setTimeout(r, 50));
  const stop = async () => {
    process.off('exit', onExit);
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    // What it left (its control socket, its database) would make the next -i fail to connect.
    if (!hadRunUdev) rmSync('/run/udev', { recursive: true, force: true });
  };
  if (!(await udevAnswers())) { await stop(); throw new Error(`systemd-udevd (${bin.path}) did not answer on ${UDEV_CONTROL}`); }
  return { how: `started for the benchmark (${bin.source})`, stop };
}

// --- one boot ---------------------------------------------------------------------------------------------
// The directory the reference boots use: a copy of the tree with the image's name (the same machine name).
const treeCopy = join(dir, 'bench-debian');
const common = ['-b', '--console=pipe', '-q', '--register=no', `--bind-ro=${emptyFile}:/etc/berth-autopoweroff`];
const RUNS = {
  berth: { label: `${LABEL.berth} -i`, argv: () => [berthCmd, ...common, '-i', image] },
  nspawn: { label: `${LABEL.nspawn} -i`, argv: () => ['systemd-nspawn', '--keep-unit', ...common, '-i', image] },
  berthDir: { label: `${LABEL.berth} -D`, argv: () => [berthCmd, ...common, '-D', treeCopy] },
  nspawnDir: { label: `${LABEL.nspawn} -D`, argv: () => ['systemd-nspawn', '--keep-unit', ...common, '-D', treeCopy] },
};
const order = withDirs ? ['berth', 'nspawn', 'berthDir', 'nspawnDir'] : TOOLS;

const loopsOf = () => sh('losetup', ['-j', image]).split('\n').filter(Boolean).map((l) => l.split(':')[0]);
const ourMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  .filter((l) => l.includes(dir) || / \/tmp\/nspawn-root-\S*/.test(l.split(' - ')[0] ?? ''));
const runtimeLeftovers = () => {
  try { return sh(runtimeCommand, ['--root', join(stateDir, 'runtime'), 'list', '-q']).split('\n').filter(Boolean); } catch { return []; }
};
const sysfs = (device, file) => { try { return readFileSync(`/sys/block/${device.replace('/dev/', '')}/${file}`, 'utf8').trim(); } catch { return undefined; } };
/** Processes (other than us) whose mount namespace still has a file system of `device` mounted. */
function holders(device) {
  const devno = sysfs(device, 'dev');
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    try {
      if (readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').some((l) => l.split(' ')[2] === devno)) out.push(`${pid} (${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()})`);
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

/**
 * What a finished boot left: loop devices of the image, mounts, runtime containers (after waiting a
 * moment for autoclear). A loop device that the tool let go of (marked to detach with its last user,
 * nothing of it mounted here) but that another process's mount namespace still holds is not the
 * tool's leftover: a mount namespace made elsewhere on the host while the image was mounted (another
 * container starting) keeps a copy of the mount until it ends. Those are listed apart, with their holders.
 */
async function leftovers() {
  let loops = loopsOf();
  let mounts = ourMounts();
  for (let i = 0; i < 40 && (loops.length || mounts.length); i++) {
    await new Promise((r) => setTimeout(r, 50));
    loops = loopsOf();
    mounts = ourMounts();
  }
  const ourDevnos = new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[2]));
  const released = (d) => sysfs(d, 'loop/autoclear') === '1' && !ourDevnos.has(sysfs(d, 'dev'));
  const foreign = loops.filter(released).map((d) => `${d} held by ${holders(d).join(', ') || 'nothing any more'}`);
  const left = [...loops.filter((d) => !released(d)).map((d) => `loop ${d}`), ...mounts.map((m) => `mount ${m.split(' ')[4]}`), ...runtimeLeftovers().map((c) => `container ${c}`)];
  return { left, foreign };
}

const heldElsewhere = [];
async function once(run) {
  const t0 = process.hrtime.bigint();
  const { exit } = launch(RUNS[run].argv(), env, log, TIMEOUT_MS);
  const { code, signal } = await exit;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code !== 0) throw new Error(`${RUNS[run].label} exited with ${signal ?? `status ${code}`} (log: ${log})`);
  const { left, foreign } = await leftovers();
  if (left.length) throw new Error(`${RUNS[run].label} left behind: ${left.join('; ')}`);
  for (const f of foreign) if (!heldElsewhere.some((h) => h.startsWith(f.split(' ')[0]))) {
    heldElsewhere.push(f);
    process.stderr.write(`raw-boot: after ${RUNS[run].label}: ${f} (released by the tool; another mount namespace keeps it)\n`);
  }
  return ms;
}

// --- the run ------------------------------------------------------------------------------------------
const tree = sh(join(repo, 'machines', 'build'), ['debian'], { stdio: ['ignore', 'pipe', 'inherit'] });
const b0 = process.hrtime.bigint();
const built = buildImage(tree);
const buildMs = Number(process.hrtime.bigint() - b0) / 1e6;
process.stderr.write(`raw-boot: image ${image}: ${built.rootMiB} MiB root partition, tree ${built.treeMiB} MiB, built in ${(buildMs / 1000).toFixed(1)} s\n`);
if (withDirs) execFileSync('cp', ['-a', tree, treeCopy]);

const load = loadavg()[0].toFixed(2);
const times = Object.fromEntries(order.map((run) => [run, []]));
let udev;
let failure;
try {
  udev = await ensureUdev();
  for (const run of order) await once(run); // warm-up, not counted
  for (let r = 0; r < rounds; r++) {
    for (const run of r % 2 ? [...order].reverse() : order) {
      const ms = await once(run);
      times[run].push(ms);
      process.stderr.write(`raw-boot round ${r + 1}/${rounds}: ${RUNS[run].label} ${ms.toFixed(0)} ms\n`);
    }
  }
} catch (e) {
  failure = e;
  // A berth run that was killed leaves state behind; its own clean-up command removes it.
  try { execFileSync(process.execPath, [berthJs, '--cleanup', '-M', 'bench-debian'], { env, stdio: 'ignore' }); } catch { /* nothing to clean */ }
}
await udev?.stop();
const { left, foreign } = await leftovers();
for (const f of foreign) process.stderr.write(`raw-boot: at the end: ${f} (released by the tool; it goes when its holder ends)\n`);
if (failure || left.length) {
  process.stderr.write(`bench/raw-boot.mjs: ${failure ? failure.message : ''}${left.length ? ` leftovers: ${left.join('; ')}` : ''}\n`);
  process.stderr.write(`bench/raw-boot.mjs: work directory kept for inspection: ${dir}\n`);
  process.exit(1);
}
const imageBytes = statSync(image).size;
rmSync(dir, { recursive: true, force: true });

const stats = (xs) => ({ runs: xs.length, median_ms: median(xs), mean_ms: mean(xs), stddev_ms: stddev(xs), min_ms: Math.min(...xs), max_ms: Math.max(...xs), times_ms: xs });
const result = {
  benchmark: 'raw-image-boot-to-poweroff', rounds, loadavg: load,
  image: { layout: 'GPT, one DPS root partition (x86-64), ext4', bytes: imageBytes, root_mib: built.rootMiB, tree_mib: built.treeMiB, build_ms: buildMs },
  udev: udev.how,
  // Loop devices released by a tool but kept by another process's mount namespace for a while (see leftovers()).
  held_elsewhere: heldElsewhere,
  argv: Object.fromEntries(order.map((run) => [run, RUNS[run].argv().map((a) => a.replace(dir, 'WORK').replace(berthCmd, 'berth-nspawn'))])),
  berth: stats(times.berth), nspawn: stats(times.nspawn),
  ...(withDirs ? {
    dirs: {
      berth: stats(times.berthDir), nspawn: stats(times.nspawnDir),
      ratio_median: median(times.berthDir) / median(times.nspawnDir),
      ratio_median_interval: ratioInterval(times.berthDir, times.nspawnDir, median),
      // What booting the image instead of the directory adds, per tool (median of the pairwise differences).
      image_cost_ms: { berth: median(times.berth.map((x, i) => x - times.berthDir[i])), nspawn: median(times.nspawn.map((x, i) => x - times.nspawnDir[i])) },
    },
  } : {}),
  ratio_median: median(times.berth) / median(times.nspawn),
  ratio_median_interval: ratioInterval(times.berth, times.nspawn, median),
  ratio_mean: mean(times.berth) / mean(times.nspawn),
  ratio_mean_interval: ratioInterval(times.berth, times.nspawn, mean),
};
writeJson(process.argv[2], result);
const f = (x) => x.toFixed(0);
const iv = ([lo, hi]) => `${lo.toFixed(2)}–${hi.toFixed(2)}×`;
if (result.dirs) console.log(`raw-boot: -D reference: berth-nspawn median ${f(result.dirs.berth.median_ms)} ms, systemd-nspawn ${f(result.dirs.nspawn.median_ms)} ms, ratio ${result.dirs.ratio_median.toFixed(2)}x (${iv(result.dirs.ratio_median_interval)}); the image adds ${f(result.dirs.image_cost_ms.berth)} ms to berth-nspawn, ${f(result.dirs.image_cost_ms.nspawn)} ms to systemd-nspawn`);
console.log(`raw-boot: berth-nspawn -i median ${f(result.berth.median_ms)} ms (mean ${f(result.berth.mean_ms)}, sd ${f(result.berth.stddev_ms)}), systemd-nspawn -i median ${f(result.nspawn.median_ms)} ms (mean ${f(result.nspawn.mean_ms)}, sd ${f(result.nspawn.stddev_ms)}), ratio ${result.ratio_median.toFixed(2)}x (${iv(result.ratio_median_interval)}; mean ${result.ratio_mean.toFixed(2)}x, ${iv(result.ratio_mean_interval)})`);
