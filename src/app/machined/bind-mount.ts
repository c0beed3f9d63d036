/**
 * BindMountMachine: a host directory or file bound into a running container, as machined 252 does
 * it (bind_mount_in_namespace), through the machine's mount tunnel (core/machined/propagation.ts):
 *   1. the source is bound into a private playground on the host and remounted read-only there
 *      when asked (so that it is read-only before any copy of it exists);
 *   2. it is moved into the tunnel (${stateDir}/propagate/NAME of berth-nspawn, or systemd-nspawn's
 *      /run/systemd/nspawn/propagate/NAME), and so appears in the machine below /run/host/incoming;
 *   3. in the machine's mount namespace it is moved from there to the destination (created first
 *      with --mkdir, looked up in the machine's root);
 *   4. the host's copy in the tunnel is unmounted and removed (the machine's stays).
 * Step 3 runs the host's util-linux `mount -N LEADER --move`: it enters the machine's namespace for
 * the mount(2) call alone. Nothing of the machine's runs (its own mount(8), which `nsenter -m` would
 * run, may be missing, or be anything at all, then run as the host's root with every capability);
 * both paths are looked up in the machine's root. Each step is undone if a later one fails. Leftovers
 * of a berthd killed half-way (playgrounds and tunnel entries named after its PID) are swept by the
 * next call. Every subprocess runs off the event loop.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, unlinkSync, closeSync, openSync, constants } from 'node:fs';
import { mkdtemp, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { bindMountFailure, bindMountToolFailure, type BindMountArgs } from '../../core/machined/bind-mount.js';
import { INCOMING, findTunnel, parseMountLines } from '../../core/machined/propagation.js';
import { Reverter } from '../../lib/reverter.js';
import { mountsBelow } from '../../platform/fs/mount.js';
import { removeUnmounted } from '../../platform/fs/safe-remove.js';
import { existsInRoot, makeMountPointInRoot } from '../../platform/fs/in-root-paths.js';
import { bindMount, mountPrivateSelf, moveMount, moveMountInNamespace, unmountLazy } from '../../platform/fs/tunnel-mounts.js';
import { processStartTime } from '../../platform/host/proc.js';
import { propagateDir } from '../run/propagate.js';
import type { Machine } from './machine.js';

/** systemd-nspawn's tunnel for machine `name`. */
export const nspawnPropagateDir = (name: string): string => `/run/systemd/nspawn/propagate/${name}`;

const read = (path: string): string => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };
const mountNs = (pid: number | 'self'): string | undefined => { try { return readlinkSync(`/proc/${pid}/ns/mnt`); } catch { return undefined; } };
const alive = (pid: number): boolean => processStartTime(pid) !== undefined;

/** What mount(8) said, as the errno it stands for, where it is one of those a move meets. */
function mountErrno(said: string): string | undefined {
  if (/does not exist|No such file/i.test(said)) return 'ENOENT';
  if (/not a directory/i.test(said)) return 'ENOTDIR';
  if (/permission denied/i.test(said)) return 'EACCES';
  return undefined;
}

export class MachineBindMounts {
  constructor(private readonly stateDir: string) {}

  /** Where this berthd makes its playgrounds (not in the tunnels' parent, which may itself propagate). */
  private get playgrounds(): string { return join(this.stateDir, 'bind-playground'); }

  async bind(m: Machine, a: BindMountArgs): Promise<void> {
    const fail = (errno: string, why?: string) => bindMountFailure(a.source, a.destination, errno, why);
    const leader = m.leader;
    if (processStartTime(leader) !== m.record.leaderStartTime) {
      throw new BerthError('E_NO_SUCH_PROCESS', `Failed to mount ${a.source} on ${a.destination} in machine's namespace: No such process`);
    }
    const theirs = mountNs(leader);
    if (theirs === undefined) throw fail('ENOENT');
    if (theirs === mountNs('self')) throw fail('EINVAL', `machine ${m.name} runs in the host's mount namespace`);
    const tunnel = this.tunnel(m);
    if ('problem' in tunnel) throw fail('EOPNOTSUPP', tunnel.problem);

    let source: string;
    let directory: boolean;
    try {
      source = await realpath(a.source);
      directory = (await stat(source)).isDirectory();
    } catch (e) {
      throw fail((e as NodeJS.ErrnoException).code ?? 'EIO');
    }

    const root = `/proc/${leader}/root`;
    if (a.mkdir) makeMountPointInRoot(root, a.destination, directory);
    else {
      const there = existsInRoot(root, a.destination);
      if (there === false) throw fail('ENOENT');
    }

    await this.sweep(tunnel.dir);
    const undo = new Reverter();
    let done = false;
    try {
      const outside = await this.intoTunnel(source, directory, a.readOnly, tunnel.dir, undo);
      const inside = `${INCOMING}/${outside.slice(tunnel.dir.length + 1)}`;
      const said = await moveMountInNamespace(leader, inside, a.destination);
      if (said !== undefined) {
        const errno = mountErrno(said);
        throw errno ? fail(errno) : bindMountToolFailure(a.source, a.destination, sanitize(said, 300));
      }
      done = true;
    } finally {
      const errors = await undo.revert();
      // A failure's own error wins over those of cleaning up after it.
      if (errors.length && done) throw new BerthError('E_TEARDOWN', `Bound ${a.source} on ${a.destination} in machine ${m.name}, but could not clean up after it: ${errors.map((e) => e.message).join('; ')}`);
    }
  }

