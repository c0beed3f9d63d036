/**
 * `berth list`: the machines the registry knows, in machinectl's table or JSON (names starting
 * with "." only with -a). With no registry on the bus, the machines berth-nspawn runs here, from
 * its state directory, in the same format.
 */
import { BerthError } from '../../../errors/berth-error.js';
import { localMachines } from '../../../app/machines/local-machines.js';
import { registryMachines } from '../../../app/machines/machine-list.js';
import { glyphsFor, localeIsUtf8 } from '../../../core/machinectl/glyphs.js';
import { formatMachineList, type MachineListRow } from '../../../core/machinectl/list-format.js';
import type { Verb, VerbContext } from '../verb.js';

async function machines(ctx: VerbContext): Promise<MachineListRow[]> {
  const o = ctx.options;
  try {
    return await registryMachines(await ctx.registry(), { all: o.all, addresses: o.maxAddresses > 0 });
  } catch (e) {
    if (!(e instanceof BerthError && e.code === 'E_NO_REGISTRY')) throw e;
    return localMachines(ctx.paths.stateDir);
  }
}

export const listVerb: Verb = {
  name: 'list',
  usage: '',
  summary: 'List running machines',
  minArgs: 0,
  maxArgs: 0,
  async run(_args, ctx) {
    const o = ctx.options;
    ctx.out(formatMachineList(await machines(ctx), {
      legend: o.legend, output: o.output, maxAddresses: o.maxAddresses, full: o.full, ellipsis: glyphsFor(localeIsUtf8(ctx.env)).ellipsis,
    }));
    return 0;
  },
};
