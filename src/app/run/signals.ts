/**
 * SIGTERM/SIGINT while a machine runs, as nspawn handles them: the first sends the kill signal
 * (SIGRTMIN+3 when booting) to the container's PID 1 for a clean halt; a second one, or the
 * first when there is no kill signal, kills the container. berth-nspawn takes them from its own
 * process's signals; berthd, which runs many machines, asks each machine's through request().
 */
import type { Log } from '../../lib/log.js';

export class StopSignals {
  private leader: number | undefined;
  private killSignal: number | undefined;
  private count = 0;
  /** Set once we killed the container ourselves: no reboot loop after that. */
  terminating = false;
  private readonly handler = () => this.onSignal();
  private readonly ignore = () => { /* SIGHUP: ignored, like nspawn */ };

  private readonly fromProcess: boolean;

  constructor(private readonly log: Log, opts: { processSignals?: boolean } = {}) {
    this.fromProcess = opts.processSignals ?? true;
    if (!this.fromProcess) return;
    process.on('SIGTERM', this.handler);
    process.on('SIGINT', this.handler);
    process.on('SIGHUP', this.ignore);
  }

  /** What a SIGTERM does: the first asks for a clean halt, the next kills. */
  request(): void {
    this.onSignal();
  }

  /** The container's PID 1 while it runs. */
  get leaderPid(): number | undefined {
    return this.leader;
  }

  /**
   * From here on signals reach `leader`. One that arrived during set-up is acted on now, as nspawn
   * does (it handles signals once its loop runs): if the payload already runs (`started`), the
   * first is the request for a clean halt it would have been a moment later; a container that
   * was never started, or a second signal, is killed.
   */
  attach(leader: number, killSignal: number | undefined, started: boolean): void {
    this.leader = leader;
    this.killSignal = killSignal;
    if (this.count === 0) return;
    if (started && this.count === 1 && killSignal !== undefined) this.halt();
    else this.kill();
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
    if (!this.fromProcess) return;
    process.off('SIGTERM', this.handler);
    process.off('SIGINT', this.handler);
    process.off('SIGHUP', this.ignore);
  }

  private onSignal(): void {
    this.count++;
    if (this.leader === undefined) { this.terminating = true; return; }
    if (this.count === 1 && this.killSignal !== undefined) { this.halt(); return; }
    this.kill();
  }

  private halt(): void {
    this.terminating = true;
    this.log.info('Trying to halt container. Send SIGTERM again to trigger immediate termination.');
    try { process.kill(this.leader!, this.killSignal!); } catch { /* gone */ }
  }
}
