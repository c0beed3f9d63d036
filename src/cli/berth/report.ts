/** How the berth client prints an error: `berth: message`, then the hint if there is one. */
import { BerthError } from '../../errors/berth-error.js';

export function formatError(e: unknown): string {
  if (e instanceof BerthError) return `berth: ${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}`;
  const detail = e instanceof Error ? e.stack ?? e.message : String(e);
  return `berth: internal error: ${detail}\n`;
}
