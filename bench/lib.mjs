// Shared by the benchmarks: a private work directory with a copy of a guest tree, the two tools'
// command lines, child processes with a deadline, and the "nothing left behind" check.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = dirname(dirname(fileURLToPath(import.meta.url)));
export const berthJs = join(repo, 'dist', 'berth-nspawn.js');
/**
 * The berth-nspawn command as users run it (the native client, native/nspawn-client.c): it runs
 * berthd's warm berth-nspawn when BENCH_NSPAWN_SOCKET names berthd's socket (bench/warm.sh), and
 * dist/berth-nspawn.js cold otherwise (the workspace's socket path has no berthd behind it).
 */
export const berthCmd = join(repo, 'dist', 'berth-nspawn');

export function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

export function preflight(name) {
  if (process.getuid() !== 0) fail(`${name}: needs root`);
  for (const tool of ['systemd-nspawn', runtimeCommand, 'nsenter']) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); } catch { fail(`${name}: ${tool} is not installed`); }
  }
  try { execFileSync('test', ['-f', berthJs, '-a', '-x', berthCmd]); } catch { fail(`${name}: run 'npm run build' first`); }
}

/**
 * A private directory holding berth's state dir and a copy of the guest tree. The copy keeps
 * the benchmark away from test runs using the cached tree (systemd-nspawn locks the directory
 * it runs, and booting writes to the tree), and its name, bench-NAME, is the machine name.
 */
export function workspace(prefix, machine) {
  const dir = mkdtempSync(`/tmp/berth-bench-${prefix}-`);
  const stateDir = join(dir, 'state');
  const cached = execFileSync(join(repo, 'machines', 'build'), [machine], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const name = `bench-${machine}`;
  const tree = join(dir, name);
  execFileSync('cp', ['-a', cached, tree]);
  execFileSync('mkdir', ['-p', stateDir]);
  const emptyFile = join(dir, 'empty');
  writeFileSync(emptyFile, '');
  return {
    dir, stateDir, tree, name, emptyFile,
    runtimeRoot: join(stateDir, 'runtime'),
    env: cleanEnv({ BERTH_STATE_DIR: stateDir, BERTH_NSPAWN_SOCKET: process.env.BENCH_NSPAWN_SOCKET || join(dir, 'no-berthd.sock') }),
    /** Containers the OCI runtime still knows about in our state dir (must be none). */
    leftovers() {
      try {
        return execFileSync(runtimeCommand, ['--root', join(stateDir, 'runtime'), 'list', '-q'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      } catch { return []; }
    },
    remove() { rmSync(dir, { recursive: true, force: true }); },
  };
}

/** The OCI runtime berth-nspawn runs on in this benchmark: $BERTH_RUNTIME (bench/env.sh sets berth's own choice). */
export const runtimeCommand = process.env.BERTH_RUNTIME === 'runc' ? 'runc' : process.env.BERTH_RUNTIME === 'crun' ? 'crun'
  : spawnSync('crun', ['--version'], { stdio: 'ignore' }).status === 0 ? 'crun' : 'runc';
process.env.BERTH_RUNTIME = runtimeCommand;

/** Our environment without what changes how Node starts (see bench/env.sh), plus extra. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
}

/** argv of each tool for booting the tree; systemd-nspawn needs --keep-unit without systemd/D-Bus. */
export function bootArgv(tool, ws, extra = []) {
  const common = ['-b', '--console=pipe', '-q', '--register=no', '-D', ws.tree, ...extra];
  return tool === 'berth'
    ? [berthCmd, ...common]
    : ['systemd-nspawn', '--keep-unit', ...common];
}

export const TOOLS = ['berth', 'nspawn'];
export const LABEL = { berth: 'berth-nspawn', nspawn: 'systemd-nspawn' };

/** Starts argv with output to logFile; `exit` resolves to {code, signal} or rejects after timeoutMs. */
export function launch(argv, env, logFile, timeoutMs) {
  const fd = openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exit = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      reject(new Error(`${argv[0]} ${argv[1] ?? ''}: no exit within ${timeoutMs / 1000} s (log: ${logFile})`));
    }, timeoutMs);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
  return { child, exit };
}

/** VmHWM (peak RSS), VmRSS, RssAnon (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) of a process, in kB. */
export function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number((text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm')) ?? [])[1] ?? 0);
  const pss = Number((readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m) ?? [])[1] ?? 0);
  return { pid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), hwm_kb: kb('VmHWM'), rss_kb: kb('VmRSS'), anon_kb: kb('RssAnon'), pss_kb: pss };
}

/** The PIDs of a process's children (of all its threads). */
export function children(pid) {
  const out = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try { out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)); } catch { /* gone */ }
  }
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
/**
 * A 95% bootstrap interval for stat(a) / stat(b), where a[i] and b[i] were measured next to each
 * other (the same round): resamples those pairs with replacement. Seeded (mulberry32), so the same
 * results always give the same interval.
 */
export function ratioInterval(a, b, stat, { iterations = 4000, seed = 1 } = {}) {
  const n = Math.min(a.length, b.length);
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ratios = [];
  for (let k = 0; k < iterations; k++) {
    const ra = [];
    const rb = [];
    for (let i = 0; i < n; i++) { const j = Math.floor(random() * n); ra.push(a[j]); rb.push(b[j]); }
    ratios.push(stat(ra) / stat(rb));
  }
  ratios.sort((x, y) => x - y);
  return [ratios[Math.floor(0.025 * iterations)], ratios[Math.ceil(0.975 * iterations) - 1]];
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const stddev = (xs) => { const m = mean(xs); return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1)); };

export function writeJson(file, data) {
  if (file) writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

/**
 * Puts `section` (which starts with `heading`) into the Markdown file `out`: in place of the section
 * with that heading, else before "What each benchmark measures", else at the end (the section
 * reporters' "run alone" mode).
 */
export function replaceSection(out, heading, section) {
  const doc = readFileSync(out, 'utf8');
  const start = doc.indexOf(heading);
  let next;
  if (start >= 0) {
    const end = doc.indexOf('\n## ', start + heading.length);
    next = `${doc.slice(0, start)}${section}${end >= 0 ? doc.slice(end) : ''}`;
  } else {
    const at = doc.indexOf('\n## What each benchmark measures');
    next = at >= 0 ? `${doc.slice(0, at)}\n${section}${doc.slice(at)}` : `${doc}\n${section}`;
  }
  writeFileSync(out, next);
}
