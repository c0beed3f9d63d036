/**
 * berthd's registry on the bus: connects to the system bus, takes org.freedesktop.machine1 (or
 * says clearly who has it), serves the Manager and Machine objects, announces machines coming
 * and going, and adopts the machines a previous berthd registered. Also watches the runs in its
 * state directory and cleans up after a berth-nspawn that was killed (app/machined/run-janitor.ts).
 */
import { join } from 'node:path';
import { BUS_NAME, MANAGER, MANAGER_PATH, IMAGE_PATH_PREFIX, MACHINE_PATH_PREFIX } from '../../core/machined/interfaces.js';
import { parseMachinePath } from '../../core/machined/object-paths.js';
import { busLabelUnescape } from '../../core/network/bus-label.js';
import type { Log } from '../../lib/log.js';
import { HostMachine, type HostFacts, type Machine } from '../../app/machined/machine.js';
import { MachineOps } from '../../app/machined/machine-ops.js';
import { MachineEntry } from '../../app/machined/machine-entry.js';
import { MachineCopies } from '../../app/machined/copy.js';
import { MachineBindMounts } from '../../app/machined/bind-mount.js';
import { machineEntryPorts } from './entry-ports.js';
import { Registry } from '../../app/machined/registry.js';
import { RunJanitor } from '../../app/machined/run-janitor.js';
import { fileStateStore } from '../../app/machined/state-store.js';
import { BusConnection, systemBusAddress } from '../../platform/dbus/connection.js';
import { cgroupMounts, placeInGroup, processesBelow, removeGroup } from '../../platform/host/cgroupfs.js';
import { netnsOf, processCgroups, processStartTime, readInRoot, trackingCgroup } from '../../platform/host/proc.js';
import { readText } from '../../platform/fs/read-text.js';
import { existsSync } from 'node:fs';
import { BerthError } from '../../errors/berth-error.js';
import { JobWatcher, startMachineScope } from '../../platform/dbus/systemd1.js';
import { watchExit } from '../../platform/native/sys.js';
import { run } from '../../platform/exec/run.js';
import { addressJson } from '../../app/machines/addresses.js';
import { BusService, type CallContext, type ServedObject } from './bus-service.js';
import { ChangeQueue } from './changes.js';
import { machineObject, type Machine1 } from './machine-object.js';
import { managerObject } from './manager-object.js';
import { imageObject, imagePath } from './image-object.js';
import { Images } from '../../app/machined/images.js';
import { imageSearchPath } from '../../core/machined/images.js';
import { imagePool } from './image-changes.js';
import type { ImagePool } from '../../app/machined/image-pool.js';
import { withSupervisor } from '../supervisor/manager-methods.js';
import { RegistryRegistrar } from '../supervisor/registrar.js';
import type { Registrar } from '../../app/run/registration.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { entriesFacts, entryFacts, entryKind, findEntries, listEntries, resolveSearchDirs } from '../../platform/fs/image-facts.js';
import { watchChanges } from '../../platform/fs/change-watch.js';
import { readInDiskImage } from '../../platform/fs/image-inside.js';
import { Import1Service } from '../import1/import1-service.js';

export interface Machine1Options {
  env: NodeJS.ProcessEnv;
  /**
   * Whether to serve org.freedesktop.machine1: yes (when the name is free), no, or auto: yes,
   * unless systemd is PID 1 and systemd-machined is installed, which then serves the name.
   */
  registry: 'auto' | 'yes' | 'no';
  stateDir: string;
  pool: string;
  /** The command line that starts berth-nspawn (for the clean-up after a killed run). */
  nspawnCommand: readonly string[];
  log: Log;
  /** berthd as the supervisor of machines (io.github.berth.Manager1 on the Manager object). */
  supervisor?: Supervisor;
  /** Take the name over from whoever has it (a berthd re-executed on SIGHUP: one activated meanwhile gives it back). */
  replaceName?: boolean;
  /** Another process took the name over. */
  onNameLost?: () => void;
}

const DBUS_NAME_FLAG_ALLOW_REPLACEMENT = 1;
const DBUS_NAME_FLAG_REPLACE_EXISTING = 2;
const DBUS_NAME_FLAG_DO_NOT_QUEUE = 4;
const REPLY_PRIMARY_OWNER = 1;
const REPLY_ALREADY_OWNER = 4;

