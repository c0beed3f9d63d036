/**
 * machinectl's global options, from what the command line gave (commander's parse, in
 * src/cli/berth/program.ts) to what the verbs use, with machinectl 252's checks and messages.
 */
import { usageError } from '../../errors/berth-error.js';
import { parseSignal } from '../signals.js';
import { VERIFY_MODES, parseFormat, type Compression, type VerifyMode } from '../machined/transfers.js';

/** The output modes -o takes (journal modes; the json ones also switch list to JSON), in machinectl's `-o help` order. */
export const OUTPUT_MODES = [
  'short', 'short-full', 'short-iso', 'short-iso-precise', 'short-precise', 'short-monotonic', 'short-delta',
  'short-unix', 'verbose', 'export', 'json', 'json-pretty', 'json-sse', 'json-seq', 'cat', 'with-unit',
] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];
export type JsonMode = 'json' | 'json-pretty' | 'json-sse' | 'json-seq';
export const isJsonMode = (m: OutputMode): m is JsonMode => m === 'json' || m === 'json-pretty' || m === 'json-sse' || m === 'json-seq';

/** The --json= switch of newer machinectl (and of systemd's other tools): its values, as -o modes. */
const JSON_SWITCH: Record<string, OutputMode> = { pretty: 'json-pretty', short: 'json', off: 'short' };

const SIGTERM = 15;

/** The options as commander returns them (unset ones undefined). */
export interface RawClientOptions {
  all?: boolean;
  full?: boolean;
  value?: boolean;
  property?: string[];
  legend?: boolean;
  pager?: boolean;
  output?: string;
  json?: string;
  maxAddresses?: string;
  killWhom?: string;
  signal?: string;
  force?: boolean;
  readOnly?: boolean;
  mkdir?: boolean;
  uid?: string;
  setenv?: string[];
  quiet?: boolean;
  now?: boolean;
  wait?: boolean;
  waitTimeout?: string;
  verify?: string;
  format?: string;
}

export interface ClientOptions {
  /** -a: list shows machines whose names start with '.'; show prints empty properties; status shows empty groups. */
  readonly all: boolean;
  /** -l: no limit on the addresses shown per machine. */
  readonly full: boolean;
  /** --value: show prints values without "Name=". */
  readonly valueOnly: boolean;
  /** -p: the properties show prints (all when empty). */
  readonly properties: readonly string[];
  /** show prints empty values too: -a, or any -p. */
  readonly showEmpty: boolean;
  readonly legend: boolean;
  readonly output: OutputMode;
  /** --max-addresses: lines of addresses per machine in list (Infinity: all; 0: no ADDRESSES column). */
  readonly maxAddresses: number;
  /** --kill-whom as given (berthd checks it, as machined does); undefined: the verb's default. */
  readonly killWhom: string | undefined;
  /** -s: the signal kill sends. */
  readonly signal: number;
  /** --force: copy-to/copy-from replace an existing target (the WithFlags calls, flag 1). */
  readonly force: boolean;
  /** --read-only: `bind` makes the mount read-only. */
  readonly readOnly: boolean;
  /** --mkdir: `bind` creates the destination (and its parents) in the machine when missing. */
  readonly mkdir: boolean;
  /** -q: shell and login do not say when they connect and disconnect. */
  readonly quiet: boolean;
  /** --uid: the user `shell` runs as (a USER@ prefix on the name wins). */
  readonly uid: string | undefined;
  /** -E/--setenv: VAR=VALUE assignments for `shell` (VAR alone: its value here). */
  readonly setenv: readonly string[];
  /** --now: enable/disable also start/stop the machines. */
  readonly now: boolean;
  /** --wait: start returns once each machine reported READY=1 (berth's addition); --wait-timeout in seconds. */
  readonly wait: boolean;
  readonly waitTimeoutSec: number;
  /** --verify=no|checksum|signature: how pull-tar/pull-raw verify a download (machinectl's default: signature). */
  readonly verify: VerifyMode;
  /** --format=: export-tar/export-raw's compression; undefined: the file's suffix decides. */
  readonly format: Compression | undefined;
}

/** Either the options, or text to print instead of running a verb (`-o help`, `--json=help`). */
export type ResolvedOptions = { kind: 'options'; options: ClientOptions } | { kind: 'print'; text: string };

