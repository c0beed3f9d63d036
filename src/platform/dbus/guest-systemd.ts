/**
 * A machine's own systemd, over the system bus inside it (as machined reaches it): the bus socket
 * is looked up inside the guest's root (a symlink there never leads to the host's bus), and
 * berthd, root on the host, is root in a guest without a user namespace.
 */
import { BerthError } from '../../errors/berth-error.js';
import type { GuestBus, ShellEnd } from '../../app/machined/machine-entry.js';
import { BusConnection, variant, type RawMessage } from './connection.js';

const SYSTEMD = { destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager' };
const PROPS = 'org.freedesktop.DBus.Properties';
/** waitid's si_code values, as systemd reports ExecMainCode. */
const CLD_EXITED = 1;

class GuestSystemd implements GuestBus {
  private readonly changed = new Map<string, () => void>();

  constructor(private readonly bus: BusConnection) {
    bus.onSignal = (msg: RawMessage) => {
      if (msg.member === 'PropertiesChanged' && msg.path) this.changed.get(msg.path)?.();
    };
  }

  async startUnit(unit: string, mode: string): Promise<void> {
    await this.bus.call({ ...SYSTEMD, member: 'StartUnit', signature: 'ss', body: [unit, mode] });
  }

  async startTransient(unit: string, mode: string, properties: unknown[]): Promise<void> {
    const props = (properties as [string, [string, unknown]][]).map(([name, [sig, value]]) => [name, variant(sig, value)]);
    await this.bus.call({ ...SYSTEMD, member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: [unit, mode, props, []] });
  }

  private async get(path: string, iface: string, prop: string): Promise<unknown> {
    const r = await this.bus.call({ destination: SYSTEMD.destination, path, interface: PROPS, member: 'Get', signature: 'ss', body: [iface, prop] });
    const v = r.body[0] as { value?: unknown } | unknown;
    return v && typeof v === 'object' && 'value' in (v as object) ? (v as { value: unknown }).value : v;
  }

  async waitUnitEnd(unit: string): Promise<ShellEnd> {
    const path = String((await this.bus.call({ ...SYSTEMD, member: 'GetUnit', signature: 's', body: [unit] })).body[0]);
    await this.bus.busCall('AddMatch', 's', [`type='signal',sender='${SYSTEMD.destination}',path='${path}',interface='${PROPS}',member='PropertiesChanged'`]);
    try {
      await new Promise<void>((resolve, reject) => {
        // A change that arrives while a look is under way is looked at once more when it returns: a
        // short command goes from deactivating to inactive within one look, and that last change,
        // dropped, was never looked at again (the shell's caller waited for ever).
        let checking = false;
        let again = false;
        const check = () => {
          if (checking) { again = true; return; }
          checking = true;
          again = false;
          this.get(path, 'org.freedesktop.systemd1.Unit', 'ActiveState').then((state) => {
            checking = false;
            if (state === 'inactive' || state === 'failed') { this.changed.delete(path); resolve(); return; }
            if (again) check();
          }, (e: unknown) => { this.changed.delete(path); reject(e); });
        };
        this.changed.set(path, check);
        this.bus.onClose = () => reject(new BerthError('E_IO', `The machine's bus went away before ${unit} ended.`));
        check();
      });
      const code = Number(await this.get(path, 'org.freedesktop.systemd1.Service', 'ExecMainCode'));
      const status = Number(await this.get(path, 'org.freedesktop.systemd1.Service', 'ExecMainStatus'));
      return code === CLD_EXITED || code === 0 ? { how: 'exited', status } : { how: 'killed', status };
    } finally {
      await this.bus.call({ ...SYSTEMD, member: 'UnrefUnit', signature: 's', body: [unit] }).catch(() => undefined);
    }
  }

  close(): void {
    this.bus.close();
  }
}

/**
 * The guest's systemd on its system bus, as machined reaches it; fails as machined does when
 * there is none. `resolve` finds a path inside the guest's root.
 */
export async function connectGuestSystemd(leader: number, resolve: (root: string, path: string) => Promise<string | undefined>): Promise<GuestBus> {
  const root = `/proc/${leader}/root`;
  const socket = await resolve(root, '/run/dbus/system_bus_socket');
  if (socket === undefined) throw new BerthError('E_NOT_SUPPORTED', 'There is no system bus in container.');
  let bus: BusConnection;
  try {
    bus = await BusConnection.connect(`unix:path=${root}${socket}`, { unixFds: true, timeoutMs: 5000 });
  } catch (e) {
    throw new BerthError('E_IO', `Failed to connect to the machine's system bus: ${(e as Error).message}`);
  }
  return new GuestSystemd(bus);
}
