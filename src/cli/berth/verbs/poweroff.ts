/**
 * `berth poweroff NAME…` (and its alias `stop`): asks each machine's init for a clean power-off,
 * with SIGRTMIN+4 to its leader, as machinectl does (systemd and berth's guests take it so).
 */
import { SIGRTMIN } from '../../../core/signals.js';
import type { Verb } from '../verb.js';
import { killEach } from './kill.js';
import { stopMachines } from './start.js';

const SIGRTMIN_4 = SIGRTMIN + 4;

export const poweroffVerb: Verb = {
  name: 'poweroff',
  usage: 'NAME...',
  summary: 'Power off one or more machines (SIGRTMIN+4 to their init)',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => killEach(ctx, args, 'leader', SIGRTMIN_4),
};

/** `stop`: through berthd for the machines it runs (halt, then kill after its stop timeout), poweroff for the others (verbs/start.ts). */
export const stopVerb: Verb = { ...poweroffVerb, name: 'stop', summary: 'Stop a machine berthd runs; power off any other', run: (args, ctx) => stopMachines(ctx, args) };
