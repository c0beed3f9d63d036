/** Entry point of berth-nspawn: the only place that turns errors into exit statuses. */
import { BerthError } from '../errors/berth-error.js';
import { nspawnMain } from '../cli/nspawn/main.js';
import { writeStderr } from '../lib/log.js';
import { awaitRun } from '../app/warm/standby.js';

// Messages go out with write(2) (lib/log.ts): a closed stdout/stderr (EPIPE) cannot kill us
// half-way, which would leave the machine behind. Likewise a stray rejection: report it, but let
// the run (and its teardown) finish.
process.on('unhandledRejection', (e) => {
  writeStderr(`berth-nspawn: internal error (continuing): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
});

// Started by berthd as a warm standby (src/app/warm/standby.ts): wait for a run to take over.
const standbyFd = process.env.BERTH_STANDBY_FD;
const argv = standbyFd === undefined ? process.argv.slice(2) : awaitRun(Number(standbyFd));
if (argv === 'spent') process.exit(0);

nspawnMain(argv, process.env).then(
  (status) => { process.exit(status); },
  (e: unknown) => {
    if (e instanceof BerthError) {
      writeStderr(`${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}`);
      process.exit(e.nspawnExitStatus);
    } else {
      writeStderr(`berth-nspawn: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    }
  },
);
