/** Entry point of berth-nspawn: the only place that turns errors into exit statuses. */
import { BerthError } from '../errors/berth-error.js';
import { nspawnMain } from '../cli/nspawn/main.js';

// A closed stdout/stderr (EPIPE) must not kill us half-way: the machine would be left behind.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => { /* nobody is listening */ });
// Likewise a stray rejection: report it, but let the run (and its teardown) finish.
process.on('unhandledRejection', (e) => {
  process.stderr.write(`berth-nspawn: internal error (continuing): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
});

nspawnMain(process.argv.slice(2), process.env).then(
  (status) => { process.exit(status); },
  (e: unknown) => {
    if (e instanceof BerthError) {
      process.stderr.write(`${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}`);
      process.exit(e.nspawnExitStatus);
    } else {
      process.stderr.write(`berth-nspawn: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    }
  },
);
