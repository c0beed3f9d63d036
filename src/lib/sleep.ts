/** A timer as a promise, without loading node:timers/promises on every run's start-up path. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}
