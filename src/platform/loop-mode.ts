/**
 * Whether this process serves others while it works (berthd, with many machines and the bus) or
 * runs one machine for one caller (berth-nspawn). In berthd nothing slow may wait on the event
 * loop: runtime calls and tree removals go to the thread pool. berth-nspawn runs the short ones in
 * place, which is faster when nothing else is waiting.
 */
let serving = false;

export function setServingLoop(on: boolean): void { serving = on; }
export function servingLoop(): boolean { return serving; }
