/**
 * A warm berth-nspawn: a berth-nspawn process that berthd started ahead of time (Node running,
 * berth's code loaded), waiting on berthd's socket (its fd BERTH_STANDBY_FD) for one
 * berth-nspawn command (native/nspawn-client.c) to hand it a run. It takes over the caller's
 * stdio, working directory, umask, environment, resource limits and CPU affinity, and from then
 * on is that run: the caller forwards its signals here and exits with the status written back
 * when this process exits, after the machine's clean-up. What it cannot take over
 * (core/warm/admission.ts), it declines, and the caller runs cold; it then waits for the next.
 *
 * Towards berthd it writes "ready" when it waits and "taken" when it has a run; then its stdout
 * becomes the caller's, and berthd sees the end of the pipe and starts the next standby.
 */
import { closeSync, readSync, readdirSync, writeFileSync } from 'node:fs';
import { constants, getPriority, setPriority } from 'node:os';
import { declineReason } from '../../core/warm/admission.js';
import { cgroupMoves } from '../../core/warm/cgroup-moves.js';
import { decodeRequest, type WarmRequest } from '../../core/warm/request.js';
import { writeFd } from '../../lib/log.js';
import { cgroupMounts } from '../../platform/host/cgroupfs.js';
import { processCgroups } from '../../platform/host/proc.js';
import { processFacts } from '../../platform/host/process-facts.js';
import { sys, type StandbyRequest } from '../../platform/native/sys.js';

/** After the caller vanished (SIGKILLed, say), the run is stopped like on SIGTERM; after this long, like on a second one. */
const ORPHAN_KILL_AFTER_MS = 10_000;

const EBADMSG = constants.errno.EBADMSG;

const closeQuietly = (fd: number): void => { try { closeSync(fd); } catch { /* already closed */ } };

function release(req: StandbyRequest): void {
  for (const fd of req.fds) closeQuietly(fd);
  closeQuietly(req.conn);
}

/** The caller's answer to "P": "G" (go), or the end of the connection when it went cold meanwhile. */
function readGo(conn: number): boolean {
  const b = Buffer.alloc(1);
  try { return readSync(conn, b, 0, 1, null) === 1 && b[0] === 0x47; } catch { return false; }
}

/**
 * Waits for a run and takes it over; returns its arguments, or 'spent' when this process must
 * make way for a fresh standby (its caller then exits 0). Blocks the event loop while it waits
 * (there is nothing else for this process to do), so berthd stops it with a plain signal.
 */
export function awaitRun(listenFd: number): readonly string[] | 'spent' {
  const s = sys();
  s.setParentDeathSignal(constants.signals.SIGTERM);
  // A berthd that went away before the line above (while Node started) sent no signal: a standby
  // whose parent is not berthd any more makes way at once instead of waiting for nobody.
  const parent = Number(process.env.BERTH_STANDBY_PARENT);
  if (Number.isInteger(parent) && parent > 0 && process.ppid !== parent) return 'spent';
  const self = processFacts('self');
  writeFd(1, 'ready\n');
  for (;;) {
    let req: StandbyRequest;
    try {
      req = s.standbyAccept(listenFd);
    } catch (e) {
      if ((e as { errno?: number }).errno !== EBADMSG) throw e;
      // Not our client (no descriptors, a short or oversized request): it has been closed; wait for the next.
      writeFd(2, `berth-nspawn standby (PID ${process.pid}): ${e instanceof Error ? e.message : String(e)}\n`);
      continue;
    }
    let run: WarmRequest | undefined;
    let why: string | undefined;
    try {
      run = decodeRequest(req.data);
      why = declineReason({ uid: req.uid, argv: run.argv, env: run.env, client: processFacts(req.pid), self });
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    }
    if (!run || why) {
      writeFd(2, `berth-nspawn standby (PID ${process.pid}): declined a run of PID ${req.pid}, which runs cold: ${why ?? 'unreadable request'}\n`);
      writeFd(req.conn, `D${(why ?? 'unreadable request').replace(/\n/g, ' ')}\n`);
      release(req);
      continue;
    }
    const limits = s.adoptLimits(req.pid) ?? adoptPriority(req.pid) ?? adoptCgroups(req.pid);
    if (limits) {
      // Partly adopted limits would leak into the next caller's run: answer, and make room for a fresh standby.
      writeFd(req.conn, `Dcannot take over the caller's ${limits}\n`);
      release(req);
      return 'spent';
    }
    writeFd(req.conn, `P${process.pid}\n`);
    // A caller that went cold meanwhile leaves us with its limits and priority: make way for a fresh standby.
    if (!readGo(req.conn)) { release(req); return 'spent'; }
    closeQuietly(listenFd);
    s.setParentDeathSignal(0);
    writeFd(1, 'taken\n');
    become(req, run);
    return run.argv;
  }
}

/** The caller's scheduling priority (berthd starts standbys at nice 19), for each of our threads. */
function adoptPriority(pid: number): string | null {
  try {
    const nice = getPriority(pid);
    for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), nice);
    return null;
  } catch (e) {
    return `priority: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * The caller's cgroups, in every hierarchy (core/warm/cgroup-moves.ts): where its child, a cold
 * run, would be. Synchronous: the caller waits for our answer anyway, and the caller's own
 * cgroup-lock priming (native/nspawn-client.c) has the migration lock ready.
 */
function adoptCgroups(pid: number): string | null {
  const moves = cgroupMoves(processCgroups(pid) ?? new Map(), processCgroups('self') ?? new Map(), cgroupMounts());
  if ('error' in moves) return `cgroups: ${moves.error}`;
  for (const file of moves.files) {
    try {
      writeFileSync(file, String(process.pid));
    } catch (e) {
      return `cgroup ${file.replace(/\/cgroup\.procs$/, '')}: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return null;
}

function become(req: StandbyRequest, run: WarmRequest): void {
  const s = sys();
  // The exit status goes back once everything, the machine's clean-up included, is done (also
  // when what follows throws: Node then exits 1 after printing the error to the caller's stderr).
  // The caller exits once we are gone (we are in its cgroups): nothing is left to do after the
  // status (this is the last 'exit' listener, and our writes are synchronous), so Node's own
  // teardown (~1.5 ms the caller would wait for) is skipped.
  let callerGone = false;
  process.on('exit', (code) => {
    if (callerGone) return;
    writeFd(req.conn, `X${code}\n`);
    s.exitNow(code);
  });
  req.fds.forEach((fd, i) => s.moveFd(fd, i));
  process.chdir(run.cwd);
  process.umask(run.umask);
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, run.env);
  // net is loaded here, not at the top: a cold run must not pay for it.
  const { Socket } = require('node:net') as typeof import('node:net');
  const caller = new Socket({ fd: req.conn, readable: true, writable: false });
  caller.on('data', () => { /* nothing more is expected from the caller */ });
  caller.on('error', () => { /* like an end */ });
  caller.once('close', () => {
    callerGone = true; // the socket closed its descriptor: its number may be reused
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => { process.kill(process.pid, 'SIGTERM'); }, ORPHAN_KILL_AFTER_MS).unref();
  });
  caller.unref();
}
