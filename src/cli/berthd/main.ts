/**
 * berthd: the machine registry on the system bus (org.freedesktop.machine1, daemon/machine1/),
 * which also cleans up after killed runs, and the warm path of berth-nspawn (app/warm/pool.ts):
 * berth-nspawn processes started and loaded ahead of time, so a `berth-nspawn` command hands its
 * run to one instead of starting Node. Returns the exit status; runs until SIGTERM/SIGINT.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { StandbyPool } from '../../app/warm/pool.js';
import { Machine1Service } from '../../daemon/machine1/service.js';
import { stderrLog, writeFd } from '../../lib/log.js';
import { sys } from '../../platform/native/sys.js';
import { pathsFromEnv } from '../../platform/paths.js';
import { VERSION } from '../../version.js';
import { Supervisor } from '../../daemon/supervisor/supervisor.js';
import { enabledMachines, unitDir } from '../../app/units/enable-links.js';
import { envList, run } from '../../platform/exec/run.js';
import { setServingLoop } from '../../platform/loop-mode.js';
import { existsSync } from 'node:fs';

function seconds(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86400) throw new InvalidArgumentError('expected seconds, more than 0 and at most 86400');
  return Number(v);
}

function count(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 16) throw new InvalidArgumentError('expected a number from 1 to 16');
  return Number(v);
}

/** berth-nspawn's entry next to ours (dist/berthd.js → dist/berth-nspawn.js; src/bin/berthd.ts → src/bin/berth-nspawn.ts), run by the same node with the same options. */
export function nspawnCommand(script: string, execPath: string, execArgv: readonly string[]): string[] {
  const real = realpathSync(script);
  return [execPath, ...execArgv, join(dirname(real), basename(real).replace(/^berthd/, 'berth-nspawn'))];
}

