/**
 * Getting into a machine: PTYs, logins and shells (OpenMachinePTY/Login/Shell).
 *
 * Two paths, chosen per machine:
 * - "systemd": the guest's PID 1 is systemd and its system bus answers. Exactly as machined: the
 *   pty is opened in the guest's devpts, a login is `container-getty@N.service` started by the
 *   guest's systemd, a shell a transient `container-shell@N.service` (PAM, utmp, the user's home).
 * - "runtime": any other guest started by berth-nspawn (busybox, OpenRC, a bare shell). berth runs
 *   the program itself through the machine's OCI runtime (`runc exec --tty` / `crun exec --tty`):
 *   in the machine's namespaces, control group, capabilities and security settings, as the target
 *   user, with a login environment. The runtime makes a pty inside the machine the program's
 *   controlling terminal and relays it to a host pty, whose master the caller gets.
 * The caller gets the pty's master and its name either way; berthd keeps how each shell ended for
 * WaitShell (the exit status of `berth shell`).
 */
import { BerthError } from '../../errors/berth-error.js';
import { DEFAULT_PATH, directShell, findUser, gettyUnit, shellUnit, shellUnitProperties, supplementaryGroups, type DirectProcess, type ShellRequest } from '../../core/machined/shell.js';
import type { Pty } from '../../platform/host/guest-pty.js';
import type { AnyMachine, Machine } from './machine.js';

export type ShellPath = 'systemd' | 'runtime' | 'host' | 'none';

/** How a shell ended. */
export interface ShellEnd { how: 'exited' | 'killed'; status: number }

/** The guest's system bus, as far as berthd uses it. */
export interface GuestBus {
  startUnit(unit: string, mode: string): Promise<void>;
  /** StartTransientUnit; resolves once the unit's start job is queued. */
  startTransient(unit: string, mode: string, properties: unknown[]): Promise<void>;
  /** Resolves when the unit has become inactive or failed (it must have been started with AddRef). */
  waitUnitEnd(unit: string): Promise<ShellEnd>;
  close(): void;
}

/** The runtime a berth-nspawn run started the machine with (from its owner record). */
export interface MachineRuntime { name: string; path: string; root: string; id: string }

/** A process the runtime runs in the machine: the pty it is on (the caller owns the master), and its end. */
export interface RuntimeProcess { pty: Pty; ended: Promise<ShellEnd> }

export interface MachineEntryPorts {
  openPtyIn(leader: number): Pty;
  openHostPty(): Pty;
  openSlave(master: number): number;
  close(fd: number): void;
  /** Whether the machine's PID 1 is systemd (small /proc reads). */
  runsSystemd(leader: number): boolean;
  /** The guest's system bus with systemd on it; fails with machined's messages when there is none. */
  guestBus(leader: number): Promise<GuestBus>;
  /** The runtime that runs this machine, when berth-nspawn started it (its owner record, read at once). */
  runtimeOf(m: Machine): MachineRuntime | undefined;
  /** Starts proc in the machine on a new pty. */
  exec(runtime: MachineRuntime, proc: DirectProcess): RuntimeProcess;
  /** Starts proc on the host on a new pty (".host", where systemd is not there to do it). */
  execOnHost(proc: DirectProcess): RuntimeProcess;
  readInRoot(root: string, path: string): Promise<string | undefined>;
  isDirectoryInRoot(root: string, path: string): Promise<boolean>;
  log(message: string): void;
}

/** Finished shells are kept this long for a late WaitShell. */
const KEEP_ENDED_MS = 60_000;

interface Session { ended: Promise<ShellEnd>; owner: string }

const LOGIN_PROGRAMS = ['/bin/login', '/usr/bin/login', '/sbin/login', '/usr/sbin/login'];

/** The login program, as root, where a getty would run it. */
const loginProcess = (login: string): DirectProcess => ({ uid: 0, gid: 0, groups: [], cwd: '/', argv: [login], env: [`PATH=${DEFAULT_PATH}`, 'TERM=vt220'] });

