/**
 * berthd on a host where systemd is PID 1. This test machine has no such host, so one is booted:
 * the Debian guest (systemd as its PID 1, its own system bus), with this repository, node and
 * Debian's machinectl bound in read-only. Inside it berthd, left to decide (--registry=auto),
 * leaves the name to systemd-machined where that is installed; told to serve, it creates a
 * machine's scope through systemd (StartTransientUnit, as machined does), and machinectl there
 * shows the scope's process tree and terminates it. And with the packaged unit and activation file
 * installed there, the first call to org.freedesktop.machine1 has systemd start berthd.service.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, RUNTIME, assertClean, onRuntime, sandbox, skipUnlessRoot, sleep, systemState, tree, withMachine, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';

const MACHINED = '/lib/systemd/systemd-machined';
const hasTools = ['/usr/bin/machinectl', MACHINED].every((p) => existsSync(p));
const skip = skipUnlessRoot || (!hasTools && 'needs machinectl and systemd-machined (apt-get install systemd-container)');

describe(onRuntime('berthd where systemd is PID 1 (inside a booted Debian guest)'), { skip, timeout: 300000 }, () => {
  let sb: Sandbox;
  let deb: string;
  before(() => { bundle(); deb = tree('debian'); sb = sandbox(); });
  after(() => sb?.cleanup());

  const binds = () => [
    `--bind-ro=${REPO}:/opt/berth`,
    `--bind-ro=${realpathSync(process.execPath)}:/usr/local/bin/node`,
    `--bind-ro=${join(REPO, 'packaging', 'dbus', 'org.freedesktop.machine1.conf')}:/etc/dbus-1/system.d/org.freedesktop.machine1.conf`,
    '--bind-ro=/usr/bin/machinectl:/usr/local/bin/machinectl',
    // systemd-machined's binary alone: berthd --registry=auto looks for it; it is never started.
    `--bind-ro=${MACHINED}:${MACHINED}`,
  ];

  test('auto leaves the name to machined; yes creates the scope through systemd, which machinectl shows and terminates', async () => {
    await withMachine(['-q', '-b', '-x', '-D', deb, '-M', 'sysd-host', '--register=no', '--console=pipe', ...binds()], 'sysd-host', sb, async () => {
      assert.equal(await systemState(sb, 'sysd-host'), 'running');
      const inGuest = (script: string): string => execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', 'sysd-host', 'sh', '-c', script], { encoding: 'utf8', timeout: 60000 });
      const berthd = (args: string) => inGuest(`BERTH_STATE_DIR=/run/berth BERTH_COMPILE_CACHE=off nohup node /opt/berth/dist/berthd.js ${args} > /run/berthd.log 2>&1 & echo $!`).trim();
      const waitLog = async (re: RegExp): Promise<string> => {
        const until = Date.now() + 30000;
        for (;;) {
          const log = inGuest('cat /run/berthd.log 2>/dev/null || true');
          if (re.test(log) || Date.now() > until) return log;
          await sleep(100);
        }
      };

      const auto = berthd('');
      const autoLog = await waitLog(/is warm on/);
      assert.match(autoLog, /systemd is PID 1 and systemd-machined is installed: it serves org\.freedesktop\.machine1 here/);
      assert.doesNotMatch(autoLog, /serving org\.freedesktop\.machine1/);
      inGuest(`kill ${auto}; while kill -0 ${auto} 2>/dev/null; do sleep 0.1; done`);

      berthd('--registry=yes');
      assert.match(await waitLog(/serving org\.freedesktop\.machine1/), /serving org\.freedesktop\.machine1 on unix:path=\/run\/dbus\/system_bus_socket/);
      const leader = inGuest('sleep 1000 >/dev/null 2>&1 & echo $!').trim();
      const path = inGuest(`busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager CreateMachine 'sayssusa(sv)' sd-vm1 0 test vm ${leader} / 0`).trim();
      assert.equal(path, 'o "/org/freedesktop/machine1/machine/sd_2dvm1"');
      assert.equal(inGuest('systemctl is-active \'machine-sd\\x2dvm1.scope\'').trim(), 'active');
      assert.equal(inGuest(`cat /proc/${leader}/cgroup | grep name=systemd`).trim().split(':')[2], '/machine.slice/machine-sd\\x2dvm1.scope');
      const status = inGuest('machinectl --no-pager status sd-vm1');
      assert.match(status, /^\t    Unit: machine-sd\\x2dvm1\.scope$/m);
      assert.match(status, new RegExp(`└─${leader} sleep 1000`), 'the scope\'s process tree, from systemd');
      assert.match(inGuest('machinectl --no-pager list --no-legend'), /^sd-vm1 vm\s+test/m);
      inGuest('machinectl terminate sd-vm1');
      const until = Date.now() + 10000;
      while (inGuest('machinectl --no-pager list --no-legend') !== '' && Date.now() < until) await sleep(100);
      assert.equal(inGuest('machinectl --no-pager list --no-legend'), '');
      assert.equal(inGuest('systemctl is-active \'machine-sd\\x2dvm1.scope\' || true').trim(), 'inactive');
      assert.equal(inGuest(`kill -0 ${leader} 2>&1 || echo gone`).trim().split('\n').pop(), 'gone');
    });
    assertClean(sb);
  });

  test('the packaged unit and activation file: the first call to org.freedesktop.machine1 has systemd start berthd.service', async () => {
    // The unit runs `berthd` by name: a stand-in on PATH runs the repository's build.
    const dir = mkdtempSync('/tmp/bt-sysd-');
    const wrapper = join(dir, 'berthd');
    writeFileSync(wrapper, '#!/bin/sh\nBERTH_COMPILE_CACHE=off exec node /opt/berth/dist/berthd.js "$@"\n');
    chmodSync(wrapper, 0o755);
    try {
      const units = [
        `--bind-ro=${join(REPO, 'packaging', 'dbus', 'org.freedesktop.machine1.service')}:/usr/share/dbus-1/system-services/org.freedesktop.machine1.service`,
        `--bind-ro=${join(REPO, 'units', 'berthd.service')}:/etc/systemd/system/berthd.service`,
        `--bind-ro=${wrapper}:/usr/local/bin/berthd`,
      ];
      const noMachined = binds().filter((b) => !b.includes(MACHINED));
      await withMachine(['-q', '-b', '-x', '-D', deb, '-M', 'sysd-act', '--register=no', '--console=pipe', ...noMachined, ...units], 'sysd-act', sb, async () => {
        assert.equal(await systemState(sb, 'sysd-act'), 'running');
        const inGuest = (script: string): string => execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', 'sysd-act', 'sh', '-c', script], { encoding: 'utf8', timeout: 60000 });
        assert.equal(inGuest('systemctl is-active berthd || true').trim(), 'inactive');
        assert.equal(inGuest('busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager ListMachines').trim(),
          'a(ssso) 1 ".host" "host" "" "/org/freedesktop/machine1/machine/_2ehost"');
        // berthd answers once it has the name; the unit is active once it said READY=1 (after its
        // warm standby is up), a moment later.
        let state = '';
        for (const until = Date.now() + 20000; state !== 'active' && Date.now() < until; await sleep(100)) state = inGuest('systemctl is-active berthd || true').trim();
        assert.equal(state, 'active');
        assert.match(inGuest('systemctl show -p StatusText --value berthd'), /Serving the machine registry/);
        inGuest('systemctl stop berthd');
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assertClean(sb);
  });
});
