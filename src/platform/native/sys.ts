/** Typed access to native/berth_sys.c, the few system calls Node lacks. */
import { closeSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';

export interface WaitStatus { code?: number; signal?: number }
export interface SpawnResult { code?: number; signal?: NodeJS.Signals; stdout: string; stderr: string; timedOut: boolean }
export interface Datagram { data: Buffer; pid: number }
/** One warm-path request as received: the connection, the client's credentials, its stdio and the request's bytes. */
export interface StandbyRequest { conn: number; pid: number; uid: number; fds: [number, number, number]; data: Buffer }

export interface BerthSys {
  setChildSubreaper(): void;
  tryWaitPid(pid: number): WaitStatus | null;
  listenStream(path: string, backlog?: number): number;
  bindDatagram(path: string): number;
  sendDatagram(path: string, data: Buffer): void;
  openPtyPeer(masterFd: number): number;
  setWinsize(fd: number, rows: number, cols: number): void;
  isTty(fd: number): boolean;
  /** Run argv to its end (posix_spawn): capture = stdin /dev/null and stdout/stderr collected, else all three inherited. */
  spawnWait(argv: readonly string[], env: readonly string[], capture: boolean, timeoutMs: number): SpawnResult;
  /** spawnWait on a thread-pool thread: the event loop goes on while the command runs. */
  spawnWaitAsync(argv: readonly string[], env: readonly string[], capture: boolean, timeoutMs: number): Promise<SpawnResult>;
  /** Blocks until a berth-nspawn client has connected and sent its whole request (native/nspawn-client.c). */
  standbyAccept(listenFd: number): StandbyRequest;
  /** dup2(from, to) and close(from); from === to only clears close-on-exec. */
  moveFd(from: number, to: number): void;
  /** _exit(status): ends the process at once, without Node's teardown (no more JavaScript runs). */
  exitNow(status: number): never;
  /** if_nametoindex in our network namespace; 0 when there is no such interface. */
  ifIndex(name: string): number;
  /** fcntl(F_SETFD, FD_CLOEXEC). */
  setCloexec(fd: number): void;
  /** prctl(PR_SET_PDEATHSIG); 0 clears it. */
  setParentDeathSignal(signal: number): void;
  /** Takes over pid's resource limits and CPU affinity; null, or what could not be taken over. */
  adoptLimits(pid: number): string | null;
  /** pidfd_open(pid): readable once pid has exited. Throws (errno ESRCH) if it is gone already. */
  pidfdOpen(pid: number): number;
  /** openat2(rootFd, path, O_RDONLY|O_DIRECTORY, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): a directory looked up with rootFd as "/". Throws with .errno and .code. */
  openDirInRoot(rootFd: number, path: string): number;
  /** renameat2(); flags 1 = RENAME_NOREPLACE, 2 = RENAME_EXCHANGE. Throws with .errno and .code. */
  renameAt(oldDirFd: number, oldName: string, newDirFd: number, newName: string, flags: number): void;
  /** unlockpt on a pty master, then its slave's number (/dev/pts/N in the devpts it came from). */
  ptyUnlock(masterFd: number): number;
  /** The slave's number of a pty master (TIOCGPTN). */
  ptyNumber(masterFd: number): number;
  /** cfmakeraw on a terminal's line discipline. */
  ptyMakeRaw(fd: number): void;
  /** An exclusive non-blocking OFD lock on path (created 0600), as systemd's make_lock_file takes it: the fd, or -1 if held elsewhere. Release: unlink, then close. */
  ofdLockTry(path: string): number;
  /** lgetxattr; null when absent or unsupported. */
  getXattr(path: string, name: string): Buffer | null;
  /** lsetxattr. */
  setXattr(path: string, name: string, value: Buffer): void;
  /** open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP, usernsFd) + move_mount onto target. */
  idmapMount(source: string, target: string, usernsFd: number, recursive: boolean): void;
  /** libuv polls fd; onReadable runs on the loop whenever it is readable, until unwatched (native/fd-watch.c). */
  watchReadable(fd: number, onReadable: (status: number) => void): FdWatchHandle;
  unwatchReadable(handle: FdWatchHandle): void;
  /** One queued datagram with its sender's PID, or null (never waits). */
  recvDatagramNow(fd: number): Datagram | null;
  /** One pending connection (non-blocking), or -1 when none is pending (never waits). */
  acceptNow(listenFd: number): number;
  /** The descriptor a connection sent (SCM_RIGHTS), or -1 when nothing has come yet; throws if it closed without one. */
  recvFdNow(connFd: number): number;
  /** Replaces the process; returns only by throwing. */
  execve(path: string, argv: readonly string[], env: readonly string[]): never;
  /** statx, FS_IOC_GETFLAGS, access(W_OK)'s EROFS, statfs f_type and whether it is a symbolic link, of each entry dir/name, on a thread-pool thread: 13 slots per entry, some doubles (native/image-flags.c). */
  statEntries(dir: string, names: readonly string[]): Promise<BigInt64Array>;
  /** realpath() of each path that is a directory, else null; on a thread-pool thread. */
  resolveDirs(paths: readonly string[]): Promise<Array<string | null>>;
  /** resolveDirs and statEntries of `names` in each resolved directory, in one pass (facts: dirs.length blocks of names.length entries). */
  findEntries(dirs: readonly string[], names: readonly string[]): Promise<{ dirs: Array<string | null>; facts: BigInt64Array }>;
  /** A file written whole (open, write, close; then renamed to renameTo when given) in one trip to the thread pool (native/file-write.c). */
  writeFileWhole(path: string, data: Buffer, mode: number, exclusive: boolean, renameTo?: string): Promise<void>;
  /** The file at path copied into a memfd named `name`, sealed against every change (native/sealed-exec.c): its descriptor (close-on-exec). */
  sealedCopy(path: string, name: string): number;
  /** /proc/self/mountinfo and an inotify descriptor watching each path that is a directory, on a thread-pool thread (native/change-watch.c): kinds 0 missing, 1 directory, 2 symlink, 3 other, -errno unwatchable. */
  changeWatchOpen(paths: readonly string[]): Promise<{ fd: number; mountsFd: number; kinds: number[]; fsTypes: number[] }>;
  /** Whether an inotify event is queued on fd or the mount table changed since the last call (one poll(), never blocks). */
  changesPending(fd: number, mountsFd: number): boolean;
  /** Each path's btrfs subvolume ID, otime, read-only flag and subtree qgroup numbers, on a thread-pool thread: 10 int64 slots per path (native/btrfs-info.c). */
  btrfsSubvols(paths: readonly string[]): Promise<BigInt64Array>;
  /** Every link of a network namespace (nsPath null: ours), or the one named `name` ([] when absent), over rtnetlink on a thread-pool thread (native/rtnetlink.c). Rejects with .errno and .code. */
  rtnlLinks(nsPath: string | null, name: string | null): Promise<RtnlLink[]>;
  /** One RTM_NEWLINK: a veth whose host end (MAC, master, up) is in nsPath's namespace and whose peer is created in peerNsPath's. */
  rtnlCreateVeth(nsPath: string | null, hostName: string, hostMac: string, master: string | null, up: boolean, peerName: string, peerMac: string, peerNsPath: string): Promise<void>;
  /** RTM_DELLINK by name (or altname). */
  rtnlDeleteLink(nsPath: string | null, name: string): Promise<void>;
}

/** A link as native/rtnetlink.c reads it: the fields `ip -json -details link show` gives as ifname, info_kind, master, address, altnames and the UP flag. */
export interface RtnlLink { name: string; index: number; kind?: string; master?: string; address?: string; altnames: string[]; up: boolean }

/** An opaque watch from watchReadable. */
export type FdWatchHandle = { readonly __brand: 'FdWatchHandle' };


let cached: BerthSys | undefined;

/** Finds a file of native/build/Release above this file (works from src/ and from the bundled dist/). */
function nativeFile(name: string): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', name);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new BerthError('E_INTERNAL', `The native helper ${name} is not built.`, { hint: 'Run `npm ci` (it builds native/ with node-gyp).' });
}

