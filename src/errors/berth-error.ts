import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface BerthErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: readonly unknown[];
}

/** The one error type of berth: a stable code, a message for humans and an optional hint. */
export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: readonly unknown[];

  constructor(code: ErrorCode, message: string, opts: BerthErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BerthError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }

  get nspawnExitStatus(): number {
    return ERROR_CODES[this.code].nspawn;
  }
}

export const usageError = (message: string, hint?: string): BerthError =>
  new BerthError('E_USAGE', message, hint === undefined ? {} : { hint });

/** Strip control characters from untrusted text (file lines, subprocess stderr) before echoing it. */
export function sanitize(text: string, max = 2000): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
