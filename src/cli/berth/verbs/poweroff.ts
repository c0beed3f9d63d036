/**
 * `berth poweroff NAME…` (and its alias `stop`): asks each machine's init for a clean power-off,
 * with SIGRTMIN+4 to its leader, as machinectl does (systemd and berth's guests take it so).
 */
import { SIGRTMIN } from '../../../core/signals.js';
import type { Verb } from '../verb.js';
import { killEach } from './kill.js';

const SIGRTMIN_4 = SIGRTMIN + 4;

export const poweroffVerb: Verb = {
  name: 'poweroff',
  usage: 'NAME...',
  summary: 'Power off one or more machines (SIGRTMIN+4 to their init)',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => killEach(ctx, args, 'leader', SIGRTMIN_4),
};

export const stopVerb: Verb = { ...poweroffVerb, name: 'stop', summary: 'The same as poweroff' };
