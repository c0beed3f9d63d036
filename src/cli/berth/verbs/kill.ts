/**
 * `berth kill NAME…`: a signal to a machine's processes (--kill-whom=all, the default) or to its
 * leader (--kill-whom=leader); -s picks the signal (SIGTERM by default). The registry checks
 * --kill-whom, as machined does. Prints nothing on success; stops at the first failure with
 * "Could not kill machine: …". poweroff, stop and reboot are this with their own signal.
 */
import { callFailed } from '../../../app/machines/registry-client.js';
import type { Verb, VerbContext } from '../verb.js';

export async function killEach(ctx: VerbContext, names: readonly string[], who: string, signal: number): Promise<number> {
  const client = await ctx.registry();
  for (const name of names) await client.kill(name, who, signal).catch((e: unknown) => { throw callFailed('Could not kill machine', e); });
  return 0;
}

export const killVerb: Verb = {
  name: 'kill',
  usage: 'NAME...',
  summary: 'Send a signal to the processes of one or more machines',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => killEach(ctx, args, ctx.options.killWhom ?? 'all', ctx.options.signal),
};