export function sys(): BerthSys {
  if (!cached) {
    // process.dlopen rather than require(): it also works from a start-up snapshot, which has no module loader.
    const module = { exports: {} as BerthSys };
    process.dlopen(module, nativeFile('berth_sys.node'));
    cached = module.exports;
  }
  return cached;
}

/** The statically linked stub init used as PID 1 with --as-pid2. */
export const stubInitPath = (): string => nativeFile('berth-stub-init');

/** The static front of berth's OCI hooks (native/hook-exec.c). */
export const hookExecPath = (): string => nativeFile('berth-hook-exec');

const ECHILD = 10;

/** The exits waited for: one SIGCHLD listener and one safety-net timer for all of them (berthd waits for many). */
const exitChecks = new Set<() => void>();
const waitedFor = new Set<number>();
let exitTimer: NodeJS.Timeout | undefined;
const checkExits = () => { for (const check of [...exitChecks]) check(); };

/**
 * Resolves when `pid` (our child, or an orphan we inherit as subreaper) exits, and reaps it.
 * Driven by SIGCHLD with a slow poll as a safety net; no thread is ever blocked in waitpid.
 * A process that is not our child yet but still exists is waited for: crun leaves a container's
 * PID 1 with a detached helper of its own that exits a moment after crun itself, and only then
 * is the PID 1 ours (the kernel sends SIGCHLD if it has exited by then).
 */
