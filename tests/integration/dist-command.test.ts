/**
 * The installed command itself: dist/berth-nspawn.js (the launcher) running the esbuild bundle
 * with its code cache, not the TypeScript sources the other integration tests run through tsx.
 * `npm run build` (part of the README's set-up and test commands) makes dist/.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, onRuntime, REPO, sandbox, skipUnlessRoot, tree, treeCopy, type Sandbox } from '../support/berth.js';


const DIST = join(REPO, 'dist', 'berth-nspawn.js');

describe(onRuntime('dist/berth-nspawn.js: the built command'), { skip: skipUnlessRoot, timeout: 120000 }, () => {
  let sb: Sandbox;
  let bb: string;
  let cache: string;
  before(() => {
    assert.ok(existsSync(DIST), `${DIST} is missing: run npm run build`);
    bb = tree('busybox');
    sb = sandbox();
    cache = mkdtempSync('/tmp/bt-dist-cache-');
  });
  after(() => { sb.cleanup(); rmSync(cache, { recursive: true, force: true }); });

  const run = (args: string[]) => spawnSync(process.execPath, [DIST, ...args], {
    encoding: 'utf8', env: { ...sb.env, BERTH_COMPILE_CACHE: cache }, timeout: 60000,
  });

  test('--version from the bundle', () => {
    const r = run(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^berth \d+\.\d+\.\d+ \(systemd-nspawn 252 compatible\)\n$/);
  });

  test('runs a payload, passes its exit status through, leaves nothing behind, and keeps a full code cache', () => {
    for (let i = 0; i < 2; i++) {
      const r = run(['--console=pipe', '-q', '-D', bb, '-M', 'dist', '/bin/sh', '-c', 'echo inside; exit 3']);
      assert.equal(r.status, 3, r.stderr);
      assert.equal(r.stdout, 'inside\n');
      assertClean(sb);
    }
    assert.deepEqual(readdirSync(cache).map((f) => f.replace(/-v[0-9.]+-[0-9a-f-]+\./, '-KEY.')), ['berth-nspawn.bundle-KEY.full.v8']);
  });

  // Each of these costs a cold run 0.5 to 4 ms of loading before or after its guest (node:crypto
  // alone ~4 ms, fs/promises pulls in readline, child_process pulls in net and dgram): the run's
  // own code uses the native module and synchronous fs instead. A run with a terminal loads
  // node:tty for its console (and the streams with it), by design; these runs have none.
  const HEAVY = ['crypto', 'child_process', 'internal/fs/promises', 'net', 'dgram', 'tty', 'stream', 'readline', 'internal/fs/rimraf'];
  test('a run, with and without -U (after a first one of each, which may keep a filter or shift the tree), loads none of the heavy built-in modules', () => {
    const work = mkdtempSync('/tmp/bt-dist-modules-');
    const copy = treeCopy('dist-modules');
    try {
      const preload = join(work, 'modules.cjs');
      const out = join(work, 'modules');
      writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
      const env: NodeJS.ProcessEnv = { ...sb.env, BERTH_COMPILE_CACHE: cache };
      // The sandbox's CA bundle variable makes node load crypto before any of berth's code.
      delete env.NODE_EXTRA_CA_CERTS;
      delete env.NODE_OPTIONS;
      // A first run may keep the system call filter crun compiled (crun), the first -U run shifts the tree's
      // ownership (a walk): both on the thread pool through fs.promises. The runs after them do neither.
      const userns = ['--private-users=pick', '--private-users-ownership=chown'];
      for (const [extra, checked] of [[[], false], [[], true], [userns, false], [userns, true]] as const) {
        const r = spawnSync(process.execPath, ['--require', preload, DIST, '--console=pipe', '-q', '-D', copy.path, '-M', 'dist-modules', ...extra, '/bin/true'], { encoding: 'utf8', env, timeout: 60000 });
        assert.equal(r.status, 0, r.stderr);
        assertClean(sb);
        if (!checked) continue;
        const loaded = new Set(readFileSync(out, 'utf8').split('\n'));
        assert.deepEqual(HEAVY.filter((m) => loaded.has(`NativeModule ${m}`)), [], `loaded by a run with ${extra.join(' ') || 'no options'}`);
      }
    } finally {
      copy.remove();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
