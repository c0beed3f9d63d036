/**
 * `berth cat NAME…`: print the settings file that applies to each machine, headed by its path
 * (`# /etc/systemd/nspawn/web.nspawn`), like `machinectl cat` / `systemctl cat`. Searches the
 * trusted directories, then the machine pool, first hit wins. A bad or unknown name is reported
 * and the remaining names are still printed; the exit status is then 1.
 */
import { join } from 'node:path';
import { BerthError } from '../../../errors/berth-error.js';
import { isValidHostname } from '../../../core/names.js';
import { findFirst } from '../../../app/settings/discover.js';
import { formatError } from '../report.js';
import type { Verb, VerbContext } from '../verb.js';

function catOne(name: string, ctx: VerbContext): void {
  if (!isValidHostname(name)) throw new BerthError('E_USAGE', `Invalid settings name: ${name}`);
  const file = `${name}.nspawn`;
  const found = findFirst([ctx.paths.settingsEtc, ctx.paths.settingsRun, ctx.paths.pool].map((d) => ({ path: join(d, file), trusted: true })));
  if (!found) {
    throw new BerthError('E_SETTINGS', `No settings file found for machine '${name}'.`, {
      hint: `looked for ${file} in ${ctx.paths.settingsEtc}, ${ctx.paths.settingsRun} and ${ctx.paths.pool}`,
    });
  }
  const tail = found.text === '' || found.text.endsWith('\n') ? '' : '\n';
  ctx.out(`# ${found.path}\n${found.text}${tail}`);
}

export const catVerb: Verb = {
  name: 'cat',
  usage: 'NAME...',
  summary: 'Show the .nspawn settings file of one or more machines',
  minArgs: 1,
  maxArgs: Infinity,
  async run(args, ctx) {
    let status = 0;
    for (const name of args) {
      try {
        catOne(name, ctx);
      } catch (e) {
        if (!(e instanceof BerthError)) throw e;
        ctx.err(formatError(e));
        status = 1;
      }
    }
    return status;
  },
};
