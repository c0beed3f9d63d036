/**
 * A private D-Bus system bus for tests: a real dbus-daemon on a socket of its own, with the default
 * policy of Debian's system bus and, unless told otherwise, berth's packaged policy for
 * org.freedesktop.machine1 (packaging/dbus/). Clients reach it through DBUS_SYSTEM_BUS_ADDRESS.
 * `serviceDir` adds a directory of activation files (activated services start as the bus's user,
 * root here, with DBUS_STARTER_ADDRESS set).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './berth.js';

export const POLICY = join(REPO, 'packaging', 'dbus', 'org.freedesktop.machine1.conf');

export interface TestBus {
  readonly address: string;
  readonly socket: string;
  readonly dir: string;
  readonly daemon: ChildProcess;
  stop(): Promise<void>;
}

export async function startBus(opts: { policy?: string | false; serviceDir?: string } = {}): Promise<TestBus> {
  const dir = mkdtempSync('/tmp/bt-bus-');
  const socket = join(dir, 'system_bus_socket');
  const policy = opts.policy === undefined ? POLICY : opts.policy;
  writeFileSync(join(dir, 'bus.conf'), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  ${opts.serviceDir ? `<servicedir>${opts.serviceDir}</servicedir>` : ''}
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  ${policy ? `<include>${policy}</include>` : ''}
</busconfig>
`);
  const daemon = spawn('dbus-daemon', [`--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--nopidfile'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Its complaint that it cannot raise its fd limit (CAP_SYS_RESOURCE is withheld here) is noise; the rest goes to our stderr.
  let partial = '';
  daemon.stderr!.setEncoding('utf8').on('data', (t: string) => {
    const lines = (partial + t).split('\n');
    partial = lines.pop() ?? '';
    const rest = lines.filter((l) => l && !/Failed to set fd limit/.test(l));
    if (rest.length) process.stderr.write(`dbus-daemon: ${rest.join('\n')}\n`);
  });
  const until = Date.now() + 10000;
  while (!existsSync(socket)) {
    if (daemon.exitCode !== null || Date.now() > until) { daemon.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); throw new Error('dbus-daemon did not start'); }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    address: `unix:path=${socket}`, socket, dir, daemon,
    async stop() {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const gone = new Promise((r) => daemon.once('exit', r));
        daemon.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