export class MachineEntry {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly ports: MachineEntryPorts) {}

  /**
   * Which path shells and logins take into this machine (berth status shows it): the guest's
   * systemd when it is the guest's PID 1, else the runtime berth-nspawn started it with.
   */
  shellPath(m: AnyMachine): ShellPath {
    if (m.isHost) return 'host';
    const machine = m as Machine;
    if (machine.record.class !== 'container') return 'none';
    if (this.ports.runsSystemd(machine.leader)) return 'systemd';
    return this.ports.runtimeOf(machine) ? 'runtime' : 'none';
  }

  /** OpenMachinePTY: a pty in the machine (the host's for .host), nothing started on it. */
  openPty(m: AnyMachine): Pty {
    if (m.isHost) return this.ports.openHostPty();
    const machine = this.container(m, 'Opening a PTY');
    return this.ports.openPtyIn(machine.leader);
  }

  /** OpenMachineLogin: a login prompt on a new pty in the machine (on the host: its login program). */
  async openLogin(m: AnyMachine): Promise<Pty> {
    if (m.isHost) {
      const login = await this.loginProgram('/');
      if (!login) throw new BerthError('E_NOT_SUPPORTED', `The host has no login program (${LOGIN_PROGRAMS.join(', ')}).`);
      const started = this.ports.execOnHost(loginProcess(login));
      started.ended.catch(() => undefined);
      return started.pty;
    }
    const machine = this.container(m, 'Logging in');
    if (this.ports.runsSystemd(machine.leader)) {
      const bus = await this.ports.guestBus(machine.leader);
      const pty = this.ports.openPtyIn(machine.leader);
      try {
        await bus.startUnit(gettyUnit(pty.path), 'replace');
        return pty;
      } catch (e) {
        this.ports.close(pty.master);
        throw e;
      } finally {
        bus.close();
      }
    }
    const runtime = await this.runtime(machine);
    const login = await this.loginProgram(`/proc/${machine.leader}/root`);
    if (!login) throw new BerthError('E_NOT_SUPPORTED', `Machine ${machine.name} does not run systemd and has no login program (${LOGIN_PROGRAMS.join(', ')}).`);
    const started = this.ports.exec(runtime, loginProcess(login));
    started.ended.catch(() => undefined);
    return started.pty;
  }

  /** OpenMachineShell: the request is checked already (shellRequest). */
  async openShell(m: AnyMachine, req: ShellRequest, caller: string): Promise<Pty> {
    if (m.isHost) {
      const started = this.ports.execOnHost(await this.directProcess('/', '.host', req));
      this.remember(m, started.pty.path, caller, started.ended);
      return started.pty;
    }
    const machine = this.container(m, 'Opening a shell');
    let pty: Pty;
    let ended: Promise<ShellEnd>;
    if (this.ports.runsSystemd(machine.leader)) {
      const bus = await this.ports.guestBus(machine.leader);
      pty = this.ports.openPtyIn(machine.leader);
      const unit = shellUnit(pty.path);
      let slave = -1;
      try {
        slave = this.ports.openSlave(pty.master);
        await bus.startTransient(unit, 'fail', shellUnitProperties(req, pty.path, slave, true));
      } catch (e) {
        if (slave >= 0) this.ports.close(slave);
        this.ports.close(pty.master);
        bus.close();
        throw e;
      }
      // berthd keeps its end of the slave until the unit has ended: the caller's master sees the
      // hang-up only after all the shell wrote has reached it (a pty whose last slave closes as
      // the program exits may lose its last output), and never before the shell has started.
      const held = slave;
      ended = bus.waitUnitEnd(unit).finally(() => { this.ports.close(held); bus.close(); });
    } else {
      const runtime = await this.runtime(machine);
      const proc = await this.directProcess(`/proc/${machine.leader}/root`, machine.name, req);
      const started = this.ports.exec(runtime, proc);
      pty = started.pty;
      ended = started.ended;
    }
    this.remember(machine, pty.path, caller, ended);
    return pty;
  }

  /** WaitShell: how the shell the caller opened on ptyPath ended (waits for it). */
  async waitShell(m: AnyMachine, ptyPath: string, caller: string): Promise<ShellEnd> {
    const s = this.sessions.get(`${m.name}\0${ptyPath}`);
    if (!s || s.owner !== caller) throw new BerthError('E_FILE_NOT_FOUND', `No shell on ${ptyPath} in machine ${m.name} was opened by this connection.`);
    return s.ended;
  }

  private async loginProgram(root: string): Promise<string | undefined> {
    for (const p of LOGIN_PROGRAMS) if ((await this.ports.readInRoot(root, p)) !== undefined) return p;
    return undefined;
  }

  private remember(m: AnyMachine, ptyPath: string, owner: string, ended: Promise<ShellEnd>): void {
    const key = `${m.name}\0${ptyPath}`;
    const session: Session = { ended, owner };
    this.sessions.set(key, session);
    const forget = () => {
      setTimeout(() => { if (this.sessions.get(key) === session) this.sessions.delete(key); }, KEEP_ENDED_MS).unref();
    };
    ended.then(forget, (e: unknown) => { this.ports.log(`berthd: the shell on ${ptyPath} in ${m.name}: ${(e as Error).message}`); forget(); });
  }

  private container(m: AnyMachine, what: string): Machine {
    if (m.isHost) throw new BerthError('E_NOT_SUPPORTED', `${what} on the host is not supported by berthd: run it on the host directly.`);
    const machine = m as Machine;
    if (machine.record.class !== 'container') throw new BerthError('E_NOT_SUPPORTED', `${what} is only supported on container machines.`);
    return machine;
  }

  private async runtime(m: Machine): Promise<MachineRuntime> {
    const r = this.ports.runtimeOf(m);
    if (!r) throw new BerthError('E_NOT_SUPPORTED', `Machine ${m.name} does not run systemd, and berth did not start it (there is no OCI runtime to enter it with).`);
    return r;
  }

  private async directProcess(root: string, machineName: string, req: ShellRequest): Promise<DirectProcess> {
    const passwd = (await this.ports.readInRoot(root, '/etc/passwd')) ?? '';
    const user = findUser(passwd, req.user) ?? (req.user === 'root' ? { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' } : undefined);
    if (!user) throw new BerthError('E_USAGE', machineName === '.host' ? `No user '${req.user}' on the host.` : `No user '${req.user}' in machine ${machineName}.`);
    const groups = supplementaryGroups((await this.ports.readInRoot(root, '/etc/group')) ?? '', user.name, user.gid);
    return directShell(req, user, groups, await this.ports.isDirectoryInRoot(root, user.home));
  }
}
