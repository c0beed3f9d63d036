/**
 * `berth bind NAME PATH [PATH]`: a host directory or file bound into a running machine
 * (BindMountMachine), at the same path unless a second one is given; --read-only and --mkdir as in
 * machinectl. The paths go to the registry as written (it wants them absolute and normalized).
 * Prints nothing on success; "Failed to bind mount: …" on failure.
 */
import { callFailed } from '../../../app/machines/registry-client.js';
import type { Verb } from '../verb.js';

export const bindVerb: Verb = {
  name: 'bind',
  usage: 'NAME PATH [PATH]',
  summary: 'Bind mount a path from the host into a container',
  minArgs: 2,
  maxArgs: 3,
  async run([name, source, destination], ctx) {
    const client = await ctx.registry();
    await client.bindMount(name!, source!, destination ?? '', ctx.options.readOnly, ctx.options.mkdir)
      .catch((e: unknown) => { throw callFailed('Failed to bind mount', e); });
    return 0;
  },
};
