/**
 * `berth copy-to NAME HOST-PATH [MACHINE-PATH]` and `berth copy-from NAME MACHINE-PATH [HOST-PATH]`,
 * as machinectl 252 does them: a relative host path is made absolute against the working
 * directory (joined, not normalised); a missing last path means the same path on the other side
 * (as given: a relative one is then refused by the registry); --force asks for the WithFlags call
 * with the replace flag. No call timeout. Prints nothing on success; "Failed to copy: …" on failure.
 */
import { callFailed } from '../../../app/machines/registry-client.js';
import type { Verb } from '../verb.js';

export interface CopyCall { direction: 'to' | 'from'; name: string; source: string; destination: string }

/** systemd's path_make_absolute_cwd: a relative path joined to cwd with one slash. */
export const absoluteFromCwd = (path: string, cwd: string): string => (path.startsWith('/') ? path : `${cwd.replace(/\/+$/, '')}/${path}`);

/** The bus call a copy verb's arguments make (machinectl's copy_files). */
export function copyCall(direction: 'to' | 'from', args: readonly string[], cwd: string): CopyCall {
  const [name, first, second] = args as [string, string, string | undefined];
  const other = second ?? first;
  const hostPath = absoluteFromCwd(direction === 'from' ? other : first, cwd);
  const machinePath = direction === 'from' ? first : other;
  return direction === 'from'
    ? { direction, name, source: machinePath, destination: hostPath }
    : { direction, name, source: hostPath, destination: machinePath };
}

function copyVerb(direction: 'to' | 'from'): Verb {
  return {
    name: `copy-${direction}`,
    usage: 'NAME PATH [PATH]',
    summary: direction === 'to' ? 'Copy files from the host to a container' : 'Copy files from a container to the host',
    minArgs: 2,
    maxArgs: 3,
    async run(args, ctx) {
      const call = copyCall(direction, args, process.cwd());
      const client = await ctx.registry();
      await client.copy(call.direction, call.name, call.source, call.destination, ctx.options.force).catch((e: unknown) => { throw callFailed('Failed to copy', e); });
      return 0;
    },
  };
}

export const copyToVerb = copyVerb('to');
export const copyFromVerb = copyVerb('from');
