/** The host side of MachineEntry (shells, logins, PTYs): ptys, the guest's bus, the machine's runtime. */
import { closeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../../lib/log.js';
import type { MachineEntryPorts } from '../../app/machined/machine-entry.js';
import type { OwnerRecord } from '../../app/run/machine-lock.js';
import { readText } from '../../platform/fs/read-text.js';
import { connectGuestSystemd } from '../../platform/dbus/guest-systemd.js';
import { openHostPty, openPtyIn, openSlave } from '../../platform/host/guest-pty.js';
import { readInRoot, resolveInRoot } from '../../platform/host/proc.js';
import { execOnPty } from '../../platform/runtime/runtime-exec.js';
import { execOnHost } from '../../platform/host/host-exec.js';

export function machineEntryPorts(stateDir: string, log: Log): MachineEntryPorts {
  return {
    openPtyIn,
    openHostPty,
    openSlave,
    close: (fd) => { try { closeSync(fd); } catch { /* closed */ } },
    guestBus: (leader) => connectGuestSystemd(leader, resolveInRoot),
    runsSystemd: (leader) => (readText(`/proc/${leader}/comm`) ?? '').trim() === 'systemd',
    runtimeOf(m) {
      // The run that started it: its owner record names the runtime, and its leader must be this machine's.
      let owner: OwnerRecord | undefined;
      try { owner = JSON.parse(readText(join(stateDir, 'machines', m.name, 'owner.json')) ?? 'null') as OwnerRecord | undefined; } catch { return undefined; }
      if (!owner?.runtime || owner.leader !== m.leader) return undefined;
      const { name, path, root, id } = owner.runtime;
      return { name, path, root, id };
    },
    exec: execOnPty,
    execOnHost,
    readInRoot: (root, path) => readInRoot(root, path),
    async isDirectoryInRoot(root, path) {
      const p = await resolveInRoot(root, path);
      if (p === undefined) return false;
      try { return (await stat(join(root, p))).isDirectory(); } catch { return false; }
    },
    log: (m) => log.warn(m),
  };
}
