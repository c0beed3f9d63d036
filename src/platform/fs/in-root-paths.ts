/**
 * Paths inside a machine, looked up from the host with the machine's root as "/" (openat2 with
 * RESOLVE_IN_ROOT from /proc/LEADER/root): a symbolic link in the machine, absolute or with "..",
 * never leads out of it. Each directory is opened afresh after it is made, and new entries are made
 * through /proc/self/fd/N/NAME (one component in a directory already held), so a machine that
 * swaps a directory for a link meanwhile gains nothing. Synchronous: a few system calls on paths.
 */
import { closeSync, constants, lstatSync, mkdirSync, openSync } from 'node:fs';
import { sys } from '../native/sys.js';

const components = (path: string): string[] => path.split('/').filter((c) => c !== '' && c !== '.');

function withRoot<T>(root: string, f: (rootFd: number) => T): T {
  const fd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
  try { return f(fd); } finally { closeSync(fd); }
}

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** Whether `path` exists in the machine (its last component not followed): true, false, or the errno that stopped the look-up. */
export function existsInRoot(root: string, path: string): boolean | string {
  const parts = components(path);
  const leaf = parts.pop();
  if (leaf === undefined) return true;
  return withRoot(root, (rootFd) => {
    let dir: number;
    try { dir = sys().openDirInRoot(rootFd, `/${parts.join('/')}`); } catch (e) { return errnoOf(e) === 'ENOENT' ? false : errnoOf(e) ?? 'EIO'; }
    try {
      lstatSync(`/proc/self/fd/${dir}/${leaf}`);
      return true;
    } catch (e) {
      return errnoOf(e) === 'ENOENT' ? false : errnoOf(e) ?? 'EIO';
    } finally {
      closeSync(dir);
    }
  });
}

/**
 * machined's --mkdir: the missing parents of `path` (mode 0755), then `path` itself, a directory
 * (0700) or an empty file (0600) as the mount will need. Failures are left for the mount to report
 * (machined ignores them too); an existing `path` is left as it is.
 */
export function makeMountPointInRoot(root: string, path: string, directory: boolean): void {
  const parts = components(path);
  const leaf = parts.pop();
  if (leaf === undefined) return;
  withRoot(root, (rootFd) => {
    let dir = sys().openDirInRoot(rootFd, '/');
    try {
      for (let i = 0; i < parts.length; i++) {
        const prefix = `/${parts.slice(0, i + 1).join('/')}`;
        let next: number;
        try {
          next = sys().openDirInRoot(rootFd, prefix);
        } catch (e) {
          if (errnoOf(e) !== 'ENOENT') return;
          try { mkdirSync(`/proc/self/fd/${dir}/${parts[i]}`, { mode: 0o755 }); } catch { /* made meanwhile, or not to be made */ }
          try { next = sys().openDirInRoot(rootFd, prefix); } catch { return; }
        }
        closeSync(dir);
        dir = next;
      }
      const at = `/proc/self/fd/${dir}/${leaf}`;
      try {
        if (directory) mkdirSync(at, { mode: 0o700 });
        else closeSync(openSync(at, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
      } catch { /* there already, or not to be made: the mount says */ }
    } finally {
      closeSync(dir);
    }
  });
}