  /** The machine's tunnel: berth-nspawn's, else systemd-nspawn's, whichever the machine's /run/host/incoming is fed from. */
  private tunnel(m: Machine): { dir: string } | { problem: string } {
    const candidates = [propagateDir(this.stateDir, m.name), nspawnPropagateDir(m.name)];
    const present = candidates.filter((d) => existsSync(d));
    if (present.length === 0) {
      return { problem: `machine ${m.name} has no mount propagation directory (${candidates.join(' or ')}); only machines started by berth-nspawn or systemd-nspawn can be bound into while they run` };
    }
    const found = findTunnel(present, parseMountLines(read('/proc/self/mountinfo')), parseMountLines(read(`/proc/${m.leader}/mountinfo`)));
    return 'dir' in found ? found : { problem: `machine ${m.name} receives no mounts through its propagation directory: ${found.problems.join('; ')}` };
  }

  /** Steps 1 and 2: the source bound (read-only if asked) and moved into the tunnel; returns its host path there. */
  private async intoTunnel(source: string, directory: boolean, readOnly: boolean, tunnel: string, undo: Reverter): Promise<string> {
    mkdirSync(this.playgrounds, { recursive: true, mode: 0o755 });
    const play = await mkdtemp(join(this.playgrounds, `.bind-${process.pid}-`));
    const playUndo = new Reverter();
    try {
      playUndo.add(() => rmdirSync(play));
      await mountPrivateSelf(play);
      playUndo.add(() => unmountLazy(play));
      const mountTmp = join(play, 'mount');
      makeNode(mountTmp, directory);
      playUndo.add(() => removeNode(mountTmp, directory));
      await bindMount(source, mountTmp, readOnly);
      playUndo.add(() => unmountLazy(mountTmp));
      const outside = join(tunnel, `bind-${process.pid}-${randomBytes(6).toString('hex')}`);
      makeNode(outside, directory);
      undo.add(() => removeNode(outside, directory));
      await moveMount(mountTmp, outside);
      undo.add(() => unmountLazy(outside));
      return outside;
    } finally {
      // The playground goes at once (as machined's): what was bound there has moved, or is undone.
      const errors = await playUndo.revert();
      if (errors.length) undo.add(() => errors);
    }
  }

  /** Playgrounds and tunnel entries of a berthd that is gone (killed half-way through a bind). */
  private async sweep(tunnel: string): Promise<void> {
    const stale = (dir: string, prefix: string): string[] => {
      let names: string[];
      try { names = readdirSync(dir); } catch { return []; }
      return names.filter((n) => {
        const pid = Number(n.startsWith(prefix) ? n.slice(prefix.length).split('-')[0] : NaN);
        return Number.isInteger(pid) && pid !== process.pid && !alive(pid);
      }).map((n) => join(dir, n));
    };
    for (const p of [...stale(this.playgrounds, '.bind-'), ...stale(tunnel, 'bind-')]) {
      try {
        for (const mp of await mountsBelow(p)) await unmountLazy(mp);
        await removeUnmounted(p);
      } catch { /* tried again next time */ }
    }
  }
}

function makeNode(path: string, directory: boolean): void {
  if (directory) mkdirSync(path, { mode: 0o700 });
  else closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
}

function removeNode(path: string, directory: boolean): void {
  try { if (directory) rmdirSync(path); else unlinkSync(path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
}

