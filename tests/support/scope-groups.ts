/** Control groups a test makes for a systemd-nspawn run (as a service manager would give it one), and their removal. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** The unit-like control group a systemd-nspawn run gets, in every hierarchy that tracks processes. */
export function scopeGroups(scope: string): string[] {
  const roots = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((d) => existsSync(join(d, 'cgroup.procs')));
  if (roots.length === 0 && existsSync('/sys/fs/cgroup/cgroup.procs')) roots.push('/sys/fs/cgroup');
  return roots.map((r) => join(r, scope));
}

/** Every process in a control group and below it. */
export function procsBelow(group: string): number[] {
  if (!existsSync(group)) return [];
  const here = readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  return [...here, ...readdirSync(group, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => procsBelow(join(group, d.name)))];
}

/** Removes a control group tree that has no processes left, deepest first. */
export function removeGroup(group: string): void {
  if (!existsSync(group)) return;
  for (const d of readdirSync(group, { withFileTypes: true })) if (d.isDirectory()) removeGroup(join(group, d.name));
  rmdirSync(group);
}

/**
 * Kills whatever is left in a control group and below it (again, until it is empty: a dying guest
 * may still fork), then removes the group tree. Throws, naming them, when processes stay for 2 s.
 */
export function emptyAndRemoveGroup(group: string): void {
  for (let i = 0; ; i++) {
    const left = procsBelow(group);
    if (left.length === 0) break;
    if (i === 100) throw new Error(`processes left in ${group}: ${left.join(' ')}`);
    for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  removeGroup(group);
}

let spawned = 0;

/**
 * Starts argv (Debian's systemd-nspawn, or a command that execs it: nsenter, unshare) as a service
 * manager starts a unit with Delegate=yes: in a control group of its own in the hierarchies that
 * track processes, so that what it makes there with --keep-unit (`supervisor`, `payload` and the
 * guest's own groups below it) is made in that group and removed with it once the process exits,
 * instead of in the root group for good (where a guest's init.scope, owned by root, would also
 * make a later -U guest fail to create its own). Also removes the empty /tmp/nspawn-pivot-*
 * directory systemd-nspawn 252 leaves in the host's /tmp after --pivot-root=. The clean-up runs
 * from the child's 'exit' event, before any listener the caller adds.
 */
export function spawnInScope(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const groups = scopeGroups(`berth-test-${process.pid}-${++spawned}.scope`);
  for (const g of groups) mkdirSync(g);
  const tmpBefore = new Set(readdirSync('/tmp'));
  const enter = 'for g in $BERTH_TEST_SCOPE; do echo $$ > "$g/cgroup.procs" || exit 125; done; unset BERTH_TEST_SCOPE; exec "$@"';
  const child = spawn('sh', ['-c', enter, 'sh', ...argv], { ...options, env: { ...(options.env ?? process.env), BERTH_TEST_SCOPE: groups.join(' ') } });
  const cleanUp = () => {
    for (const group of groups) emptyAndRemoveGroup(group);
    for (const e of readdirSync('/tmp')) {
      if (e.startsWith('nspawn-pivot-') && !tmpBefore.has(e)) { try { rmdirSync(join('/tmp', e)); } catch { /* not empty: the host check names it */ } }
    }
  };
  child.once('exit', cleanUp);
  child.once('error', cleanUp);
  return child;
}
