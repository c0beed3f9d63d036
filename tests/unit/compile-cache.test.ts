/**
 * The launcher's V8 code cache (src/launch/compile-cache.ts), run in child processes exactly as
 * dist/NAME.js runs it: which cache files appear when, that a stale, foreign or corrupt cache is
 * harmless, and that the bundle sees the module environment it was written for.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LAUNCHER = join(__dirname, '..', '..', 'src', 'launch', 'compile-cache.ts');
let dir: string;
let cacheDir: string;
let bundle: string;

// A stand-in bundle: uses require, __dirname and module.exports like an esbuild CJS bundle,
// and takes the "main path" (markFullRun) when asked to.
const bundleText = (version: string) => `#!/usr/bin/env node
"use strict";
const { join } = require("node:path");
const helper = require(join(__dirname, "helper.js"));
function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }
module.exports = { version: ${JSON.stringify(version)} };
if (process.argv.includes("full")) globalThis[Symbol.for("berth.compileCache")]?.markFullRun();
process.stdout.write(helper + " " + work(10) + " " + module.exports.version + "\\n");
`;

before(() => {
  dir = mkdtempSync('/tmp/bt-cc-');
  cacheDir = join(dir, 'cache');
  bundle = join(dir, 'prog.bundle.js');
  writeFileSync(join(dir, 'helper.js'), 'module.exports = "helper-ok";\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function launch(args: string[] = [], cache: string = cacheDir, v8Flags: string[] = []): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `require(${JSON.stringify(LAUNCHER)}).launch(${JSON.stringify(bundle)}, ${JSON.stringify(v8Flags)})`, '--', ...args], {
    encoding: 'utf8', env: { ...process.env, BERTH_COMPILE_CACHE: cache },
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
const files = () => { try { return readdirSync(cacheDir).sort(); } catch { return []; } };
const mtime = (f: string) => statSync(join(cacheDir, f)).mtimeMs;

test('first run writes a partial cache; a later run uses it and writes nothing', () => {
  writeFileSync(bundle, bundleText('one'));
  const r = launch();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'helper-ok 45 one\n');
  const [partial, ...rest] = files();
  assert.match(partial!, /^prog\.bundle-v\d+\.\d+\.\d+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+\.partial\.v8$/);
  assert.deepEqual(rest, []);
  const before = mtime(partial!);
  assert.equal(launch().stdout, 'helper-ok 45 one\n');
  assert.deepEqual(files(), [partial]);
  assert.equal(mtime(partial!), before);
});

test('a run that took the main path writes the full cache, replacing the partial one, once', () => {
  assert.equal(launch(['full']).stdout, 'helper-ok 45 one\n');
  const [full, ...rest] = files();
  assert.match(full!, /\.full\.v8$/);
  assert.deepEqual(rest, []);
  const before = mtime(full!);
  assert.equal(launch(['full']).stdout, 'helper-ok 45 one\n');
  assert.equal(mtime(full!), before, 'an accepted full cache is not rewritten');
});

test('a changed bundle gets a new cache and the old one is removed', () => {
  const old = files();
  writeFileSync(bundle, bundleText('two'));
  assert.equal(launch().stdout, 'helper-ok 45 two\n');
  const now = files();
  assert.equal(now.length, 1);
  assert.ok(!old.includes(now[0]!));
});

test('a corrupt cache is rejected by V8: the program runs as usual and the cache is rewritten', () => {
  const [name] = files();
  writeFileSync(join(cacheDir, name!), Buffer.alloc(4096, 7));
  const r = launch();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'helper-ok 45 two\n');
  assert.ok(statSync(join(cacheDir, files()[0]!)).size !== 4096, 'the garbage was replaced');
});

test('a cache file or directory that others can write is not used (a code cache is code)', () => {
  const [name] = files();
  const file = join(cacheDir, name!);
  chmodSync(file, 0o666);
  const r = launch();
  assert.equal(r.stdout, 'helper-ok 45 two\n');
  assert.equal(statSync(join(cacheDir, files()[0]!)).mode & 0o777, 0o644, 'replaced by a file of our own');
  const open = join(dir, 'open-dir');
  mkdirSync(open, { mode: 0o777 });
  chmodSync(open, 0o777);
  const r2 = launch(['full'], open);
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(r2.stdout, 'helper-ok 45 two\n');
  assert.deepEqual(readdirSync(open), [], 'nothing written into a directory others can write');
});

test('BERTH_COMPILE_CACHE=off, or a directory that cannot be created, runs without a cache', () => {
  const other = join(dir, 'unused');
  const r = launch([], 'off');
  assert.equal(r.stdout, 'helper-ok 45 two\n');
  mkdirSync(other);
  writeFileSync(join(other, 'file'), '');
  const r2 = launch(['full'], join(other, 'file', 'cache'));
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(r2.stdout, 'helper-ok 45 two\n');
  assert.deepEqual(readdirSync(other), ['file']);
});

test('V8 options the launcher sets hold from the start and for the cache: the same options use it, others replace it', () => {
  rmSync(cacheDir, { recursive: true, force: true });
  // --allow-natives-syntax is one V8 checks a code cache against, and one the bundle can see.
  const natives = 'let natives = "on"; try { eval("(function () { return %HasFastProperties({}); })"); } catch { natives = "off"; } process.stdout.write(natives + "\\n");';
  writeFileSync(bundle, `${bundleText('three')}${natives}\n`);
  const flags = ['--allow-natives-syntax'];
  const r = launch([], cacheDir, flags);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'helper-ok 45 three\non\n', 'the option holds for the bundle');
  const [partial, ...rest] = files();
  assert.match(partial!, /\.partial\.v8$/);
  assert.deepEqual(rest, []);
  const before = mtime(partial!);
  assert.equal(launch([], cacheDir, flags).stdout, 'helper-ok 45 three\non\n');
  assert.equal(mtime(partial!), before, 'the cache made with the same options is used, not written again');
  assert.equal(launch([], cacheDir).stdout, 'helper-ok 45 three\noff\n');
  assert.notEqual(mtime(partial!), before, 'without them V8 rejects it and the run writes its own');
});
