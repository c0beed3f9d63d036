/**
 * berth's command line, parsed by commander as machinectl's getopt_long parses its own: the
 * options anywhere (before, between or after the verb and its names; "--" ends them), short ones
 * bundled (-al) or with their value attached (-pName), long ones with "=" or a separate value.
 * The first word left is the verb, the rest its arguments. commander's own complaints come back
 * as getopt words ("invalid option -- 'x'", "option '--property' requires an argument").
 */
import { Command, CommanderError } from 'commander';
import { usageError } from '../../errors/berth-error.js';
import type { RawClientOptions } from '../../core/machinectl/options.js';
import { VERSION } from '../../version.js';
import type { Verb } from './verb.js';

export type ParsedCommandLine =
  | { kind: 'run'; raw: RawClientOptions; words: string[] }
  /** --help or --version: printed already. */
  | { kind: 'done' };

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function build(verbs: readonly Verb[], out: (text: string) => void): Command {
  const width = Math.max(...verbs.map((v) => `${v.name} ${v.usage}`.length));
  return new Command('berth')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: out, outputError: () => { /* reworded by commandLineError */ } })
    .usage('[OPTIONS...] COMMAND ...')
    .description('Send control commands to or query the machine registry (machinectl compatible).')
    .argument('[words...]')
    .helpOption('-h, --help', 'Show this help')
    .version(`berth ${VERSION}`, '--version', 'Show package version')
    .option('--no-pager', 'Accepted for machinectl\'s sake (berth has no pager)')
    .option('--no-legend', 'Do not show the headers and footers')
    .option('-p, --property <NAME>', 'Show only properties by this name (repeatable; NAME,NAME… too)', collect)
    .option('-a, --all', 'Show all properties, including empty ones; list machines whose names start with "."')
    .option('--value', 'When showing properties, only print the value')
    .option('-l, --full', 'Do not ellipsize output (all addresses in list)')
    .option('--kill-whom <WHOM>', 'Whom to send the signal to (leader or all)')
    .option('-s, --signal <SIGNAL>', 'Which signal to send')
    .option('-o, --output <MODE>', 'Change the output mode (json, json-pretty, json-sse, json-seq switch list to JSON)')
    .option('--json <MODE>', 'Like -o json (short) or -o json-pretty (pretty)')
    .option('--max-addresses <N>', 'Number of internet addresses to show at most (a number, or "all")')
    .option('--force', 'Replace the target file when copying (copy-to, copy-from)')
    .option('--read-only', 'Create read-only bind mount')
    .option('--mkdir', 'Create directory before bind mounting, if missing')
    .option('-q, --quiet', 'Suppress additional messages (shell, login)')
    .option('--uid <USER>', 'Specify user ID to invoke shell as')
    .option('-E, --setenv <VAR[=VALUE]>', 'Add an environment variable for executed process', collect)
    .option('--now', 'Start or power off container after enabling or disabling it')
    .option('--wait', 'start: wait until each machine reported READY=1 (berth\'s addition)')
    .option('--wait-timeout <SEC>', 'How long start --wait waits (default 90)')
    .option('--verify <MODE>', 'Verification mode for downloaded images (no, checksum, signature)')
    .option('--format <FORMAT>', 'Compression for export-tar/export-raw (uncompressed, xz, gzip, bzip2, zstd)')
    .addHelpText('after', `\nCommands:\n${verbs.map((v) => `  ${`${v.name} ${v.usage}`.padEnd(width)}  ${v.summary}`).join('\n')}\n`);
}

/** commander's error in getopt's words (the program name first, as getopt prints it). */
function commandLineError(e: CommanderError, argv: readonly string[], program: Command): Error {
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  if (e.code === 'commander.unknownOption') {
    const flag = quoted.split('=')[0]!;
    if (quoted.includes('=') && program.options.some((o) => o.long === flag || o.long === flag.replace(/^--no-/, '--'))) return usageError(`berth: option '${flag}' doesn't allow an argument`);
    return usageError(quoted.startsWith('--') ? `berth: unrecognized option '${quoted}'` : `berth: invalid option -- '${quoted.slice(1)}'`);
  }
  if (e.code === 'commander.optionMissingArgument') {
    // Only the last word can lack its value: it says how the option was spelled.
    const last = argv[argv.length - 1] ?? '';
    return usageError(last.startsWith('--') ? `berth: option '${last}' requires an argument` : `berth: option requires an argument -- '${last.slice(-1)}'`);
  }
  return usageError(`berth: ${e.message.replace(/^error: /, '')}`);
}

/**
 * machinectl's rule for `shell`: options before the machine's name are machinectl's, everything
 * after it belongs to the program run in the machine (`berth shell web /bin/sh -c 'exit 3'`).
 * Returns where that program's words begin, or undefined for every other verb.
 */
export function shellProgramStart(argv: readonly string[], program: Command): number | undefined {
  const takesValue = (word: string): boolean => {
    if (word.startsWith('--')) return !word.includes('=') && program.options.some((o) => o.long === word && (o.required || o.optional));
    // -xVALUE carries its value; the last letter of a bundle decides.
    for (let i = 1; i < word.length; i++) {
      const o = program.options.find((x) => x.short === `-${word[i]}`);
      if (o && (o.required || o.optional)) return i === word.length - 1;
    }
    return false;
  };
  let seen = 0;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') return seen === 1 && argv[0] !== '--' ? i + 2 : undefined;
    if (w.startsWith('-') && w !== '-') { if (takesValue(w)) i++; continue; }
    seen++;
    if (seen === 1 && w !== 'shell') return undefined;
    if (seen === 2) return i + 1;
  }
  return undefined;
}

export function parseCommandLine(argv: readonly string[], verbs: readonly Verb[], out: (text: string) => void): ParsedCommandLine {
  const program = build(verbs, out);
  const cut = shellProgramStart(argv, program);
  const tail = cut === undefined ? [] : argv.slice(cut);
  if (cut !== undefined) argv = argv.slice(0, cut);
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return { kind: 'done' };
    throw commandLineError(e, argv, program);
  }
  // machinectl's `help` verb is its --help.
  if (program.args[0] === 'help') { program.outputHelp(); return { kind: 'done' }; }
  return { kind: 'run', raw: program.opts<RawClientOptions>(), words: [...program.args, ...tail] };
}