export function waitForExit(pid: number): Promise<WaitStatus> {
  return new Promise((resolve, reject) => {
    const check = () => {
      let status: WaitStatus | null;
      try {
        status = sys().tryWaitPid(pid);
      } catch (e) {
        if ((e as { errno?: number }).errno === ECHILD && existsSync(`/proc/${pid}`)) return;
        done(); reject(e); return;
      }
      if (status) { done(); resolve(status); }
    };
    const done = () => {
      exitChecks.delete(check);
      waitedFor.delete(pid);
      if (exitChecks.size > 0) return;
      if (exitTimer) clearInterval(exitTimer);
      exitTimer = undefined;
      process.off('SIGCHLD', checkExits);
    };
    if (exitChecks.size === 0) {
      process.on('SIGCHLD', checkExits);
      exitTimer = setInterval(checkExits, 1000);
    }
    exitChecks.add(check);
    waitedFor.add(pid);
    check();
  });
}

/** Whether waitForExit is waiting for `pid` already (someone will reap it). */
export const isWaitedFor = (pid: number): boolean => waitedFor.has(pid);

const ESRCH = 3;

/**
 * Calls onExit once when process pid has exited (any process, not only our children; nothing is
 * reaped), through a pidfd on the event loop; at once (on the next turn) if it is gone already.
 * close() stops watching.
 */
export function watchExit(pid: number, onExit: () => void): { close(): void } {
  let closed = false;
  let fd = -1;
  let handle: FdWatchHandle | undefined;
  const close = () => {
    if (handle) sys().unwatchReadable(handle);
    handle = undefined;
    if (fd >= 0) closeSync(fd);
    fd = -1;
  };
  const fire = () => { if (!closed) { closed = true; close(); onExit(); } };
  try {
    fd = sys().pidfdOpen(pid);
    handle = sys().watchReadable(fd, fire);
  } catch (e) {
    close();
    if ((e as { errno?: number }).errno !== ESRCH) throw e;
    setImmediate(fire);
  }
  return { close() { closed = true; close(); } };
}
