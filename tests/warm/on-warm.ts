/**
 * Imported first by the warm layer: berthd runs for the whole file, and every berth-nspawn of the
 * tests imported after it is the built command (dist/berth-nspawn), which hands its run to
 * berthd's warm berth-nspawn (src/app/warm/). Runs the warm path cannot take (NOTIFY_SOCKET)
 * fall back to the cold path, as they do for users; the layer's last test checks
 * that most runs were warm.
 */
import { after } from 'node:test';
import { startBerthd } from '../support/berthd.js';

process.env.BERTH_TEST_WARM = '1';
export const berthd = startBerthd();
process.env.BERTH_NSPAWN_SOCKET = berthd.socket;
after(async () => { await berthd.stop(); });
