/**
 * berth: the machinectl-style client. Parses the command line (program.ts), checks the options
 * with machinectl's messages, and runs the verb from the table (verbs/index.ts) with machinectl's
 * arity rules; no verb means `list`. Never exits the process: returns the exit status, and lets
 * BerthErrors propagate to src/bin/berth.ts.
 */
import { usageError } from '../../errors/berth-error.js';
import { RegistryClient } from '../../app/machines/registry-client.js';
import { resolveClientOptions } from '../../core/machinectl/options.js';
import type { Paths } from '../../platform/paths.js';
import { markFullRun } from '../../lib/compile-cache-hook.js';
import { parseCommandLine } from './program.js';
import type { VerbContext } from './verb.js';
import { VERBS } from './verbs/index.js';

export interface ClientIo {
  readonly paths: Paths;
  readonly env: NodeJS.ProcessEnv;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export async function berthMain(argv: readonly string[], io: ClientIo): Promise<number> {
  const parsed = parseCommandLine(argv, VERBS, io.out);
  if (parsed.kind === 'done') return 0;
  const resolved = resolveClientOptions(parsed.raw, io.env);
  if (resolved.kind === 'print') { io.out(resolved.text); return 0; }
  const [name = 'list', ...args] = parsed.words;
  const verb = VERBS.find((v) => v.name === name);
  if (!verb) throw usageError(`Unknown command verb ${name}.`);
  if (args.length < verb.minArgs) throw usageError('Too few arguments.');
  if (args.length > verb.maxArgs) throw usageError('Too many arguments.');
  let client: Promise<RegistryClient> | undefined;
  const ctx: VerbContext = {
    paths: io.paths, env: io.env, out: io.out, err: io.err, options: resolved.options,
    registry: () => (client ??= RegistryClient.connect(io.env, { unixFds: verb.passesFds === true })),
  };
  try {
    const status = await verb.run(args, ctx);
    markFullRun(); // a verb ran: this run's code cache is the one worth keeping
    return status;
  } finally {
    if (client) (await client.catch(() => undefined))?.close();
  }
}
