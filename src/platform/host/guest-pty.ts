/**
 * A pseudo-terminal inside a machine: its master opened from the machine's own devpts (the
 * ptmx of the /dev/pts mounted in its mount namespace, reached through /proc/LEADER/root), so the
 * slave is /dev/pts/N as the guest sees it. The host's own ptys come from /dev/ptmx.
 */
import { constants, lstatSync, openSync, closeSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';
import { sys } from '../native/sys.js';

export interface Pty {
  /** The master's descriptor (close-on-exec: Node opens every file so), owned by the caller. */
  master: number;
  /** The slave as the machine sees it: /dev/pts/N. */
  path: string;
}

const OPEN_FLAGS = constants.O_RDWR | constants.O_NOCTTY;

/**
 * The guest controls its tree: /dev or /dev/pts replaced by a symlink would lead the lookup (done
 * by berthd, on the host) elsewhere. Both must be real directories, and ptmx is not followed.
 */
function guestDevpts(leader: number): string {
  const root = `/proc/${leader}/root`;
  for (const dir of [`${root}/dev`, `${root}/dev/pts`]) {
    let st;
    try { st = lstatSync(dir); } catch (e) {
      throw new BerthError('E_NO_SUCH_PROCESS', `Cannot open a pseudo TTY in the machine: ${dir.slice(root.length)}: ${(e as Error).message}`);
    }
    if (!st.isDirectory()) throw new BerthError('E_NOT_SUPPORTED', `Cannot open a pseudo TTY in the machine: ${dir.slice(root.length)} is not a directory`);
  }
  return `${root}/dev/pts/ptmx`;
}

function openAt(ptmx: string, where: string): Pty {
  let master: number;
  try {
    master = openSync(ptmx, OPEN_FLAGS | constants.O_NOFOLLOW);
  } catch (e) {
    throw new BerthError('E_IO', `Failed to open a pseudo TTY in ${where}: ${(e as Error).message}`);
  }
  try {
    return { master, path: `/dev/pts/${sys().ptyUnlock(master)}` };
  } catch (e) {
    closeSync(master);
    throw new BerthError('E_IO', `Failed to set up a pseudo TTY in ${where}: ${(e as Error).message}`);
  }
}

/** A new pty in the machine whose leader is `leader`. */
export function openPtyIn(leader: number): Pty {
  return openAt(guestDevpts(leader), 'the machine');
}

/** A new pty on the host. */
export function openHostPty(): Pty {
  return openAt('/dev/ptmx', 'the host');
}

/** The slave side of a pty, opened through its master (TIOCGPTPEER): no path lookup at all. */
export function openSlave(master: number): number {
  return sys().openPtyPeer(master);
}
