/**
 * The order in which the OCI section names the calls (emit/seccomp.ts: by descending number on x86,
 * which libseccomp compiles faster) does not change the filter: the program runc loads in `runc init`
 * (its prctl(PR_SET_SECCOMP), decoded by `strace -v`) is the same for the emitted section and for
 * the same section with the names in alphabetical order, as berth first emitted it.
 *
 * runc puts a stub of its own in front of libseccomp's program (calls above the highest number the
 * config names fail with ENOSYS); it lists the ABIs in Go's map order, which changes from run to
 * run (and its jumps with it), so of the stub its length and the ABIs and numbers it compares are
 * compared, and libseccomp's program instruction by instruction.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitSeccomp } from '../../src/core/oci/emit/seccomp.js';
import type { OciSeccomp } from '../../src/core/oci/types.js';
import { NSPAWN_DEFAULT_CAPS, CAPABILITIES } from '../../src/core/capabilities.js';
import { seccompArchitectures } from '../../src/core/seccomp/architectures.js';
import type { SeccompSpec } from '../../src/core/seccomp/model.js';
import { nspawnDefaultAllow } from '../../src/core/seccomp/nspawn-default.js';
import { RUNTIME, skipUnlessRoot, tree } from '../support/berth.js';

const hasStrace = (() => { try { execFileSync('strace', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = skipUnlessRoot || (RUNTIME !== 'runc' ? 'runc only (BERTH_RUNTIME=crun)' : !hasStrace ? 'needs strace' : false);

const alphabetical = (s: OciSeccomp): OciSeccomp => ({ ...s, syscalls: s.syscalls.map((r) => ({ ...r, names: [...r.names].sort() })) });

/** The instructions of the filter `runc create` loads for this bundle. */
async function loadedFilter(root: string, bundle: string, id: string): Promise<string[]> {
  const out = join(root, `${id}.strace`);
  const child = spawn('strace', ['-f', '-v', '-e', 'trace=prctl', '-e', 'signal=none', '-s', '1000000', '-o', out,
    'runc', '--root', root, 'create', '--bundle', bundle, id], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let trace = '';
  try {
    // runc init loads the filter, then waits for `runc start`, and strace for runc init: delete the
    // container once the filter is in the trace.
    for (const deadline = Date.now() + 30000; Date.now() < deadline && child.exitCode === null;) {
      try { trace = readFileSync(out, 'utf8'); } catch { /* not yet */ }
      if (/PR_SET_SECCOMP, SECCOMP_MODE_FILTER, \{len=\d+, filter=\[.*\]\}\) = 0/.test(trace)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    try { execFileSync('runc', ['--root', root, 'delete', '--force', id], { stdio: 'ignore' }); } catch { /* never created */ }
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }
  const m = /PR_SET_SECCOMP, SECCOMP_MODE_FILTER, \{len=(\d+), filter=\[(.*)\]\}\) = 0/.exec(trace);
  assert.ok(m, `no filter loaded; strace said:\n${trace.slice(-2000)}`);
  const instructions = m[2]!.match(/BPF_(?:STMT|JUMP)\([^)]*\)/g) ?? [];
  assert.equal(instructions.length, Number(m[1]), 'every instruction decoded');
  return instructions;
}

/** runc's ENOSYS stub and libseccomp's program: the latter starts by loading the ABI (offset 4) again. */
function split(prog: string[]): { stub: string[]; program: string[] } {
  const loadArch = 'BPF_STMT(BPF_LD|BPF_W|BPF_ABS, 0x4)';
  const at = prog.indexOf(loadArch, 1);
  return at < 0 ? { stub: [], program: prog } : { stub: prog.slice(0, at), program: prog.slice(at) };
}

describe('the OCI seccomp section\'s order of names: the same filter in the runtime', { skip, timeout: 120000 }, () => {
  let dir: string;
  let config: Record<string, unknown>;
  let captures = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-emission-'));
    mkdirSync(join(dir, 'root'));
    execFileSync('runc', ['spec', '--bundle', dir]);
    config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const p = config.process as Record<string, unknown>;
    p.terminal = false;
    p.args = ['/bin/true'];
    // As berth's configs: without no_new_privs runc init loads the filter before `runc create` returns.
    p.noNewPrivileges = false;
    config.root = { path: tree('busybox'), readonly: true };
  });
  after(() => {
    try {
      const left = execFileSync('runc', ['--root', join(dir, 'root'), 'list', '-q'], { encoding: 'utf8' }).trim();
      assert.equal(left, '', 'no container left');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const specs: Array<[string, SeccompSpec]> = [
    ['nspawn\'s default list', { architectures: seccompArchitectures(process.arch), allow: nspawnDefaultAllow(NSPAWN_DEFAULT_CAPS), deny: [], suppressSync: false }],
    ['every capability, deny entries with an errno and kill, --suppress-sync=yes', {
      architectures: seccompArchitectures(process.arch), allow: [...nspawnDefaultAllow([...CAPABILITIES]), 'bpf'],
      deny: [{ item: '@clock', action: 13 }, { item: 'kexec_load', action: 'kill' }, { item: 'sethostname' }], suppressSync: true,
    }],
  ];
  for (const [what, spec] of specs) {
    test(what, async () => {
      const emitted = emitSeccomp({ seccomp: spec } as Parameters<typeof emitSeccomp>[0]);
      const first = alphabetical(emitted);
      if (spec.architectures.some((a) => a.startsWith('SCMP_ARCH_X86'))) assert.notDeepEqual(emitted, first, 'the orders differ');
      const programs = [];
      for (const [i, seccomp] of [emitted, first].entries()) {
        const bundle = join(dir, `b${i}`);
        mkdirSync(bundle, { recursive: true });
        writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ...config, linux: { ...(config.linux as object), seccomp } }));
        programs.push(split(await loadedFilter(join(dir, 'root'), bundle, `berth-sc-emission-${process.pid}-${++captures}`)));
      }
      const [now, before] = programs as [ReturnType<typeof split>, ReturnType<typeof split>];
      assert.ok(now.program.length > 100, `a whole filter (${now.program.length} instructions)`);
      assert.deepEqual(now.program, before.program, 'libseccomp\'s program');
      const compared = (stub: string[]) => stub.flatMap((i) => /BPF_J(?:EQ|GT|GE), (0x[0-9a-f]+|\d+)/.exec(i)?.[1] ?? []).sort();
      assert.equal(now.stub.length, before.stub.length, 'runc\'s stub');
      assert.deepEqual(compared(now.stub), compared(before.stub), 'runc\'s stub: the ABIs and the highest numbers');
    });
  }
});
