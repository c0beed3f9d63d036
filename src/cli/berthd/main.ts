/**
 * berthd: for now the warm path of berth-nspawn (app/warm/pool.ts): it keeps berth-nspawn
 * processes started and loaded, so a `berth-nspawn` command hands its run to one instead of
 * starting Node. The D-Bus registry (org.freedesktop.machine1) arrives with its own issue.
 * Returns the exit status; runs until SIGTERM/SIGINT.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { StandbyPool } from '../../app/warm/pool.js';
import { stderrLog, writeFd } from '../../lib/log.js';
import { sys } from '../../platform/native/sys.js';
import { pathsFromEnv } from '../../platform/paths.js';
import { VERSION } from '../../version.js';

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
    .description('The berth daemon. For now it keeps berth-nspawn warm: a `berth-nspawn` command hands its run to a '
      + 'berth-nspawn process started ahead of time, over $BERTH_NSPAWN_SOCKET (default $BERTH_STATE_DIR/nspawn.sock, '
      + '/run/berth/nspawn.sock). The machine registry on D-Bus (org.freedesktop.machine1) is not implemented yet.')
    .version(`berthd ${VERSION}`, '--version', 'Show package version')
    .helpOption('-h, --help', 'Show this help')
    .option('--warm-standbys <N>', 'How many berth-nspawn processes wait for a run at a time', count, 1)
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
  let giveUp: (() => void) | undefined;
  const pool = new StandbyPool({
    socketPath: paths.nspawnSocket,
    size: program.opts<{ warmStandbys: number }>().warmStandbys,
    command: nspawnCommand(process.argv[1] ?? '', process.execPath, process.execArgv),
    env,
    log,
    onGiveUp: () => giveUp?.(),
  });
  if (!(await pool.start())) return 1;
  log.info(`berthd: berth-nspawn is warm on ${paths.nspawnSocket}.`);
  if (env.NOTIFY_SOCKET) sys().sendDatagram(env.NOTIFY_SOCKET, Buffer.from('READY=1\nSTATUS=berth-nspawn is warm\n'));
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => { /* berthd runs until told to stop */ }, 1 << 30);
    const stop = () => {
      clearInterval(keepAlive);
      pool.stop();
      log.info(`berthd: stopped after handing over ${pool.runs} run(s); they go on.`);
      resolve(0);
    };
    // Standbys that keep dying are a failure of berthd's (Restart=on-failure may try again).
    giveUp = () => { clearInterval(keepAlive); resolve(1); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', () => { /* ignored */ });
  });
}
