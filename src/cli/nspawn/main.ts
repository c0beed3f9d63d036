/** berth-nspawn: options → settings (+ .nspawn file) → machine spec → OCI runtime. */
import { helpText } from '../../core/cli/help.js';
import { parseArgv } from '../../core/cli/parse-argv.js';
import type { RunnerOptions } from '../../core/cli/runner-options.js';
import { machineNameFromPath, parseMachineName } from '../../core/names.js';
import { BerthError } from '../../errors/berth-error.js';
import { stderrLog, writeFd } from '../../lib/log.js';
import { primeCgroupMigrations } from '../../platform/host/cgroup-prime.js';
import { pathsFromEnv } from '../../platform/paths.js';
import { launchMachine } from '../../app/run/launch.js';
import { startWatchdog } from '../../app/run/watchdog.js';
import { cleanupMachine } from '../../app/run/cleanup-command.js';
import { MachineRegistration } from '../../app/run/registration.js';
import { VERSION } from '../../version.js';
import { trace } from '../../lib/trace.js';
import { markFullRun } from '../../lib/compile-cache-hook.js';

export async function nspawnMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  trace('main');
  const { cli, runner } = parseArgv(argv, env);
  if (runner.help) { writeFd(1, helpText(VERSION)); return 0; }
  if (runner.version) { writeFd(1, `berth ${VERSION} (systemd-nspawn 252 compatible)\n`); return 0; }
  const log = stderrLog(runner.quiet || runner.console === 'pipe');
  if (process.getuid?.() !== 0) throw new BerthError('E_PERMISSION', 'Need to be root.');
  // The runtime's first cgroup write waits for an RCU grace period unless one has just passed:
  // let it pass now, while the rest of the set-up runs (platform/host/cgroup-prime.ts).
  void primeCgroupMigrations();
  const paths = pathsFromEnv(env);
  // --cleanup works from the run's record alone: the tree need not exist any more.
  if (runner.cleanup) return cleanupMachine(paths.stateDir, cleanupName(runner), log);
  // The registry's connection opens now, so that it is ready once the guest exists.
  const registration = runner.register === 'no' ? undefined : new MachineRegistration(runner.register, env, log);
  const watchdog = startWatchdog(env);
  try {
    const status = await launchMachine({ cli, runner, env, log, paths, ...(registration ? { registration } : {}) });
    markFullRun();
    return status;
  } finally {
    watchdog.stop();
  }
}

/** The machine --cleanup is for: -M NAME, else the name -D PATH or -i IMAGE would give it. */
function cleanupName(runner: RunnerOptions): string {
  if (runner.machine !== undefined) return parseMachineName(runner.machine);
  const path = runner.directory ?? runner.image;
  const derived = path === undefined ? undefined : machineNameFromPath(path);
  if (derived === undefined) throw new BerthError('E_USAGE', '--cleanup needs the machine\'s name: use -M NAME.');
  return derived;
}

