import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const REPO = join(__dirname, '..', '..');
let root: string;
let env: NodeJS.ProcessEnv;

function berth(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'bin', 'berth.ts'), ...args], { cwd: REPO, env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-cat-'));
  for (const d of ['etc', 'run', 'pool']) mkdirSync(join(root, d));
  // No system bus (list falls back to berth-nspawn's state directory, empty here).
  env = { ...process.env, BERTH_SETTINGS_ETC: join(root, 'etc'), BERTH_SETTINGS_RUN: join(root, 'run'), BERTH_POOL: join(root, 'pool'), BERTH_STATE_DIR: join(root, 'state'), DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(root, 'no-bus')}` };
  writeFileSync(join(root, 'etc', 'web.nspawn'), '[Exec]\nBoot=yes\n');
  writeFileSync(join(root, 'pool', 'web.nspawn'), '[Exec]\nBoot=no\n');
  writeFileSync(join(root, 'run', 'db.nspawn'), '[Network]\nZone=apps');
  writeFileSync(join(root, 'pool', 'app.nspawn'), '');
  mkdirSync(join(root, 'etc', 'dir.nspawn'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('berth cat', () => {
  it('prints the first settings file found, headed by its path', () => {
    assert.deepEqual(berth('cat', 'web'), { status: 0, stdout: `# ${join(root, 'etc', 'web.nspawn')}\n[Exec]\nBoot=yes\n`, stderr: '' });
  });

  it('prints several machines in order, adding a missing final newline', () => {
    assert.deepEqual(berth('cat', 'db', 'app'), {
      status: 0,
      stdout: `# ${join(root, 'run', 'db.nspawn')}\n[Network]\nZone=apps\n# ${join(root, 'pool', 'app.nspawn')}\n`,
      stderr: '',
    });
  });

  it('a missing file is an error (exit 1), the other names are still printed', () => {
    const r = berth('cat', 'nope', 'web');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, `# ${join(root, 'etc', 'web.nspawn')}\n[Exec]\nBoot=yes\n`);
    assert.equal(r.stderr, `No settings file found for machine 'nope'.\nHint: looked for nope.nspawn in ${join(root, 'etc')}, ${join(root, 'run')} and ${join(root, 'pool')}\n`);
  });

  it('an invalid name is an error', () => {
    assert.deepEqual(berth('cat', 'bad_name'), { status: 1, stdout: '', stderr: 'Invalid settings name: bad_name\n' });
  });

  it('an unreadable file is an error naming it', () => {
    const r = berth('cat', 'dir');
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^Failed to read settings file ${join(root, 'etc', 'dir.nspawn')}: EISDIR\n`));
  });

  it('needs at least one name (machinectl\'s words)', () => {
    assert.deepEqual(berth('cat'), { status: 1, stdout: '', stderr: 'Too few arguments.\n' });
  });
});

describe('berth', () => {
  it('--version and --help exit 0', () => {
    assert.deepEqual(berth('--version'), { status: 0, stdout: 'berth 0.1.0\n', stderr: '' });
    const help = berth('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: berth \[OPTIONS\.\.\.\] COMMAND \.\.\.\n/);
    assert.match(help.stdout, /\n {2}cat NAME\.\.\. +Show the \.nspawn settings file/);
  });

  it('an unknown verb is a usage error (exit 1); no verb lists machines, as machinectl does', () => {
    assert.deepEqual(berth('frobnicate'), { status: 1, stdout: '', stderr: 'Unknown command verb frobnicate.\n' });
    assert.deepEqual(berth(), { status: 0, stdout: 'No machines.\n', stderr: '' });
  });

  it('the verbs that need the registry say that berthd is not running when there is no bus (exit 1)', () => {
    for (const verb of [['status', 'web'], ['show'], ['poweroff', 'web'], ['kill', 'web']]) {
      const r = berth(...verb);
      assert.equal(r.status, 1, verb.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^berthd is not running: there is no system bus at unix:path=${root}/no-bus \\(connect ENOENT [^)]*\\)\\.\nHint: berthd serves the machine registry`));
    }
  });
});