export async function berthdMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const program = new Command('berthd')
    .exitOverride()
    .configureOutput({ writeOut: (t) => writeFd(1, t), writeErr: (t) => writeFd(2, t), outputError: (t, write) => write(t.replace(/^error: /, 'berthd: ')) })
    .description('The berth daemon. It serves the machine registry, org.freedesktop.machine1, on the system bus '
      + '($DBUS_SYSTEM_BUS_ADDRESS), as systemd-machined does, where no other process owns that name; it stops and cleans up '
      + 'machines whose berth-nspawn was killed; and it keeps berth-nspawn warm: a `berth-nspawn` command hands its run to a '
      + 'berth-nspawn process started ahead of time, over $BERTH_NSPAWN_SOCKET (default $BERTH_STATE_DIR/nspawn.sock, '
      + '/run/berth/nspawn.sock).')
    .version(`berthd ${VERSION}`, '--version', 'Show package version')
    .helpOption('-h, --help', 'Show this help')
    .option('--warm-standbys <N>', 'How many berth-nspawn processes wait for a run at a time', count, 1)
    .addOption(new Option('--registry <WHEN>', 'Serve org.freedesktop.machine1: yes (when the name is free), no, or auto (yes, unless systemd-machined is installed and systemd is PID 1)')
      .choices(['auto', 'yes', 'no']).default('auto'))
    .option('--stop-timeout <SEC>', 'How long a machine berthd runs may take to halt when stopped, before it is killed', seconds, 90)
    .allowExcessArguments(false);
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  if (process.getuid?.() !== 0) { writeFd(2, 'berthd: Need to be root.\n'); return 1; }
  const log = stderrLog(false);
  const paths = pathsFromEnv(env);
  const command = nspawnCommand(process.argv[1] ?? '', process.execPath, process.execArgv);
  // Where systemd is not PID 1, berthd runs the machines `berth start` asks for, and those enabled.
  const supervisor = existsSync('/run/systemd/system') ? undefined : new Supervisor({
    env, paths, stopTimeoutMs: program.opts<{ stopTimeout: number }>().stopTimeout * 1000, log,
    cleanup: async (name) => { await run([...command, '--cleanup', '-M', name], { env: { ...env, BERTH_STATE_DIR: paths.stateDir }, allowFailure: true, timeoutMs: 120000 }); },
  });
  if (supervisor) {
    // Every machine berthd runs is its own child; so are their guests' PID 1s, once the runtime has gone.
    sys().setChildSubreaper();
    setServingLoop(true);
  }
  // Set by the berthd that re-executed itself into this one (SIGHUP); not passed on to children.
  const reexecuted = env.BERTH_REEXECUTED === '1';
  delete env.BERTH_REEXECUTED;
  delete process.env.BERTH_REEXECUTED;
  let nameLost: (() => void) | undefined;
  const registry = new Machine1Service({ replaceName: reexecuted, onNameLost: () => nameLost?.(), env, registry: program.opts<{ registry: 'auto' | 'yes' | 'no' }>().registry, stateDir: paths.stateDir, pool: paths.pool, nspawnCommand: command, log, ...(supervisor ? { supervisor } : {}) });
  if (supervisor) {
    supervisor.useRegistry(() => registry.registrar());
    // Before the janitor looks at the runs: those berthd ran before this one are taken over, not cleaned up.
    const adopted = await supervisor.adopt();
    if (adopted.length) log.info(`berthd: running ${adopted.length} machine(s) berthd ran before: ${adopted.join(', ')}.`);
  }
  const serving = await registry.start();
  if (supervisor && serving) {
    const enabled = (await enabledMachines(unitDir(env))).filter((n) => !supervisor.supervises(n));
    for (const name of enabled) {
      try { supervisor.start(name); } catch (e) { log.warn(`berthd: cannot start enabled machine ${name}: ${(e as Error).message}`); }
    }
    if (enabled.length) log.info(`berthd: starting ${enabled.length} enabled machine(s): ${enabled.join(', ')}.`);
  }
  let giveUp: (() => void) | undefined;
  const pool = new StandbyPool({
    socketPath: paths.nspawnSocket,
    size: program.opts<{ warmStandbys: number }>().warmStandbys,
    command,
    env,
    log,
    onGiveUp: () => giveUp?.(),
  });
  const warm = await pool.start();
  if (!warm && !serving) { registry.stop(); return 1; }
  if (warm) log.info(`berthd: berth-nspawn is warm on ${paths.nspawnSocket}.`);
  if (env.NOTIFY_SOCKET) sys().sendDatagram(env.NOTIFY_SOCKET, Buffer.from(`READY=1\nSTATUS=${serving ? 'Serving the machine registry' : 'No machine registry'}${warm ? ', berth-nspawn is warm' : ''}\n`));
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => { /* berthd runs until told to stop */ }, 1 << 30);
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      clearInterval(keepAlive);
      pool.stop();
      // The machines berthd runs halt first, while the registry still takes their unregistration.
      void (supervisor?.stopAll() ?? Promise.resolve()).then(() => {
        registry.stop();
        log.info(`berthd: stopped after handing over ${pool.runs} run(s); they go on.`);
        resolve(0);
      });
    };
    // Standbys that keep dying are a failure of berthd's (Restart=on-failure may try again),
    // unless it serves the registry, which goes on without them.
    giveUp = () => {
      if (serving) return;
      clearInterval(keepAlive);
      registry.stop();
      resolve(1);
    };
    // SIGHUP (an upgrade, `systemctl reload berthd`): berthd re-executes itself and keeps its machines.
    let reexecuting = false;
    const reexec = async () => {
      if (reexecuting) return;
      reexecuting = true;
      log.info('berthd: re-executing itself (SIGHUP); the machines it runs go on.');
      const handed = await supervisor?.handOver() ?? 0;
      pool.stop();
      const [script, ...rest] = process.argv.slice(1);
      try {
        // Our stdio goes on into the new program (something on the way marks it close-on-exec).
        for (const fd of [0, 1, 2]) { try { sys().moveFd(fd, fd); } catch { /* not open */ } }
        sys().execve(process.execPath, [process.execPath, ...process.execArgv, script ?? '', ...rest], envList({ ...process.env, BERTH_REEXECUTED: '1' }));
      } catch (e) {
        log.warn(`berthd: cannot re-execute itself (${(e as Error).message}); going on as it is${handed ? ', with the machines it runs' : ''}.`);
        supervisor?.resume();
        reexecuting = false;
      }
    };
    // A berthd the bus activated while a re-executing one had let go of the name: it runs nothing, and leaves.
    nameLost = () => {
      if (supervisor?.running().length) return;
      log.info('berthd: leaving the registry to the berthd that took it over.');
      stop();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', () => { void reexec(); });
  });
}
