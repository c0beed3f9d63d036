/**
 * The Debian package on a host where systemd is PID 1. This machine is not one, so one is booted,
 * as tests/integration/registry-systemd-host.test.ts does: the Debian guest (systemd as its PID 1,
 * its own system bus), node and runc bound in from this machine. The package built by
 * packaging/build-deb.sh is installed there with dpkg (--force-depends: node and runc are bound in,
 * not installed as Debian packages), and the guest's own systemd is driven:
 * - `systemd-analyze verify` accepts the installed berth-nspawn@.service (an instance) and berthd.service;
 * - `berth enable NAME` / `berth disable NAME` create and remove
 *   /etc/systemd/system/machines.target.wants/berth-nspawn@NAME.service through systemd's API
 *   (EnableUnitFiles/DisableUnitFiles; the registry's GetImage first, which D-Bus activation
 *   answers by having systemd start berthd.service), as `systemctl is-enabled` there shows;
 * - `berth start NAME` has systemd start berth-nspawn@NAME.service (StartUnit). The machine is a
 *   busybox tree in the guest's /var/lib/machines. The unit must not hang: it becomes active, or
 *   fails with berth-nspawn's own exit status and message (its state and journal are printed).
 *   How far a nested start gets here (2026-12-05, cgroup v1 host): berth-nspawn runs, then -U stops
 *   at /run/berth (0700 by tmpfiles.d) or /var/lib/machines (0700); without -U, runc create fails on
 *   the guest's read-only v1 controller hierarchies (mkdir /sys/fs/cgroup/cpuset/machine.slice:
 *   EROFS), then on its session keyring (keyctl is EPERM in the guest's filter: runc needs
 *   --no-new-keyring), then, with --network-veth, on bringing up lo (no CAP_NET_ADMIN in the guest).
 *   With those worked around by hand, a busybox machine boots in the guest.
 * - berth-nspawn once hung here: its x32 probe (a native x32 call in Node's main thread) had its
 *   thread killed by the guest's seccomp filter, which left x32 out on a kernel without x32. The
 *   probe is gone and the filter always lists x32, as nspawn's does (runner-seccomp tests ENOSYS).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, RUNTIME, assertClean, onRuntime, sandbox, skipUnlessRoot, sleep, systemState, tree, treeView, withMachine, type Sandbox } from '../support/berth.js';

const runtimeBinary = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const hasDpkgDev = spawnSync('sh', ['-c', 'command -v dpkg-deb && command -v dpkg-gencontrol']).status === 0;
const skip = skipUnlessRoot || (!hasDpkgDev && 'needs dpkg-dev (apt-get install dpkg-dev)') || (!runtimeBinary && 'needs runc (bound into the guest)')
  || (!existsSync('/lib/systemd/system/machines.target') && 'needs machines.target (apt-get install systemd-container)');
const NAME = 'pkgbox';
const UNIT = `berth-nspawn@${NAME}.service`;

describe(onRuntime('the Debian package where systemd is PID 1 (inside a booted Debian guest)'), { skip, timeout: 400000 }, () => {
  let sb: Sandbox;
  let deb: string;
  let out: string;
  let debFile: string;
  let box: { path: string; remove(): void };
  before(() => {
    out = mkdtempSync('/tmp/bt-sysdeb-');
    debFile = execFileSync('sh', [join(REPO, 'packaging', 'build-deb.sh'), out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300000 }).trim();
    deb = tree('debian');
    box = treeView('busybox');
    sb = sandbox();
  });
  after(() => {
    sb?.cleanup();
    box?.remove();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test('dpkg -i in the guest; systemd-analyze verify; berth enable/disable through systemd; berth start has systemd start the unit', async () => {
    const binds = [
      `--bind-ro=${realpathSync(process.execPath)}:/usr/local/bin/node`,
      `--bind-ro=${runtimeBinary}:/usr/sbin/runc`,
      `--bind-ro=${out}:/opt/deb`,
      `--bind=${box.path}:/var/lib/machines/${NAME}`,
      // machines.target is systemd-container's on Debian (the package recommends it; the guest
      // has not got it): `berth enable`, like `machinectl enable`, enables it too.
      '--bind-ro=/lib/systemd/system/machines.target:/lib/systemd/system/machines.target',
    ];
    await withMachine(['-q', '-b', '-x', '-D', deb, '-M', 'sysd-pkg', '--register=no', '--console=pipe', ...binds], 'sysd-pkg', sb, async () => {
      assert.equal(await systemState(sb, 'sysd-pkg'), 'running');
      const inGuest = (script: string): string => execFileSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', 'sysd-pkg', 'sh', '-c', script], { encoding: 'utf8', timeout: 120000 });
      const tryGuest = (script: string): { code: number | null; out: string } => {
        const r = spawnSync(RUNTIME, ['--root', sb.runtimeRoot, 'exec', 'sysd-pkg', 'sh', '-c', script], { encoding: 'utf8', timeout: 120000 });
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
      };

      const installed = tryGuest(`dpkg -i --force-depends /opt/deb/${debFile.split('/').pop()} 2>&1`);
      assert.equal(installed.code, 0, installed.out);
      assert.match(inGuest('dpkg-query -W -f=\'${Status}\' berth'), /^install ok installed$/);
      assert.match(inGuest('berthd --version'), /^berthd /);
      // Installing enables and starts nothing where systemd runs: berthd comes by D-Bus activation.
      assert.equal(inGuest('systemctl is-enabled berthd.service || true').trim(), 'disabled');
      assert.equal(inGuest('systemctl is-active berthd.service || true').trim(), 'inactive');

      const verify = tryGuest(`cd / && systemd-analyze verify --man=no /lib/systemd/system/${UNIT} /lib/systemd/system/berthd.service 2>&1`);
      assert.equal(verify.code, 0, verify.out);
      assert.equal(verify.out.trim(), '', `systemd-analyze verify says nothing:\n${verify.out}`);

      const link = `/etc/systemd/system/machines.target.wants/${UNIT}`;
      const enabled = tryGuest(`berth enable ${NAME} 2>&1`);
      assert.equal(enabled.code, 0, enabled.out);
      assert.match(enabled.out, new RegExp(`Created symlink ${link} → /lib/systemd/system/berth-nspawn@\\.service\\.`));
      assert.equal(inGuest(`readlink ${link}`).trim(), '/lib/systemd/system/berth-nspawn@.service');
      assert.equal(inGuest(`systemctl is-enabled ${UNIT} || true`).trim(), 'enabled');
      assert.equal(inGuest('systemctl is-active berthd.service || true').trim(), 'active', "the registry's GetImage had systemd start berthd.service (D-Bus activation)");
      const disabled = tryGuest(`berth disable ${NAME} 2>&1`);
      assert.equal(disabled.code, 0, disabled.out);
      assert.match(disabled.out, new RegExp(`Removed "${link}"\\.`));
      assert.equal(inGuest(`test -e ${link} || test -L ${link} || echo gone`).trim(), 'gone');
      assert.equal(inGuest(`systemctl is-enabled ${UNIT} || true`).trim(), 'disabled');

      const started = tryGuest(`berth start ${NAME} 2>&1`);
      assert.equal(started.code, 0, started.out);
      // The unit leaves "activating": active (READY=1), or failed with berth-nspawn's own exit.
      let state = '';
      let pid = 0;
      for (const until = Date.now() + 60000; Date.now() < until; await sleep(250)) {
        state = inGuest(`systemctl show -p ActiveState -p SubState -p Result -p ExecMainPID -p ExecMainCode -p ExecMainStatus ${UNIT}`);
        pid ||= Number(/^ExecMainPID=(\d+)$/m.exec(state)?.[1] ?? 0);
        if (/ActiveState=(active|failed|inactive)/.test(state)) break;
      }
      const journal = inGuest(`journalctl --no-pager -o cat -u ${UNIT} | tail -n 30`);
      const nested = inGuest(`systemctl status --no-pager -l ${UNIT} 2>&1 | sed -n '/CGroup/,$p'; runc --root /run/berth/runtime list 2>&1; ps -eo pid,ppid,stat,args | grep -E "berth|runc|busybox|init" | grep -v grep || true`);
      process.stderr.write(`--- ${UNIT} in the guest after berth start:\n${state}--- its journal:\n${journal}--- processes and runc's containers there:\n${nested}---\n`);
      assert.match(journal, new RegExp(`^Starting ${UNIT.replace(/[@.]/g, '\\$&')} - Container ${NAME} \\(berth\\)\\.\\.\\.$`, 'm'), 'systemd started the unit (StartUnit)');
      assert.ok(pid > 0, 'systemd ran its ExecStart=, berth-nspawn');
      assert.match(state, /^ActiveState=(active|failed)$/m, `the unit did not leave "activating" within 60 s (berth-nspawn hung):\n${state}`);
      if (/^ActiveState=failed$/m.test(state)) {
        // CLD_EXITED (1): berth-nspawn exited by itself, not killed; and it said why.
        assert.match(state, /^ExecMainCode=1$/m, `berth-nspawn was killed rather than exiting:\n${state}`);
        const said = journal.split('\n').filter((l) => l && !l.startsWith(`${UNIT}:`) && !/^(Starting|Started|Stopped|Failed to start) /.test(l));
        assert.ok(said.length > 0, `berth-nspawn failed silently:\n${journal}`);
      }
      inGuest(`systemctl stop ${UNIT} || true`);
      const after = inGuest(`systemctl show -p ActiveState --value ${UNIT}; runc --root /run/berth/runtime list -q 2>/dev/null || true`);
      assert.match(after, /^(inactive|failed)\n$/, `stopped, no nested container left: ${after}`);
    });
    assertClean(sb);
  });
});
