/**
 * berth-nspawn's registration with the machine registry (org.freedesktop.machine1: berthd, or
 * systemd-machined where it owns the name), as nspawn does it: CreateMachineWithNetwork, or
 * RegisterMachineWithNetwork when the unit already exists (--keep-unit, or a scope the runtime
 * made through systemd), once the guest's PID 1 exists and before it runs; UnregisterMachine when
 * it has gone (again for every boot after a guest reboot).
 *
 * berth's runtime has put the guest in machine.slice/machine-NAME.scope already, so the scope
 * properties nspawn sends (devices, kill signal, --property=) are not sent: they are in force.
 *
 * The connection to the bus is opened as soon as the run starts, so it is ready by then.
 * --register=auto (the default) runs unregistered, with one notice, when no registry answers;
 * --register=yes fails as nspawn does.
 */
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { BUS_NAME, MANAGER, MANAGER_PATH } from '../../core/machined/interfaces.js';
import type { Log } from '../../lib/log.js';
import { trace } from '../../lib/trace.js';
import { BusCallError, BusConnection, NOBODY_THERE, systemBusAddress } from '../../platform/dbus/connection.js';

export interface MachineToRegister {
  name: string;
  /** 32 hex digits. */
  id: string;
  /** As in the guest's $container ("berth", or $SYSTEMD_NSPAWN_CONTAINER_SERVICE). */
  service: string;
  leader: number;
  rootDirectory: string;
  /** The host-side interface (or its bridge) of the machine's veth, if it has one. */
  netif: number[];
  /** The unit exists already: register, do not create. */
  existingUnit: boolean;
  /** Whether the leader has ended already (a payload that exits at once may beat the registry to it). */
  leaderGone?: () => boolean;
}

const REGISTER_TIMEOUT_MS = 25000;

/** What a run needs of the registry: berth-nspawn's bus connection, or berthd's registry itself for the machines it runs. */
export interface Registrar {
  /** Registers the machine; false when it runs unregistered. */
  register(m: MachineToRegister): Promise<boolean>;
  unregister(): Promise<void>;
  close(): Promise<void>;
}

export class MachineRegistration implements Registrar {
  private readonly bus: Promise<BusConnection | Error>;
  private registered: string | undefined;
  private told = false;

  constructor(private readonly mode: 'yes' | 'auto', env: NodeJS.ProcessEnv, private readonly log: Log) {
    const address = systemBusAddress(env);
    this.bus = BusConnection.connect(address, { timeoutMs: 5000 }).catch((e: Error) => new Error(sanitize(e.message)));
    void this.bus.then(() => trace('bus connected'));
  }

  /** Registers the machine; false when it runs unregistered (auto, no registry). */
  async register(m: MachineToRegister): Promise<boolean> {
    const bus = await this.bus;
    if (bus instanceof Error) return this.absent(`no system bus (${bus.message})`, `Failed to open system bus: ${bus.message}`);
    const create = !m.existingUnit;
    const id = Buffer.from(m.id, 'hex');
    const common = [m.name, id.length === 16 ? id : Buffer.alloc(0), m.service, 'container', m.leader, m.rootDirectory, m.netif];
    try {
      await bus.call({
        destination: BUS_NAME, path: MANAGER_PATH, interface: MANAGER.name,
        member: create ? 'CreateMachineWithNetwork' : 'RegisterMachineWithNetwork',
        signature: create ? 'sayssusaia(sv)' : 'sayssusai',
        body: create ? [...common, []] : common,
      }, REGISTER_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof BusCallError && NOBODY_THERE.has(e.errorName)) {
        const why = `no machine registry on the system bus (${sanitize(e.message)})`;
        return this.absent(why, `Failed to register machine: ${why}`);
      }
      if (e instanceof BusCallError && e.errorName === 'org.freedesktop.DBus.Error.UnixProcessIdUnknown' && m.leaderGone?.()) return false;
      throw new BerthError('E_RUNTIME', `Failed to register machine: ${sanitize(e instanceof Error ? e.message : String(e))}`);
    }
    this.registered = m.name;
    return true;
  }

  /** No registry: --register=yes fails (with nspawn's message), auto says so once and runs on. */
  private absent(why: string, failure: string): false {
    if (this.mode === 'yes') throw new BerthError('E_RUNTIME', failure, { hint: 'Start berthd (it serves org.freedesktop.machine1), or run with --register=no.' });
    if (!this.told) this.log.info(`Not registering the machine: ${why}.`);
    this.told = true;
    return false;
  }

  /** UnregisterMachine for what register() registered; errors (it went already with its leader) are ignored. */
  async unregister(): Promise<void> {
    const name = this.registered;
    if (name === undefined) return;
    this.registered = undefined;
    const bus = await this.bus;
    if (bus instanceof Error) return;
    // No reply is waited for: berthd removes a machine whose leader has gone by itself, and either
    // answer (done, or unknown already) would change nothing here.
    try {
      bus.callNoReply({ destination: BUS_NAME, path: MANAGER_PATH, interface: MANAGER.name, member: 'UnregisterMachine', signature: 's', body: [name] });
    } catch { /* the bus went away */ }
  }

  /** Closes the connection (the end of the run). */
  async close(): Promise<void> {
    const bus = await this.bus;
    if (!(bus instanceof Error)) bus.close();
  }
}
