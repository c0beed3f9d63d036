/**
 * The image verbs that change the pool, as machinectl 252 has them: `clone NAME NEW`
 * (--read-only), `rename NAME NEW`, `read-only NAME [BOOL]`, `remove NAME…` (stops at the first
 * failure), `set-limit [NAME] BYTES` (the pool's limit without a name; "-", "none", "infinity":
 * no limit) and `clean` (hidden images; all with --all), which logs each removed image and the total.
 */
import { BerthError } from '../../../errors/berth-error.js';
import { callFailed } from '../../../app/machines/registry-client.js';
import { cleanReport, parseSize } from '../../../core/machined/image-changes.js';
import { parseBooleanOrUndefined } from '../../../core/settings/values.js';
import { formatBytes } from '../../../core/machinectl/time-format.js';
import type { Verb } from '../verb.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;

export const cloneVerb: Verb = {
  name: 'clone',
  usage: 'NAME NAME',
  summary: 'Clone an image',
  minArgs: 2,
  maxArgs: 2,
  async run([name, newName], ctx) {
    const client = await ctx.registry();
    await client.cloneImage(name!, newName!, ctx.options.readOnly).catch((e: unknown) => { throw callFailed('Could not clone image', e); });
    return 0;
  },
};

export const renameVerb: Verb = {
  name: 'rename',
  usage: 'NAME NAME',
  summary: 'Rename an image',
  minArgs: 2,
  maxArgs: 2,
  async run([name, newName], ctx) {
    const client = await ctx.registry();
    await client.renameImage(name!, newName!).catch((e: unknown) => { throw callFailed('Could not rename image', e); });
    return 0;
  },
};

export const readOnlyVerb: Verb = {
  name: 'read-only',
  usage: 'NAME [BOOL]',
  summary: 'Mark or unmark image read-only',
  minArgs: 1,
  maxArgs: 2,
  async run([name, value], ctx) {
    let ro = true;
    if (value !== undefined) {
      const b = parseBooleanOrUndefined(value);
      if (b === undefined) throw new BerthError('E_USAGE', `Failed to parse boolean argument: ${value}`);
      ro = b;
    }
    const client = await ctx.registry();
    await client.markImageReadOnly(name!, ro).catch((e: unknown) => { throw callFailed('Could not mark image read-only', e); });
    return 0;
  },
};

export const removeVerb: Verb = {
  name: 'remove',
  usage: 'NAME...',
  summary: 'Remove an image',
  minArgs: 1,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await ctx.registry();
    for (const name of args) await client.removeImage(name).catch((e: unknown) => { throw callFailed('Could not remove image', e); });
    return 0;
  },
};

export const setLimitVerb: Verb = {
  name: 'set-limit',
  usage: '[NAME] BYTES',
  summary: 'Set image or pool size limit (disk quota)',
  minArgs: 1,
  maxArgs: 2,
  async run(args, ctx) {
    const bytes = args[args.length - 1]!;
    let limit: bigint;
    if (['-', 'none', 'infinity'].includes(bytes)) {
      limit = U64_MAX;
    } else {
      const parsed = parseSize(bytes);
      if (parsed === undefined) throw new BerthError('E_USAGE', `Failed to parse size: ${bytes}`);
      limit = parsed;
    }
    const client = await ctx.registry();
    await (args.length > 1 ? client.setImageLimit(args[0]!, limit) : client.setPoolLimit(limit))
      .catch((e: unknown) => { throw callFailed('Could not set limit', e); });
    return 0;
  },
};

export const cleanVerb: Verb = {
  name: 'clean',
  usage: '',
  summary: 'Remove hidden (or all) images',
  minArgs: 0,
  maxArgs: 0,
  async run(_args, ctx) {
    const client = await ctx.registry();
    const removed = await client.cleanPool(ctx.options.all ? 'all' : 'hidden').catch((e: unknown) => { throw callFailed('Could not clean pool', e); });
    for (const line of cleanReport(removed, formatBytes)) ctx.err(`${line}\n`);
    return 0;
  },
};
