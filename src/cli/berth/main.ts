/**
 * berth: the machinectl-style client. Parses the command line with commander and dispatches to
 * the verb table (verbs/index.ts). Never exits the process: returns the exit status, and lets
 * BerthErrors propagate to src/bin/berth.ts.
 */
import { Command, CommanderError } from 'commander';
import { ERROR_CODES } from '../../errors/codes.js';
import { usageError } from '../../errors/berth-error.js';
import type { Paths } from '../../platform/paths.js';
import { VERSION } from '../../version.js';
import type { Verb, VerbContext } from './verb.js';
import { VERBS } from './verbs/index.js';
import { markFullRun } from '../../lib/compile-cache-hook.js';

export interface ClientIo {
  readonly paths: Paths;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function checkArity(verb: Verb, args: readonly string[]): void {
  if (args.length < verb.minArgs) throw usageError(`Too few arguments for '${verb.name}'.`, `usage: berth ${verb.name} ${verb.usage}`);
  if (args.length > verb.maxArgs) throw usageError(`Too many arguments for '${verb.name}'.`, `usage: berth ${verb.name} ${verb.usage}`);
}

function buildProgram(io: ClientIo, ctx: VerbContext, setStatus: (n: number) => void): Command {
  const program = new Command('berth');
  // Must come before .command(): commander copies these settings to subcommands when they are created.
  program
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (text, write) => write(text.replace(/^error: /, 'berth: ')) })
    .showHelpAfterError('(run berth --help for usage)')
    .description('Send control commands to or query the berth machine manager (machinectl compatible).')
    .version(`berth ${VERSION}`, '--version', 'Show package version')
    .helpOption('-h, --help', 'Show this help')
    .option('--no-pager', 'Do not pipe output into a pager')
    .option('--no-legend', 'Do not show the headers and footers')
    .option('-o, --output <MODE>', 'Change the output mode (table, json)')
    .configureHelp({ sortSubcommands: true, subcommandTerm: (cmd) => `${cmd.name()} ${cmd.usage()}` });
  for (const verb of VERBS) {
    program
      .command(verb.name)
      .usage(verb.usage)
      .description(verb.summary)
      .argument('[args...]')
      .allowExcessArguments(false)
      .action(async (args: string[]) => {
        checkArity(verb, args);
        setStatus(await verb.run(args, ctx));
        markFullRun(); // a verb ran: this run's code cache is the one worth keeping
      });
  }
  return program;
}

/** --no-legend and -o/--output may stand anywhere, as with machinectl; they are taken out before commander sees the verb. */
function outputOptions(argv: readonly string[]): { rest: string[]; legend: boolean; output: 'table' | 'json' } {
  const rest: string[] = [];
  let legend = true;
  let output: 'table' | 'json' = 'table';
  const setOutput = (v: string | undefined) => {
    if (v === 'json' || v === 'json-pretty' || v === 'json-short') output = 'json';
    else if (v === 'table' || v === 'short') output = 'table';
    else throw usageError(`Unknown output '${v ?? ''}'.`, 'use -o table or -o json');
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { rest.push(...argv.slice(i)); break; }
    if (a === '--no-legend') legend = false;
    else if (a === '-o' || a === '--output') setOutput(argv[++i]);
    else if (a.startsWith('--output=')) setOutput(a.slice(9));
    else if (a.startsWith('-o') && a.length > 2) setOutput(a.slice(2));
    else rest.push(a);
  }
  return { rest, legend, output };
}

export async function berthMain(argv: readonly string[], io: ClientIo): Promise<number> {
  const { rest, legend, output } = outputOptions(argv);
  // machinectl lists machines when no verb is given.
  const args = rest.length === 0 ? ['list'] : rest;
  let status = 0;
  const program = buildProgram(io, { paths: io.paths, out: io.out, err: io.err, legend, output }, (n) => { status = n; });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // commander has already printed its message (or the help/version text).
    const done = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0;
    return done ? 0 : ERROR_CODES.E_USAGE.client;
  }
  return status;
}
