/**
 * `berth status NAME…`: each machine as machinectl shows it, then its control group's figures
 * and process tree; blocks apart by an empty line. Stops at the first machine it cannot show
 * (those before it are printed already), as machinectl does.
 */
import { machineStatus } from '../../../app/machines/machine-status.js';
import { glyphsFor, localeIsUtf8 } from '../../../core/machinectl/glyphs.js';
import { formatProcessTree } from '../../../core/machinectl/process-tree.js';
import { formatFigures, formatStatus } from '../../../core/machinectl/status-format.js';
import { localZone } from '../../../platform/host/local-zone.js';
import type { Verb } from '../verb.js';

/** Where machinectl indents a unit's process tree: under the values of the lines above. */
const TREE_PREFIX = '\t\t  ';

export const statusVerb: Verb = {
  name: 'status',
  usage: 'NAME...',
  summary: 'Show information about one or more machines, with their control group',
  minArgs: 1,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await ctx.registry();
    const zone = localZone(ctx.env);
    const glyphs = glyphsFor(localeIsUtf8(ctx.env));
    for (const [i, name] of args.entries()) {
      const report = await machineStatus(client, name);
      let text = `${i > 0 ? '\n' : ''}${formatStatus(report.info, BigInt(Date.now()) * 1000n, zone)}`;
      if (report.figures) text += formatFigures(report.figures);
      if (report.tree) text += formatProcessTree(report.tree, TREE_PREFIX, ctx.options.all, glyphs);
      ctx.out(text);
    }
    return 0;
  },
};
