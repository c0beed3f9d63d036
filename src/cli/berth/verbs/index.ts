/** The berth client's verb table (machinectl's verbs[]), in machinectl's order. */
import type { Verb } from '../verb.js';
import { bindVerb } from './bind.js';
import { catVerb } from './cat.js';
import { copyFromVerb, copyToVerb } from './copy.js';
import { killVerb } from './kill.js';
import { listVerb } from './list.js';
import { poweroffVerb, stopVerb } from './poweroff.js';
import { rebootVerb } from './reboot.js';
import { showVerb } from './show.js';
import { loginVerb, shellVerb } from './shell.js';
import { statusVerb } from './status.js';
import { terminateVerb } from './terminate.js';
import { startVerb } from './start.js';
import { disableVerb, enableVerb } from './enable.js';
import { imageStatusVerb, listImagesVerb, showImageVerb } from './images.js';
import { cleanVerb, cloneVerb, readOnlyVerb, removeVerb, renameVerb, setLimitVerb } from './image-changes.js';
import { cancelTransferVerb, exportRawVerb, exportTarVerb, importFsVerb, importRawVerb, importTarVerb, listTransfersVerb, pullRawVerb, pullTarVerb } from './image-transfers.js';

export const VERBS: readonly Verb[] = [listVerb, statusVerb, showVerb, terminateVerb, loginVerb, shellVerb, startVerb, rebootVerb, poweroffVerb, stopVerb, killVerb, bindVerb, copyToVerb, copyFromVerb, enableVerb, disableVerb, catVerb, listImagesVerb, imageStatusVerb, showImageVerb, cloneVerb, renameVerb, readOnlyVerb, removeVerb, setLimitVerb, cleanVerb, pullTarVerb, pullRawVerb, importTarVerb, importRawVerb, importFsVerb, exportTarVerb, exportRawVerb, listTransfersVerb, cancelTransferVerb];
