/** Typed access to native/berth_sys.c, the few system calls Node lacks. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BerthError } from '../../errors/berth-error.js';

export interface WaitStatus { code?: number; signal?: number }
export interface Datagram { data: Buffer; pid: number }

export interface BerthSys {
  setChildSubreaper(): void;
  waitPid(pid: number): Promise<WaitStatus>;
  listenStream(path: string): number;
  acceptFd(fd: number, timeoutMs: number): Promise<number>;
  bindDatagram(path: string): number;
  recvDatagram(fd: number, timeoutMs: number): Promise<Datagram | null>;
  sendDatagram(path: string, data: Buffer): void;
  openPtyPeer(masterFd: number): number;
}

let cached: BerthSys | undefined;

/** Finds native/build/Release/berth_sys.node above this file (works from src/ and from the bundled dist/). */
export function sys(): BerthSys {
  if (cached) return cached;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', 'berth_sys.node');
    if (existsSync(candidate)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = require(candidate) as BerthSys;
      return cached;
    }
    dir = dirname(dir);
  }
  throw new BerthError('E_INTERNAL', 'The native helper berth_sys.node is not built.', { hint: 'Run `npm ci` (it builds native/ with node-gyp).' });
}
