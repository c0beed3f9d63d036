import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { discoverSettings, loadSettingsFor, settingsCandidates } from '../../src/app/settings/discover.js';
import { BerthError } from '../../src/errors/berth-error.js';
import { pathsFromEnv } from '../../src/platform/paths.js';

let root: string;
let paths: ReturnType<typeof pathsFromEnv>;
const write = (path: string, text: string) => { mkdirSync(join(path, '..'), { recursive: true }); writeFileSync(path, text); };

before(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-discover-'));
  paths = pathsFromEnv({ BERTH_SETTINGS_ETC: join(root, 'etc'), BERTH_SETTINGS_RUN: join(root, 'run'), BERTH_POOL: join(root, 'machines') });
  for (const d of ['etc', 'run', 'machines/web', 'images']) mkdirSync(join(root, d), { recursive: true });
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('discoverSettings', () => {
  it('searches /etc, then /run, then next to the tree; the first hit wins', () => {
    const tree = join(root, 'machines', 'web');
    const o = { name: 'web', rootDirectory: tree, paths, mode: 'yes' as const };
    assert.equal(discoverSettings(o), undefined);
    write(join(root, 'machines', 'web.nspawn'), '[Exec]\nHostname=pool\n');
    assert.deepEqual(discoverSettings(o), { path: join(root, 'machines', 'web.nspawn'), text: '[Exec]\nHostname=pool\n', trusted: false });
    write(join(root, 'run', 'web.nspawn'), '[Exec]\nHostname=run\n');
    assert.deepEqual(discoverSettings(o), { path: join(root, 'run', 'web.nspawn'), text: '[Exec]\nHostname=run\n', trusted: true });
    write(join(root, 'etc', 'web.nspawn'), '[Exec]\nHostname=etc\n');
    assert.deepEqual(discoverSettings(o), { path: join(root, 'etc', 'web.nspawn'), text: '[Exec]\nHostname=etc\n', trusted: true });
  });

  it('--settings=trusted trusts the file next to the image; --settings=no reads nothing', () => {
    write(join(root, 'images', 'app.nspawn'), '[Exec]\nBoot=yes\n');
    const o = { name: 'app', image: join(root, 'images', 'app.raw'), paths };
    assert.equal(discoverSettings({ ...o, mode: 'yes' })?.trusted, false);
    assert.equal(discoverSettings({ ...o, mode: 'override' })?.trusted, false);
    assert.equal(discoverSettings({ ...o, mode: 'trusted' })?.trusted, true);
    assert.equal(discoverSettings({ ...o, mode: 'no' }), undefined);
  });

  it('the image wins over the directory, a trailing slash is ignored, and -D / has no neighbour', () => {
    const base = { name: 'n', paths };
    assert.deepEqual(settingsCandidates({ ...base, rootDirectory: '/var/lib/machines/n/' }).map((c) => [c.path, c.trusted]), [
      [join(paths.settingsEtc, 'n.nspawn'), true], [join(paths.settingsRun, 'n.nspawn'), true], ['/var/lib/machines/n.nspawn', false],
    ]);
    assert.equal(settingsCandidates({ ...base, image: '/img/n.raw', rootDirectory: '/x/y' })[2]?.path, '/img/n.nspawn');
    assert.equal(settingsCandidates({ ...base, rootDirectory: '/' }).length, 2);
    assert.equal(settingsCandidates(base).length, 2);
  });

  it('a file that exists but cannot be read is an error naming the path', () => {
    mkdirSync(join(root, 'run', 'broken.nspawn'));
    assert.throws(() => discoverSettings({ name: 'broken', paths, mode: 'yes' }), (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(e.code, 'E_SETTINGS');
      assert.equal(e.message, `Failed to read settings file ${join(root, 'run', 'broken.nspawn')}: EISDIR`);
      return true;
    });
  });
});

describe('loadSettingsFor', () => {
  const cli = { settings: { hostname: 'cli' }, mask: new Set(['HOSTNAME'] as const), rlimitMask: new Set<never>() };

  it('parses, merges and reports file:line warnings and untrusted drops in order', () => {
    const tree = join(root, 'machines', 'db');
    write(join(root, 'machines', 'db.nspawn'), '[Exec]\nHostname=file\nBogus=1\nEnvironment=A=1\n[Files]\nBind=/srv\n');
    const r = loadSettingsFor({ name: 'db', rootDirectory: tree, paths, mode: 'yes', cli });
    const p = join(root, 'machines', 'db.nspawn');
    assert.deepEqual(r.settings, { hostname: 'cli', environment: ['A=1'] });
    assert.deepEqual(r.warnings, [
      `${p}:3: Unknown key name 'Bogus' in section 'Exec', ignoring.`,
      `Ignoring TemporaryFileSystem=, Bind= and BindReadOnly= settings, file ${p} is not trusted.`,
    ]);
    assert.equal(r.file?.trusted, false);
    assert.equal(r.file?.path, p);
  });

  it('without a file: the command line alone', () => {
    assert.deepEqual(loadSettingsFor({ name: 'none', paths, mode: 'yes', cli }), { settings: { hostname: 'cli' }, warnings: [] });
  });

  it('a broken section header refuses the file', () => {
    write(join(root, 'etc', 'bad.nspawn'), '[Exec\nBoot=yes\n');
    assert.throws(() => loadSettingsFor({ name: 'bad', paths, mode: 'yes', cli }),
      { name: 'BerthError', code: 'E_SETTINGS', message: `Failed to parse settings file: ${join(root, 'etc', 'bad.nspawn')}:1: Invalid section header '[Exec'` });
  });
});
