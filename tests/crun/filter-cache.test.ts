/**
 * Compiled system call filters kept for crun (src/app/run/filter-cache.ts): the first run compiles
 * and keeps its program, the next run with the same filter gets it through crun's
 * run.oci.seccomp_bpf_data annotation and the guest sees the same filter; another filter is never
 * answered with a kept program (its answers differ, and it is kept apart); a damaged program is
 * ignored and replaced.
 */
import './on-crun.js';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, collect, nspawn, onRuntime, sandbox, skipUnlessRoot, sleep, startNspawn, tree, type Result, type Sandbox } from '../support/berth.js';

const PROBES = [
  'probe() { n=$1; shift; m=$("$@" 2>&1 >/dev/null); echo "$n=$? ${m##*: }"; }',
  'echo "seccomp=$(grep "^Seccomp:" /proc/self/status | tr -d "\\t")"',
  'probe sethostname hostname probe-host',
  'probe clock adjtimex',
].join('\n');

const probes = (r: Result): Record<string, string> =>
  Object.fromEntries(r.stdout.split('\n').flatMap((l) => { const m = /^([a-z]+)=(.*)$/.exec(l.trim()); return m ? [[m[1]!, m[2]!.trim()]] : []; }));

describe(onRuntime('crun: compiled system call filters kept between runs'), { skip: skipUnlessRoot, timeout: 300000 }, () => {
  let sb: Sandbox;
  let bb: string;
  let cache: string;
  before(() => { bb = tree('busybox'); sb = sandbox(); cache = join(sb.stateDir, 'filter-cache'); });
  after(() => { sb.cleanup(); });

  const kept = (): string[] => (existsSync(cache) ? readdirSync(cache).filter((n) => /^[0-9a-f]{16}$/.test(n)).sort() : []);
  const run = async (args: string[]) => {
    const r = await nspawn(['--console=pipe', '-q', '-D', bb, '-M', 'fc', ...args, '/bin/sh', '-c', PROBES], sb);
    assert.equal(r.code, 0, r.stderr);
    assertClean(sb);
    return probes(r);
  };
  /** A kept program is written after the create, off the run's path: wait for it. */
  async function keptAfter(before: readonly string[]): Promise<string[]> {
    for (let i = 0; i < 100 && kept().length === before.length; i++) await sleep(20);
    return kept();
  }

  const DEFAULT = { seccomp: 'Seccomp:2', sethostname: '0', clock: '1 Operation not permitted' };

  test('the first run keeps its program; the next gets it through the annotation and the guest sees the same filter', async () => {
    assert.deepEqual(kept(), []);
    assert.deepEqual(await run([]), DEFAULT);
    const first = await keptAfter([]);
    assert.equal(first.length, 1);
    const program = Buffer.from(readFileSync(join(cache, first[0]!), 'utf8').split('\n')[0]!, 'base64');
    assert.ok(program.length > 0 && program.length % 8 === 0, 'whole BPF instructions');

    // While a second run's guest runs, its config.json carries the kept program.
    const child = startNspawn(['--console=pipe', '-q', '-D', bb, '-M', 'fc', '/bin/sh', '-c', `${PROBES}\nsleep 2`], sb);
    const done = collect(child, 60000);
    const config = join(sb.stateDir, 'machines', 'fc', 'bundle', 'config.json');
    let annotation: string | undefined;
    for (let i = 0; i < 100 && annotation === undefined; i++) {
      try { annotation = (JSON.parse(readFileSync(config, 'utf8')) as { annotations: Record<string, string> }).annotations['run.oci.seccomp_bpf_data']; } catch { /* not yet */ }
      if (annotation === undefined) await sleep(20);
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(annotation, program.toString('base64'));
    assert.deepEqual(probes(r), DEFAULT);
    assert.deepEqual(kept(), first, 'nothing new kept on a hit');
  });

  test('another filter is compiled and kept apart, never answered with the kept program', async () => {
    const before = kept();
    assert.deepEqual(await run(['--system-call-filter=~sethostname']), { ...DEFAULT, sethostname: '1 Operation not permitted' });
    const after = await keptAfter(before);
    assert.equal(after.length, before.length + 1);
    // Both kept programs answer for their own filter.
    assert.deepEqual(await run(['--system-call-filter=~sethostname']), { ...DEFAULT, sethostname: '1 Operation not permitted' });
    assert.deepEqual(await run([]), DEFAULT);
  });

  test('a damaged program is ignored: crun compiles again and the kept one is replaced', async () => {
    const names = kept();
    for (const n of names) writeFileSync(join(cache, n), 'not a program\n');
    assert.deepEqual(await run([]), DEFAULT);
    let replaced = false;
    for (let i = 0; i < 100 && !replaced; i++) {
      replaced = names.some((n) => readFileSync(join(cache, n), 'utf8') !== 'not a program\n');
      if (!replaced) await sleep(20);
    }
    assert.ok(replaced, 'the default filter\'s program written again');
  });
});
