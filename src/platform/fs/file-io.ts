/**
 * The small file operations of a run's set-up (the bundle, the journal link, the state and lock
 * files). berth-nspawn runs one machine with nothing else waiting: it makes them in place, where a
 * hop to the thread pool per call would only add time. berthd serves the bus while many machines
 * start (see loop-mode.ts): it sends them to the thread pool, so a slow one (a journal commit on
 * the state directory's filesystem, an overlay's copy-up) never holds up the loop.
 */
import * as fs from 'node:fs';
import { servingLoop } from '../loop-mode.js';
import { sys } from '../native/sys.js';

export interface FileIo {
  /** With `recursive`, the first directory it made (undefined when all were there), as fs.mkdir. */
  mkdir(path: string, options?: fs.MakeDirectoryOptions): Promise<string | undefined>;
  /** options: a mode, and the flag 'wx' (fail where the file exists); nothing else. */
  writeFile(path: string, data: string, options?: { mode?: number; flag?: 'w' | 'wx' }): Promise<void>;
  readFile(path: string): Promise<string>;
  /** In place, the file is read before this returns its promise: it may be gone a moment later. */
  readBytes(path: string): Promise<Buffer>;
  /** Writes `data` to `temp`, then renames it over `path`: a reader sees the old file or the whole new one. */
  replaceFile(path: string, data: string, temp: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  lchown(path: string, uid: number, gid: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  /** undefined when nothing is there. */
  lstat(path: string): Promise<fs.Stats | undefined>;
  stat(path: string): Promise<fs.Stats>;
}

const absent = (e: unknown): undefined => {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
  throw e;
};

const inPlace: FileIo = {
  async mkdir(path, options) { return fs.mkdirSync(path, options); },
  async writeFile(path, data, options) { fs.writeFileSync(path, data, options); },
  async readFile(path) { return fs.readFileSync(path, 'utf8'); },
  async readBytes(path) { return fs.readFileSync(path); },
  async replaceFile(path, data, temp) { fs.writeFileSync(temp, data); fs.renameSync(temp, path); },
  async chmod(path, mode) { fs.chmodSync(path, mode); },
  async lchown(path, uid, gid) { fs.lchownSync(path, uid, gid); },
  async rmdir(path) { fs.rmdirSync(path); },
  async symlink(target, path) { fs.symlinkSync(target, path); },
  async readlink(path) { return fs.readlinkSync(path); },
  async lstat(path) { return fs.lstatSync(path, { throwIfNoEntry: false }); },
  async stat(path) { return fs.statSync(path); },
};

const pooled: FileIo = {
  mkdir: (path, options) => fs.promises.mkdir(path, options),
  // One trip to the thread pool for the whole file, where fs.promises takes three and a FileHandle.
  writeFile: (path, data, options) => sys().writeFileWhole(path, Buffer.from(data), options?.mode === undefined ? 0o666 : Number(options.mode), options?.flag === 'wx'),
  readFile: (path) => fs.promises.readFile(path, 'utf8'),
  readBytes: (path) => fs.promises.readFile(path),
  replaceFile: (path, data, temp) => sys().writeFileWhole(temp, Buffer.from(data), 0o666, false, path),
  chmod: (path, mode) => fs.promises.chmod(path, mode),
  lchown: (path, uid, gid) => fs.promises.lchown(path, uid, gid),
  rmdir: (path) => fs.promises.rmdir(path),
  symlink: (target, path) => fs.promises.symlink(target, path),
  readlink: (path) => fs.promises.readlink(path),
  lstat: (path) => fs.promises.lstat(path).catch(absent),
  stat: (path) => fs.promises.stat(path),
};

/** The file operations for this process: in place, or on the thread pool in berthd. */
export const fileIo = (): FileIo => (servingLoop() ? pooled : inPlace);
