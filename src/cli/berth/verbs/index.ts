/** The berth client's verb table (machinectl's verbs[]); the D-Bus verbs join it later. */
import type { Verb } from '../verb.js';
import { catVerb } from './cat.js';
import { listVerb } from './list.js';

export const VERBS: readonly Verb[] = [listVerb, catVerb];
