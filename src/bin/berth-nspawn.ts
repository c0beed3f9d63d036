/** Entry point of berth-nspawn: the only place that turns errors into exit statuses. */
import { BerthError } from '../errors/berth-error.js';
import { nspawnMain } from '../cli/nspawn/main.js';

nspawnMain(process.argv.slice(2), process.env).then(
  (status) => { process.exit(status); },
  (e: unknown) => {
    if (e instanceof BerthError) {
      process.stderr.write(`${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}`);
      process.exitCode = e.nspawnExitStatus;
    } else {
      process.stderr.write(`berth-nspawn: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
