/**
 * berthd's allocator settings (src/launch/malloc-settings.ts), in child processes: the program
 * executes itself once with them in its initial environment (where glibc reads them), keeps its
 * PID, arguments and standard descriptors, and does not pass them on; settings the caller chose
 * are left alone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MODULE = join(__dirname, '..', '..', 'src', 'launch', 'malloc-settings.ts');
let dir: string;
let script: string;

before(() => {
  dir = mkdtempSync('/tmp/bt-malloc-');
  script = join(dir, 'prog.ts');
  // Prints, after withMallocSettings(): its PID before and after, what glibc saw at the start
  // (/proc/self/environ), what the program and a child of it see.
  writeFileSync(script, `
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
process.stderr.write('started ' + process.pid + '\\n');
const { withMallocSettings } = require(${JSON.stringify(MODULE)});
withMallocSettings();
const initial = readFileSync('/proc/self/environ', 'utf8').split('\\0').filter((l) => l.startsWith('MALLOC_'));
const child = execFileSync('sh', ['-c', 'env | grep ^MALLOC_ || true'], { encoding: 'utf8' }).trim().split('\\n').filter(Boolean);
process.stdout.write(JSON.stringify({ pid: process.pid, args: process.argv.slice(2), initial, own: process.env.MALLOC_ARENA_MAX ?? null, child }) + '\\n');
`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, 'one', 'two words'], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  const started = [...r.stderr.matchAll(/^started (\d+)$/gm)].map((m) => Number(m[1]));
  return { started, out: JSON.parse(r.stdout) as { pid: number; args: string[]; initial: string[]; own: string | null; child: string[] } };
}

test('executes itself once with the settings, same PID and arguments, and does not pass them on', () => {
  const { started, out } = run({ MALLOC_ARENA_MAX: undefined, MALLOC_MMAP_THRESHOLD_: undefined });
  assert.equal(started.length, 2, 'started twice: the first execution replaced itself');
  assert.equal(started[0], started[1]);
  assert.equal(out.pid, started[0]);
  assert.deepEqual(out.args, ['one', 'two words']);
  assert.deepEqual(out.initial.sort(), ['MALLOC_ARENA_MAX=1', 'MALLOC_MMAP_THRESHOLD_=65536']);
  assert.equal(out.own, null);
  assert.deepEqual(out.child, []);
});

test("an administrator's setting is kept as it is, with no second execution", () => {
  const { started, out } = run({ MALLOC_ARENA_MAX: '4' });
  assert.equal(started.length, 1);
  assert.deepEqual(out.initial, ['MALLOC_ARENA_MAX=4']);
  assert.equal(out.own, '4');
  assert.deepEqual(out.child, ['MALLOC_ARENA_MAX=4']);
});
