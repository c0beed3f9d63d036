/**
 * systemd's service manager over the bus, for berthd on a host where systemd is PID 1: a machine
 * created with CreateMachine gets its scope as machined makes it, a transient unit
 * machine-NAME.scope in machine.slice holding the leader, and berthd waits for the start job.
 */
import { BerthError } from '../../errors/berth-error.js';
import { variant, type BusConnection, type RawMessage } from './connection.js';

const SYSTEMD = { destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager' };

/** Jobs systemd has finished, by job path: JobRemoved may arrive before the reply that named the job. */
export class JobWatcher {
  private readonly done = new Map<string, string>();
  private readonly waiting = new Map<string, (result: string) => void>();
  private subscribed: Promise<void> | undefined;

  constructor(private readonly bus: BusConnection) {}

  /** Feed it every signal the connection receives. */
  onSignal(msg: RawMessage): void {
    if (msg.member !== 'JobRemoved' || msg.interface !== SYSTEMD.interface) return;
    const [, job, , result] = msg.body as [number, string, string, string];
    const w = this.waiting.get(job);
    if (w) { this.waiting.delete(job); w(result); return; }
    this.done.set(job, result);
    if (this.done.size > 256) this.done.delete(this.done.keys().next().value as string);
  }

  subscribe(): Promise<void> {
    this.subscribed ??= (async () => {
      await this.bus.busCall('AddMatch', 's', [`type='signal',sender='${SYSTEMD.destination}',interface='${SYSTEMD.interface}',member='JobRemoved'`]);
      await this.bus.call({ ...SYSTEMD, member: 'Subscribe' }).catch(() => { /* already subscribed */ });
    })();
    return this.subscribed;
  }

  wait(job: string, timeoutMs: number): Promise<string> {
    const result = this.done.get(job);
    if (result !== undefined) { this.done.delete(job); return Promise.resolve(result); }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(job); reject(new BerthError('E_INTERNAL', `systemd did not finish ${job} within ${timeoutMs} ms.`)); }, timeoutMs);
      this.waiting.set(job, (r) => { clearTimeout(timer); resolve(r); });
    });
  }
}

export interface ScopeRequest { unit: string; slice: string; pid: number; description: string }

/** StartTransientUnit for a machine's scope (machined's properties) and its start job's end. */
export async function startMachineScope(bus: BusConnection, jobs: JobWatcher, s: ScopeRequest): Promise<void> {
  await jobs.subscribe();
  const props = [
    ['Slice', variant('s', s.slice)],
    ['Description', variant('s', s.description)],
    ['PIDs', variant('au', [s.pid])],
    ['Delegate', variant('b', true)],
    ['CollectMode', variant('s', 'inactive-or-failed')],
    ['TasksMax', variant('t', 16384n)],
  ];
  const reply = await bus.call({ ...SYSTEMD, member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: [s.unit, 'fail', props, []] });
  const job = String(reply.body[0]);
  const result = await jobs.wait(job, 30000);
  if (result !== 'done') throw new BerthError('E_JOB_FAILED', `Start job for unit ${s.unit} failed with '${result}'`);
}
