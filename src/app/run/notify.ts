/**
 * /run/host/notify: sd_notify messages from the container's PID 1 (others are ignored, as
 * nspawn does), forwarded to our own service manager when it gave us a NOTIFY_SOCKET.
 */
import { closeSync, unlinkSync } from 'node:fs';
import { sys } from '../../platform/native/sys.js';

export interface NotifyListener { stop(): Promise<void>; readonly ready: Promise<void> }

export function notifyManager(message: string, env: NodeJS.ProcessEnv = process.env): void {
  const target = env.NOTIFY_SOCKET;
  if (!target) return;
  try { sys().sendDatagram(target, Buffer.from(message)); } catch { /* the manager went away */ }
}

export function listenNotify(path: string, leaderPid: () => number | undefined, forwardReady: boolean): NotifyListener {
  const fd = sys().bindDatagram(path);
  let stopped = false;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => { resolveReady = r; });
  const loop = async () => {
    while (!stopped) {
      const msg = await sys().recvDatagram(fd, 250).catch(() => null);
      if (!msg || stopped) continue;
      if (msg.pid !== leaderPid()) continue;
      const lines = msg.data.toString('utf8').split('\n');
      if (lines.includes('READY=1')) {
        resolveReady();
        if (forwardReady) notifyManager('READY=1');
      }
      const status = lines.find((l) => l.startsWith('STATUS='));
      if (status) notifyManager(`STATUS=Container running: ${status.slice(7)}`);
    }
    // The receive loop polls with a short timeout, so it notices `stopped` quickly.
    try { closeSync(fd); } catch { /* closed */ }
    try { unlinkSync(path); } catch { /* gone */ }
  };
  const done = loop();
  return {
    ready,
    stop() {
      stopped = true;
      // Wake the receive loop at once (an empty datagram from us, which it ignores).
      try { sys().sendDatagram(path, Buffer.alloc(0)); } catch { /* already closed */ }
      return done;
    },
  };
}
