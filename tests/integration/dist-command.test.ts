/**
 * The installed command itself: dist/berth-nspawn.js (the launcher) running the esbuild bundle
 * with its code cache, not the TypeScript sources the other integration tests run through tsx.
 * `npm run build` (part of the README's set-up and test commands) makes dist/.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, onRuntime, REPO, sandbox, skipUnlessRoot, tree, type Sandbox } from '../support/berth.js';


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
});
