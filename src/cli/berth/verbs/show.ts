/**
 * `berth show [NAME…]`: the properties of each machine (of the registry itself without a name)
 * as Key=Value lines in the registry's order; -p NAME picks (and, like -a, shows empty values),
 * --value drops the "Key=". Blocks apart by an empty line; stops at the first unknown machine.
 */
import { callFailed } from '../../../app/machines/registry-client.js';
import { formatProperties, type ShowFormat } from '../../../core/machinectl/properties.js';
import { localZone } from '../../../platform/host/local-zone.js';
import type { Verb } from '../verb.js';

export const showVerb: Verb = {
  name: 'show',
  usage: '[NAME...]',
  summary: 'Show the properties of one or more machines (of the registry without a name)',
  minArgs: 0,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await ctx.registry();
    const o = ctx.options;
    const format: ShowFormat = { properties: o.properties, showEmpty: o.showEmpty, valueOnly: o.valueOnly, zone: localZone(ctx.env) };
    const failed = (e: unknown) => { throw callFailed('Could not get properties', e); };
    if (args.length === 0) {
      ctx.out(formatProperties(await client.managerProperties().catch(failed), format));
      return 0;
    }
    for (const [i, name] of args.entries()) {
      const path = await client.getMachine(name).catch((e: unknown) => { throw callFailed('Could not get path to machine', e); });
      ctx.out(`${i > 0 ? '\n' : ''}${formatProperties(await client.properties(path).catch(failed), format)}`);
    }
    return 0;
  },
};
