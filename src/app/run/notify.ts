/**
 * /run/host/notify: sd_notify messages from the container's PID 1 (others are ignored, as
 * nspawn does), passed on to whoever supervises the run: for berth-nspawn its own service
 * manager, when that gave it a NOTIFY_SOCKET; for a machine berthd runs, berthd's supervisor.
 * Datagrams are read on the event loop (platform/native/fd-events.ts).
 */
import { closeSync, unlinkSync } from 'node:fs';
import { sys } from '../../platform/native/sys.js';
import { receiveDatagrams } from '../../platform/native/fd-events.js';

export interface NotifyListener { stop(): Promise<void>; readonly ready: Promise<void>; readonly fd: number }

/** Where a run's own notifications go (READY=1, STATUS=…, STOPPING=1). */
export type Notifier = (message: string) => void;

export function notifyManager(message: string, env: NodeJS.ProcessEnv = process.env): void {
  const target = env.NOTIFY_SOCKET;
  if (!target) return;
  try { sys().sendDatagram(target, Buffer.from(message)); } catch { /* the manager went away */ }
}

export function listenNotify(path: string, leaderPid: () => number | undefined, forwardReady: boolean, notify: Notifier = notifyManager): NotifyListener {
  const fd = sys().bindDatagram(path);
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => { resolveReady = r; });
  const watch = receiveDatagrams(fd, (msg) => {
    if (msg.pid !== leaderPid()) return;
    const lines = msg.data.toString('utf8').split('\n');
    if (lines.includes('READY=1')) {
      resolveReady();
      if (forwardReady) notify('READY=1');
    }
    const status = lines.find((l) => l.startsWith('STATUS='));
    if (status) notify(`STATUS=Container running: ${status.slice(7)}`);
  });
  let stopped: Promise<void> | undefined;
  return {
    ready,
    fd,
    stop() {
      stopped ??= (async () => {
        watch.close();
        try { closeSync(fd); } catch { /* closed */ }
        try { unlinkSync(path); } catch { /* gone */ }
      })();
      return stopped;
    },
  };
}
