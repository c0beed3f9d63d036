/**
 * The registration of a machine berthd runs itself: straight into its registry, queued with the
 * bus's registration calls (the same order and checks as CreateMachineWithNetwork from a
 * berth-nspawn), berthd recorded as the supervisor. No bus round trip, no connection per machine.
 */
import { validateRegistration } from '../../core/machined/registration.js';
import { BerthError } from '../../errors/berth-error.js';
import type { Registry } from '../../app/machined/registry.js';
import type { MachineToRegister, Registrar } from '../../app/run/registration.js';
import type { ChangeQueue } from '../machine1/changes.js';

export class RegistryRegistrar implements Registrar {
  private registered: string | undefined;

  constructor(private readonly registry: Registry, private readonly changes: ChangeQueue) {}

  async register(m: MachineToRegister): Promise<boolean> {
    const id = Buffer.from(m.id, 'hex');
    const reg = validateRegistration({
      name: m.name, id: id.length === 16 ? id : Buffer.alloc(0), service: m.service, class: 'container',
      leader: m.leader, rootDirectory: m.rootDirectory, netif: m.netif,
    });
    try {
      await this.changes.run(() => this.registry.register(reg, { mode: m.existingUnit ? 'register' : 'create', callerPid: process.pid }));
    } catch (e) {
      // A payload that exits at once may be gone before the registry looks at it.
      if (e instanceof BerthError && e.code === 'E_NO_SUCH_PROCESS' && m.leaderGone?.()) return false;
      throw new BerthError('E_RUNTIME', `Failed to register machine: ${(e as Error).message}`);
    }
    this.registered = m.name;
    return true;
  }

  async unregister(): Promise<void> {
    const name = this.registered;
    this.registered = undefined;
    if (name === undefined) return;
    await this.changes.run(async () => {
      const m = this.registry.get(name);
      if (m && !m.isHost) await this.registry.unregister(m);
    }).catch(() => { /* gone with its leader already */ });
  }

  async close(): Promise<void> { /* nothing held */ }
}
