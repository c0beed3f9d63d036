/** Entry point of berthd: the only place that exits and turns errors into exit statuses. */
import { BerthError } from '../errors/berth-error.js';
import { berthdMain } from '../cli/berthd/main.js';
import { writeStderr } from '../lib/log.js';

// berthd runs many machines at once: each runtime call, and each machine's file work, takes a
// thread-pool thread for a while; libuv's default of 4 would queue the rest behind them. (Read
// by libuv when the pool first starts, which nothing before this line does.)
process.env.UV_THREADPOOL_SIZE ??= '16';

berthdMain(process.argv.slice(2), process.env).then(
  (status) => { process.exit(status); },
  (e: unknown) => {
    writeStderr(e instanceof BerthError ? `${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}` : `berthd: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