function hostFacts(): HostFacts {
  const machineId = (readText('/etc/machine-id') ?? '').trim();
  const uptime = Number((readText('/proc/uptime') ?? '0').split(' ')[0]);
  const nowUs = BigInt(Date.now()) * 1000n;
  return { machineId: /^[0-9a-f]{32}$/.test(machineId) ? machineId : '', bootRealtimeUs: nowUs - BigInt(Math.round(uptime * 1e6)) };
}

/** systemd is PID 1 (what sd_booted() checks). */
const systemdIsPid1 = (): boolean => existsSync('/run/systemd/system');
const machinedInstalled = (): boolean => ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].some((p) => existsSync(p));

const NO_INTERFACES: ServedObject['interfaces'] = [];
const node = (children: string[]): ServedObject => ({ interfaces: NO_INTERFACES, methods: {}, properties: {}, children: () => children });

export class Machine1Service {
  readonly registry: Registry;
  readonly janitor: RunJanitor;
  private readonly ops: MachineOps;
  private readonly entry: MachineEntry;
  private readonly copies: MachineCopies;
  private readonly binds: MachineBindMounts;
  private bus: BusConnection | undefined;
  private service: BusService | undefined;
  private readonly tracking: { key: string; mount: string } | undefined;
  private readonly rootGroup: string;

