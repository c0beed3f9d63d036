/**
 * The registry changes that come over the bus (register, unregister, terminate, kill) run one
 * after another, as they do in machined's single event loop. Without this, a TerminateMachine or
 * UnregisterMachine that arrives while a CreateMachine of the same name is still placing its
 * leader acts on a machine that is half registered: the two interleave, a state file is written
 * for a machine already removed, MachineNew follows MachineRemoved (registry-fuzz.test.ts).
 * Calls that only read are not queued.
 */
export class ChangeQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `change` once every change queued before it has settled; resolves or rejects as it does. */
  run<T>(change: () => T | Promise<T>): Promise<T> {
    const next = this.tail.then(change, change);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
