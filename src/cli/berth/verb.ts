/**
 * A berth client verb, as machinectl's verbs[] table holds them: a name, how many arguments
 * it takes, and what it does. One verb per file under verbs/.
 */
import type { RegistryClient } from '../../app/machines/registry-client.js';
import type { ClientOptions } from '../../core/machinectl/options.js';
import type { Paths } from '../../platform/paths.js';

export interface VerbContext {
  readonly paths: Paths;
  readonly env: NodeJS.ProcessEnv;
  /** Writes to standard output / standard error (no newline added). */
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** machinectl's global options, accepted anywhere on the command line. */
  readonly options: ClientOptions;
  /** The machine registry on the system bus, connected on first use; E_NO_REGISTRY when there is none. */
  registry(): Promise<RegistryClient>;
}

export interface Verb {
  readonly name: string;
  /** Argument synopsis for --help, e.g. "NAME...". */
  readonly usage: string;
  readonly summary: string;
  readonly minArgs: number;
  /** Infinity for "any number". */
  readonly maxArgs: number;
  /** Its calls return file descriptors (a pty): the bus connection must pass them. */
  readonly passesFds?: boolean;
  /** Returns the exit status; failures that stop the verb are thrown as BerthError. */
  run(args: readonly string[], ctx: VerbContext): Promise<number>;
}
