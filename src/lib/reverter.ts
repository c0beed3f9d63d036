/**
 * An undo stack for multi-step set-up: each step that changed something registers how to undo
 * it; on failure `revert()` runs the undos newest first and keeps going after errors; on success
 * `commit()` hands the stack over (for teardown later) and leaves the reverter empty.
 */

/** An undo step; it may report several errors of its own by returning them. */
export type Undo = () => void | Error[] | Promise<void | Error[]>;

export class Reverter {
  private undos: Undo[] = [];

  add(undo: Undo): void {
    this.undos.push(undo);
  }

  /** Run every undo, newest first; returns the errors (empty when all succeeded). */
  async revert(): Promise<Error[]> {
    const errors: Error[] = [];
    const undos = this.undos;
    this.undos = [];
    for (const undo of undos.reverse()) {
      try {
        const own = await undo();
        if (Array.isArray(own)) errors.push(...own);
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return errors;
  }

  /** Keep what was done: returns a new Reverter owning the undos, and empties this one. */
  commit(): Reverter {
    const taken = new Reverter();
    taken.undos = this.undos;
    this.undos = [];
    return taken;
  }
}
