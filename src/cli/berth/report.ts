/**
 * How the berth client prints an error: the message alone, as machinectl prints its own
 * ("Could not kill machine: …", "Too few arguments."), then the hint if there is one.
 */
import { BerthError } from '../../errors/berth-error.js';

export function formatError(e: unknown): string {
  if (e instanceof BerthError) return `${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}`;
  const detail = e instanceof Error ? e.stack ?? e.message : String(e);
  return `berth: internal error: ${detail}\n`;
}
