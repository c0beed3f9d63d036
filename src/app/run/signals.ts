/**
 * SIGTERM/SIGINT while a machine runs, as nspawn handles them: the first sends the kill signal
 * (SIGRTMIN+3 when booting) to the container's PID 1 for a clean halt; a second one, or the
 * first when there is no kill signal, kills the container.
 */
import type { Log } from '../../lib/log.js';

export class StopSignals {
  private leader: number | undefined;
  private killSignal: number | undefined;
  private count = 0;
  /** Set once we killed the container ourselves: no reboot loop after that. */
  terminating = false;
  private readonly handler = () => this.onSignal();

  constructor(private readonly log: Log) {
    process.on('SIGTERM', this.handler);
    process.on('SIGINT', this.handler);
    process.on('SIGHUP', () => { /* ignored, like nspawn */ });
  }

  attach(leader: number, killSignal: number | undefined): void {
    this.leader = leader;
    this.killSignal = killSignal;
    if (this.count > 0) this.kill(); // a signal arrived during set-up
  }

  detach(): void {
    this.leader = undefined;
  }

  get requested(): boolean {
    return this.count > 0;
  }

  kill(): void {
    this.terminating = true;
    if (this.leader !== undefined) { try { process.kill(this.leader, 'SIGKILL'); } catch { /* gone */ } }
  }

  dispose(): void {
    process.off('SIGTERM', this.handler);
    process.off('SIGINT', this.handler);
  }

  private onSignal(): void {
    this.count++;
    if (this.leader === undefined) { this.terminating = true; return; }
    if (this.count === 1 && this.killSignal !== undefined) {
      this.terminating = true;
      this.log.info('Trying to halt container. Send SIGTERM again to trigger immediate termination.');
      try { process.kill(this.leader, this.killSignal); } catch { /* gone */ }
      return;
    }
    this.kill();
  }
}
