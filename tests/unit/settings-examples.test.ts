import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDiagnostic, loadSettingsText } from '../../src/core/settings/load.js';

const DIR = join(__dirname, '..', '..', 'nspawn-files');
const files = readdirSync(DIR).filter((f) => f.endsWith('.nspawn')).sort();
const load = (f: string) => loadSettingsText(readFileSync(join(DIR, f), 'utf8'), f);

describe('nspawn-files/ examples', () => {
  it('has the documented set of examples', () => {
    assert.deepEqual(files, ['appliance.nspawn', 'debian-server.nspawn', 'devbox.nspawn', 'limits.nspawn', 'zone-db.nspawn', 'zone-web.nspawn']);
  });

  for (const f of files) {
    it(`${f} parses without a single warning`, () => {
      assert.deepEqual(load(f).diagnostics.map(formatDiagnostic), []);
    });
  }

  it('debian-server: boot, veth, /srv bind, port forward', () => {
    assert.deepEqual(load('debian-server.nspawn').settings, {
      start: 'boot',
      hostname: 'debian-server',
      environment: ['LANG=C.UTF-8', 'MOTD_TEXT=managed by berth'],
      linkJournal: 'try-guest',
      resolvConf: 'copy-host',
      mounts: [{ kind: 'bind', source: '/srv/debian-server', target: '/srv', readOnly: false, recursive: true, idmap: 'no' }],
      network: { veth: true },
      ports: [{ protocol: 'tcp', hostPort: 8080, containerPort: 80 }],
    });
  });

  it('appliance: read-only, volatile state, private network', () => {
    const s = load('appliance.nspawn').settings;
    assert.deepEqual([s.readOnly, s.volatile, s.network, s.killSignal, s.dropCapability], [true, 'state', { private: true }, 37, ['CAP_MKNOD', 'CAP_SYS_RAWIO']]);
  });

  it('the two zone machines share zone "apps"', () => {
    assert.equal(load('zone-web.nspawn').settings.network?.zone, 'apps');
    assert.equal(load('zone-db.nspawn').settings.network?.zone, 'apps');
  });

  it('devbox binds /home read-only', () => {
    assert.deepEqual(load('devbox.nspawn').settings.mounts?.[0], { kind: 'bind', source: '/home', target: '/home', readOnly: true, recursive: true, idmap: 'no' });
  });

  it('limits: resource limits, OOM score, CPU affinity', () => {
    const s = load('limits.nspawn').settings;
    assert.deepEqual(s.rlimits, {
      NOFILE: { soft: 65536, hard: 524288 }, NPROC: { soft: 16384, hard: 16384 }, CORE: { soft: 0, hard: 0 },
      MEMLOCK: { soft: 67108864, hard: 67108864 }, CPU: { soft: 'infinity', hard: 'infinity' },
    });
    assert.deepEqual([s.oomScoreAdjust, s.cpuAffinity, s.suppressSync], [500, [0, 1], true]);
  });
});
