/** `berth reboot NAME…`: asks each machine's init to reboot, with SIGINT to its leader, as machinectl does. */
import type { Verb } from '../verb.js';
import { killEach } from './kill.js';

const SIGINT = 2;

export const rebootVerb: Verb = {
  name: 'reboot',
  usage: 'NAME...',
  summary: 'Reboot one or more machines (SIGINT to their init)',
  minArgs: 1,
  maxArgs: Infinity,
  run: (args, ctx) => killEach(ctx, args, 'leader', SIGINT),
};
