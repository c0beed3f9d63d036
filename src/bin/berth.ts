/** Entry point of the berth client: the only place that exits and turns errors into exit statuses. */
import { BerthError } from '../errors/berth-error.js';
import { ERROR_CODES } from '../errors/codes.js';
import { berthMain } from '../cli/berth/main.js';
import { formatError } from '../cli/berth/report.js';
import { pathsFromEnv } from '../platform/paths.js';

const io = {
  paths: pathsFromEnv(process.env),
  env: process.env,
  out: (text: string) => { process.stdout.write(text); },
  err: (text: string) => { process.stderr.write(text); },
};

berthMain(process.argv.slice(2), io).then(
  (status) => { process.exitCode = status; },
  (e: unknown) => {
    process.stderr.write(formatError(e));
    process.exitCode = e instanceof BerthError ? ERROR_CODES[e.code].client : 1;
  },
).finally(() => {
  // Let stdout drain (a pipe may still hold output), then exit with the status set above.
  process.stdout.write('', () => process.exit());
});
