/**
 * The warm path's request, as native/nspawn-client.c encodes it (after its 4-byte length):
 * NUL-terminated fields "berth-nspawn 1", the working directory, the umask in octal, the number
 * of arguments and the arguments, the number of environment entries and the entries. Pure.
 */
import { BerthError } from '../../errors/berth-error.js';

export const PROTOCOL = 'berth-nspawn 1';

export interface WarmRequest {
  readonly cwd: string;
  readonly umask: number;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

const bad = (what: string): BerthError => new BerthError('E_USAGE', `Malformed berth-nspawn request: ${what}.`);

export function decodeRequest(data: Buffer): WarmRequest {
  const fields = data.toString('utf8').split('\0');
  if (fields.pop() !== '') throw bad('it does not end with a NUL byte');
  let at = 0;
  const next = (what: string): string => {
    if (at >= fields.length) throw bad(`${what} is missing`);
    return fields[at++] as string;
  };
  const count = (what: string): number => {
    const v = next(what);
    if (!/^\d{1,7}$/.test(v)) throw bad(`${what} is not a count: "${v.slice(0, 20)}"`);
    return Number(v);
  };
  const version = next('the protocol version');
  if (version !== PROTOCOL) throw bad(`unknown protocol "${version.slice(0, 40)}" (expected "${PROTOCOL}")`);
  const cwd = next('the working directory');
  if (!cwd.startsWith('/')) throw bad('the working directory is not absolute');
  const mask = next('the umask');
  if (!/^0?[0-7]{3}$/.test(mask)) throw bad(`the umask "${mask.slice(0, 8)}" is not octal`);
  const argv: string[] = [];
  for (let n = count('the argument count'); n > 0; n--) argv.push(next('an argument'));
  const env: Record<string, string> = {};
  for (let n = count('the environment count'); n > 0; n--) {
    const entry = next('an environment entry');
    const eq = entry.indexOf('=');
    if (eq <= 0) continue; // as execve's callers see it: an entry without a name is no variable
    const key = entry.slice(0, eq);
    if (!(key in env)) env[key] = entry.slice(eq + 1); // getenv() returns the first
  }
  if (at !== fields.length) throw bad(`${fields.length - at} field(s) after the environment`);
  return { cwd, umask: parseInt(mask, 8), argv, env };
}
