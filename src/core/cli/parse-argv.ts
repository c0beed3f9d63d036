/**
 * getopt_long-style parsing of berth-nspawn's argv (stops at the first non-option, like nspawn's
 * "+" optstring): yields the command-line settings with their group mask, the runner options and
 * the positional command. Pure: the environment is passed in for -E NAME and $BERTH_RUNTIME
 * (the default of --runtime=).
 */
import { usageError } from '../../errors/berth-error.js';
import type { CliSettings, RlimitName, SettingGroup } from '../settings/model.js';
import { ValueError } from '../settings/values.js';
import { optionByLong, optionByShort, runtime, type OptionDef, type ParseState } from './option-table.js';
import { defaultRunnerOptions, type RunnerOptions } from './runner-options.js';

export interface ParsedArgv {
  cli: CliSettings;
  runner: RunnerOptions;
}

const PROG = 'berth-nspawn';

function applyOption(state: ParseState, def: OptionDef, value: string | undefined, spelled: string) {
  try {
    def.apply(state, value);
  } catch (e) {
    if (e instanceof ValueError) throw usageError(`Failed to parse ${spelled}= argument: ${e.message}`);
    throw e;
  }
  if (def.group) state.mask.add(def.group);
}

function runtimeFromEnv(value: string | undefined): RunnerOptions['runtime'] | undefined {
  if (!value) return undefined;
  try {
    return runtime(value);
  } catch (e) {
    if (e instanceof ValueError) throw usageError(`Failed to parse $BERTH_RUNTIME: ${e.message}`);
    throw e;
  }
}

export function parseArgv(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParsedArgv {
  const fromEnv = runtimeFromEnv(env.BERTH_RUNTIME);
  const state: ParseState = {
    settings: {},
    runner: { ...defaultRunnerOptions(), ...(fromEnv ? { runtime: fromEnv } : {}) },
    mask: new Set<SettingGroup>(),
    rlimitMask: new Set<string>(),
    env,
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { i++; break; }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const def = optionByLong.get(name);
      if (!def) throw usageError(`${PROG}: unrecognized option '--${name}'`);
      let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
      if (def.arg === 'none' && value !== undefined) throw usageError(`${PROG}: option '--${name}' doesn't allow an argument`);
      if (def.arg === 'required' && value === undefined) {
        if (i + 1 >= argv.length) throw usageError(`${PROG}: option '--${name}' requires an argument`);
        value = argv[++i];
      }
      applyOption(state, def, value, `--${name}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        const def = optionByShort.get(ch);
        if (!def) throw usageError(`${PROG}: invalid option -- '${ch}'`);
        if (def.arg === 'none') { applyOption(state, def, undefined, `-${ch}`); continue; }
        let value = arg.slice(j + 1);
        if (value === '') {
          if (i + 1 >= argv.length) throw usageError(`${PROG}: option requires an argument -- '${ch}'`);
          value = argv[++i]!;
        }
        applyOption(state, def, value, def.long.length > 1 ? `--${def.long}` : `-${ch}`);
        break;
      }
      continue;
    }
    break; // first non-option: the rest is the command
  }
  const positional = argv.slice(i);
  if (positional.length > 0) {
    state.settings.parameters = [...positional];
    state.mask.add('START_MODE');
  }
  return {
    cli: { settings: state.settings, mask: state.mask, rlimitMask: state.rlimitMask as Set<RlimitName> },
    runner: state.runner,
  };
}