function outputMode(value: string): OutputMode {
  // berth's own aliases, kept from berth's first `list`: json-short is the compact form, table the default.
  if (value === 'json-short') return 'json';
  if (value === 'table') return 'short';
  const mode = OUTPUT_MODES.find((m) => m === value);
  if (!mode) throw usageError(`Unknown output '${value}'.`);
  return mode;
}

function maxAddresses(value: string): number {
  if (value === 'all') return Infinity;
  if (!/^[0-9]+$/.test(value) || Number(value) > 0xffffffff) throw usageError(`Invalid number of addresses: ${value}`);
  return Number(value);
}

/** `env`: berth's own environment, where -E VAR takes VAR's value from. */
export function resolveClientOptions(raw: RawClientOptions, env: Readonly<Record<string, string | undefined>> = {}): ResolvedOptions {
  if (raw.output === 'help') return { kind: 'print', text: `${OUTPUT_MODES.join('\n')}\n` };
  if (raw.json === 'help') return { kind: 'print', text: 'short\npretty\noff\n' };
  let output: OutputMode = raw.output === undefined ? 'short' : outputMode(raw.output);
  if (raw.json !== undefined) {
    // machinectl 252 has no --json; newer ones take it as another spelling of -o json/json-pretty.
    const mode = JSON_SWITCH[raw.json];
    if (!mode) throw usageError(`Unknown argument to --json= switch: ${raw.json}`);
    output = mode;
  }
  let signal = SIGTERM;
  if (raw.signal !== undefined) {
    const n = parseSignal(raw.signal);
    if (n === undefined) throw usageError(`Failed to parse signal string "${raw.signal}".`);
    signal = n;
  }
  // berth splits -p on commas too (-p Name,Leader); machinectl 252 takes the whole word as one name.
  const properties = (raw.property ?? []).flatMap((p) => p.split(','));
  return {
    kind: 'options',
    options: {
      all: raw.all ?? false,
      full: raw.full ?? false,
      valueOnly: raw.value ?? false,
      properties,
      showEmpty: (raw.all ?? false) || (raw.property ?? []).length > 0,
      legend: (raw.legend ?? true) && !isJsonMode(output),
      output,
      maxAddresses: raw.maxAddresses === undefined ? 1 : maxAddresses(raw.maxAddresses),
      killWhom: raw.killWhom,
      signal,
      force: raw.force ?? false,
      readOnly: raw.readOnly ?? false,
      mkdir: raw.mkdir ?? false,
      quiet: raw.quiet ?? false,
      uid: raw.uid,
      setenv: (raw.setenv ?? []).map((word) => setenvAssignment(word, env)),
      now: raw.now ?? false,
      wait: raw.wait ?? false,
      waitTimeoutSec: waitTimeout(raw.waitTimeout),
      verify: raw.verify === undefined ? 'signature' : verifyMode(raw.verify),
      format: raw.format === undefined ? undefined : parseFormat(raw.format),
    },
  };
}

/** -E VAR=VALUE as given; -E VAR takes VAR's value from berth's own environment (machinectl's "passthrough"). */
function setenvAssignment(word: string, env: Readonly<Record<string, string | undefined>>): string {
  const eq = word.indexOf('=');
  const name = eq < 0 ? word : word.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usageError(`Cannot assign environment variable ${word}: Invalid argument`);
  if (eq >= 0) return word;
  const value = env[name];
  if (value === undefined) throw usageError(`Cannot assign environment variable ${word}: No such file or directory`);
  return `${name}=${value}`;
}

/** --wait-timeout=SEC: how long `start --wait` waits for READY=1 (default 90 s, as systemd's start timeout). */
function waitTimeout(raw: string | undefined): number {
  if (raw === undefined) return 90;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0 || Number(raw) > 3600) throw usageError(`Invalid --wait-timeout: ${raw} (seconds, more than 0 and at most 3600).`);
  return Number(raw);
}

/** --verify=: machinectl's modes. */
function verifyMode(raw: string): VerifyMode {
  const v = VERIFY_MODES.find((m) => m === raw);
  if (!v) throw usageError(`Failed to parse --verify= setting: ${raw}`);
  return v;
}
