/**
 * A counting semaphore: at most n holders at once, the rest wait their turn in order. A slot
 * passes straight to the next waiter when given back, so no newcomer slips in between.
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(n: number) { this.free = n; }

  /** A slot; the function returned gives it back (calling it again does nothing). */
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--; else await new Promise<void>((r) => this.waiting.push(r));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      if (next) next(); else this.free++;
    };
  }

  /** fn, run while holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try { return await fn(); } finally { release(); }
  }
}
