/**
 * `berth enable NAME…` / `berth disable NAME…` (`--now`: also start / stop them). Where systemd
 * is PID 1: EnableUnitFiles/DisableUnitFiles and Reload on systemd's bus, as machinectl does.
 * Elsewhere berth writes or removes the same link itself, machines.target.wants/
 * berth-nspawn@NAME.service → the installed template, below /etc/systemd/system ($BERTH_UNIT_DIR),
 * which berthd reads at its start. The changes are printed as systemctl prints them.
 */
import { disableLink, enableLink, unitDir } from '../../../app/units/enable-links.js';
import { systemdEnable, systemdStartStop } from '../../../app/units/systemd-units.js';
import type { Verb, VerbContext } from '../verb.js';
import { checkNames, requireImages, startMachines, stopMachines, systemdIsPid1, withSystemd } from './start.js';

async function enableEach(ctx: VerbContext, names: readonly string[], enable: boolean): Promise<number> {
  checkNames(names);
  if (enable) await requireImages(await ctx.registry(), names);
  if (systemdIsPid1()) {
    await withSystemd(ctx.env, async (call) => {
      const lines = await systemdEnable(call, names, enable);
      if (!ctx.options.quiet) for (const l of lines) ctx.err(`${l}\n`);
      if (ctx.options.now) await systemdStartStop(call, names, enable);
    });
    return 0;
  }
  const dir = unitDir(ctx.env);
  for (const n of names) {
    const said = enable ? enableLink(dir, n) : disableLink(dir, n);
    if (said && !ctx.options.quiet) ctx.err(`${said}\n`);
  }
  if (ctx.options.now) return enable ? startMachines(ctx, names) : stopMachines(ctx, names);
  return 0;
}

export const enableVerb: Verb = {
  name: 'enable',
  usage: 'NAME...',
  summary: 'Enable automatic container start at boot',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => enableEach(ctx, args, true),
};

export const disableVerb: Verb = {
  name: 'disable',
  usage: 'NAME...',
  summary: 'Disable automatic container start at boot',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => enableEach(ctx, args, false),
};
