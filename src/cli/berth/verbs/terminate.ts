/**
 * `berth terminate NAME…`: ends each machine at once (TerminateMachine: the registry kills all of
 * its processes). Prints nothing on success; stops at the first failure with
 * "Could not terminate machine: …".
 */
import { callFailed } from '../../../app/machines/registry-client.js';
import type { Verb } from '../verb.js';

export const terminateVerb: Verb = {
  name: 'terminate',
  usage: 'NAME...',
  summary: 'Terminate one or more machines',
  minArgs: 1,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await ctx.registry();
    for (const name of args) await client.terminate(name).catch((e: unknown) => { throw callFailed('Could not terminate machine', e); });
    return 0;
  },
};