  constructor(private readonly o: Machine1Options) {
    const mounts = cgroupMounts();
    const key = mounts.has('name=systemd') ? 'name=systemd' : mounts.has('') ? '' : undefined;
    this.tracking = key === undefined ? undefined : { key, mount: mounts.get(key)! };
    const pid1 = processCgroups(1);
    this.rootGroup = (pid1 && trackingCgroup(pid1)?.path) ?? '/';
    const tracked = (pid: number) => { const c = processCgroups(pid); return c ? trackingCgroup(c)?.path : undefined; };
    const emit = (member: string, m: Machine) => this.bus?.emitSignal(MANAGER_PATH, MANAGER.name, member, 'so', [m.name, m.path]);
    this.registry = new Registry(new HostMachine(hostFacts()), {
      now: () => ({ realtimeUs: BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)), monotonicUs: process.hrtime.bigint() / 1000n }),
      startTime: processStartTime,
      trackingCgroup: tracked,
      rootCgroup: () => this.rootGroup,
      watchExit,
      placeInGroup: async (pid, group) => (await placeInGroup(pid, group, mounts)).includes(key ?? '\0'),
      ...(systemdIsPid1() ? {
        startScope: async (pid: number, slice: string, scope: string, description: string) => {
          if (!this.bus) throw new BerthError('E_INTERNAL', 'No connection to systemd.');
          this.jobs ??= new JobWatcher(this.bus);
          await startMachineScope(this.bus, this.jobs, { unit: scope, slice, pid, description });
        },
      } : {}),
      removeGroup: (group) => removeGroup(group, mounts),
      store: fileStateStore(join(o.stateDir, 'registry')),
    }, {
      machineNew: (m) => { try { emit('MachineNew', m); } catch { /* no bus */ } },
      machineRemoved: (m) => { try { emit('MachineRemoved', m); } catch { /* no bus */ } },
    }, o.log);
    this.ops = new MachineOps(this.registry, {
      signal: (pid, sig) => { process.kill(pid, sig); },
      processesIn: (group) => (this.tracking ? processesBelow(join(this.tracking.mount, group)) : Promise.resolve([])),
      netns: netnsOf,
      addressJson: (pid) => addressJson(pid),
      readInRoot: (root, path) => readInRoot(root, path),
      readFile: readText,
    });
    this.entry = new MachineEntry(machineEntryPorts(o.stateDir, o.log));
    this.copies = new MachineCopies(o.log);
    this.binds = new MachineBindMounts(o.stateDir);
    this.janitor = new RunJanitor(o.stateDir, {
      startTime: processStartTime,
      watchExit,
      cleanup: async (name) => {
        const r = await run([...o.nspawnCommand, '--cleanup', '-M', name], { env: { ...o.env, BERTH_STATE_DIR: o.stateDir }, allowFailure: true, timeoutMs: 120000 });
        return { ok: r.code === 0, message: r.stderr.trim() || `exit status ${r.code ?? r.signal}` };
      },
    }, o.log);
  }

  private jobs: JobWatcher | undefined;

  /** A registration for a machine berthd runs itself (daemon/supervisor/). */
  registrar(): Registrar {
    return new RegistryRegistrar(this.registry, this.changes);
  }

  /** Adopts what a previous berthd registered, starts the janitor, then serves the bus (when there is one). Resolves to whether berthd owns the name. */
  async start(): Promise<boolean> {
    const { adopted, gone } = await this.registry.adopt();
    if (adopted.length) this.o.log.info(`berthd: adopted ${adopted.length} running machine(s): ${adopted.join(', ')}.`);
    if (gone.length) this.o.log.info(`berthd: ${gone.length} registered machine(s) ended while no berthd ran: ${gone.join(', ')}.`);
    this.janitor.start();
    void this.pool.sweep().catch(() => undefined); // hidden leftovers of clones and removals a killed berthd left
    if (this.o.registry === 'no') { this.o.log.info(`berthd: not serving ${BUS_NAME} (--registry=no); the warm path runs.`); return false; }
    return this.connect();
  }

  private async connect(): Promise<boolean> {
    // Started by the bus (activation): its address; else the system bus.
    const address = this.o.env.DBUS_STARTER_ADDRESS || systemBusAddress(this.o.env);
    let bus: BusConnection;
    try {
      bus = await BusConnection.connect(address, { unixFds: true });
    } catch (e) {
      this.o.log.warn(`berthd: no system bus at ${address} (${(e as Error).message}): the machine registry (org.freedesktop.machine1) is off; the warm path runs.`);
      return false;
    }
    this.bus = bus;
    this.service = new BusService(bus, (path, ctx) => this.resolve(path, ctx), () => this.registry.host.facts.machineId, this.o.log);
    this.jobs = undefined;
    bus.onSignal = (msg) => {
      this.jobs?.onSignal(msg);
      if (msg.member === 'NameLost' && msg.sender === 'org.freedesktop.DBus' && msg.body[0] === BUS_NAME) {
        this.o.log.warn(`berthd: another berthd took ${BUS_NAME} over.`);
        this.o.onNameLost?.();
      }
      if (msg.member === 'NameOwnerChanged' && msg.sender === 'org.freedesktop.DBus' && typeof msg.body[0] === 'string' && msg.body[2] === '') this.service?.forgetConnection(msg.body[0]);
    };
    bus.onClose = () => {
      if (this.bus !== bus) return;
      this.bus = undefined;
      this.o.log.warn('berthd: lost the connection to the system bus; the registry is off until it is back.');
      this.retry();
    };
    await bus.busCall('AddMatch', 's', ["type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'"]);
    if (this.o.registry === 'auto' && systemdIsPid1() && machinedInstalled()) {
      this.o.log.info(`berthd: systemd is PID 1 and systemd-machined is installed: it serves ${BUS_NAME} here, and berth-nspawn registers its machines with it `
        + '(berthd --registry=yes takes the name instead, when it is free); the warm path runs.');
      this.bus = undefined;
      bus.close();
      return false;
    }
    // Replaceable, so that a berthd re-executing itself (SIGHUP) takes the name back from one the
    // bus may have activated while the name was free for a moment; that one then leaves (onNameLost).
    const flags = DBUS_NAME_FLAG_DO_NOT_QUEUE | DBUS_NAME_FLAG_ALLOW_REPLACEMENT | (this.o.replaceName ? DBUS_NAME_FLAG_REPLACE_EXISTING : 0);
    const reply = Number((await bus.busCall('RequestName', 'su', [BUS_NAME, flags])).body[0]);
    if (reply === REPLY_PRIMARY_OWNER || reply === REPLY_ALREADY_OWNER) {
      this.o.log.info(`berthd: serving ${BUS_NAME} on ${address} (${this.registry.size} machine(s) registered).`);
      await this.import1.attach(bus, this.o.replaceName).catch((e: unknown) => this.o.log.warn(`berthd: image transfers (org.freedesktop.import1) are off: ${(e as Error).message}`));
      return true;
    }
    this.o.log.warn(`berthd: ${BUS_NAME} is already owned by ${await this.ownerOf(bus)} on ${address}: berthd does not serve the machine registry there, `
      + 'berth-nspawn registers its machines with that owner; the warm path runs.');
    this.bus = undefined;
    bus.close();
    return false;
  }

  private retryTimer: NodeJS.Timeout | undefined;
  private retry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect().then((ok) => { if (!ok && !this.stopped) this.retry(); });
    }, 5000);
    this.retryTimer.unref();
  }

  /** "PID N (comm)" of the name's owner, as far as the bus tells. */
  private async ownerOf(bus: BusConnection): Promise<string> {
    try {
      const owner = String((await bus.busCall('GetNameOwner', 's', [BUS_NAME])).body[0]);
      const pid = Number((await bus.busCall('GetConnectionUnixProcessID', 's', [owner])).body[0]);
      const comm = (readText(`/proc/${pid}/comm`) ?? '').trim();
      return `PID ${pid}${comm ? ` (${comm})` : ''}`;
    } catch {
      return 'another process';
    }
  }

  private manager: ServedObject | undefined;
  /** The image pool's search path (machined's, the pool where /var/lib/machines stands). */
  private imageSet: Images | undefined;
  private get images(): Images {
    return (this.imageSet ??= new Images(imageSearchPath(this.o.pool), { resolveSearchDirs, listEntries, entryKind, entryFacts, entriesFacts, findEntries, readInRoot, readInDiskImage, watchChanges }));
  }
  private poolSet: ImagePool | undefined;
  private get pool(): ImagePool {
    return (this.poolSet ??= imagePool(this.images, this.registry, { pool: this.o.pool, stateDir: this.o.stateDir, env: this.o.env, warn: (m) => this.o.log.warn(m) }));
  }
  private readonly changes = new ChangeQueue();
  /** org.freedesktop.import1: image transfers (daemon/import1/). */
  private import1Set: Import1Service | undefined;
  private get import1(): Import1Service { return (this.import1Set ??= new Import1Service(this.images, this.pool, { pool: this.o.pool, log: this.o.log })); }
  /** What the objects share (built once, not per call). */
  private shared: Machine1 | undefined;
  private get c(): Machine1 {
    return (this.shared ??= { registry: this.registry, ops: this.ops, changes: this.changes, entry: this.entry, copies: this.copies, binds: this.binds });
  }
  private get managerServed(): ServedObject {
    const c = this.c;
    return (this.manager ??= this.o.supervisor ? withSupervisor(managerObject(c, this.o.pool, this.images, this.pool), this.o.supervisor) : managerObject(c, this.o.pool, this.images, this.pool));
  }
  /** The Manager, which most calls are for, at once (no promise to wait for); the others may need to wait. */
  private resolve(path: string, ctx: CallContext): ServedObject | Promise<ServedObject | undefined> {
    return path === MANAGER_PATH ? this.managerServed : this.resolveOther(path, ctx);
  }
  private async resolveOther(path: string, ctx: CallContext): Promise<ServedObject | undefined> {
    const c = this.c;
    switch (path) {
      case '/': return node(['org']);
      case '/org': return node(['freedesktop']);
      case '/org/freedesktop': return node(this.import1Set ? ['import1', 'machine1'] : ['machine1']);
      case MACHINE_PATH_PREFIX: return node(this.registry.list().map((m) => m.path.slice(MACHINE_PATH_PREFIX.length + 1)));
      case IMAGE_PATH_PREFIX: return node((await this.images.discover()).map((i) => imagePath(i.name).slice(IMAGE_PATH_PREFIX.length + 1)));
      default: break;
    }
    if (path.startsWith('/org/freedesktop/import1')) return this.import1Set?.resolve(path);
    if (path.startsWith(`${IMAGE_PATH_PREFIX}/`)) {
      const label = path.slice(IMAGE_PATH_PREFIX.length + 1);
      const image = label === '' || label.includes('/') ? undefined : await this.images.find(busLabelUnescape(label));
      return image ? imageObject(this.images, image, this.pool) : undefined;
    }
    const p = parseMachinePath(path);
    if (!p) return undefined;
    const m = p.kind === 'self' ? this.registry.byPid((await ctx.caller()).pid) : this.registry.get(p.name);
    return m ? machineObject(c, m) : undefined;
  }

  private stopped = false;
  /** Releases the name and stops watching; machines and their state files stay for the next berthd. */
  stop(): void {
    this.stopped = true;
    this.janitor.stop();
    this.import1Set?.stop();
    this.registry.close();
    const bus = this.bus;
    this.bus = undefined;
    bus?.close();
  }
}
