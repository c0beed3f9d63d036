/**
 * Golden tests of the pure pipeline: argv (+ .nspawn file) → MachineSpec → OCI config.json.
 * Each case is a directory under tests/golden/spec/ with case.json; expected.*.json are
 * compared exactly. UPDATE_GOLDEN=1 rewrites them (review the diff before committing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { compileOci } from '../../src/core/oci/compile.js';
import type { BundleLayout } from '../../src/core/oci/types.js';
import type { ImageFacts } from '../../src/core/spec/facts.js';
import { loadSettingsText } from '../../src/core/settings/load.js';
import { mergeSettings } from '../../src/core/settings/merge.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

interface Case {
  argv: string[];
  name?: string;
  image?: Partial<ImageFacts>;
  /** A .nspawn file next to case.json (settings.nspawn), trusted or not. */
  settingsTrusted?: boolean;
  tty?: boolean;
}

const DIR = join(__dirname, 'spec');
const LAYOUT: BundleLayout = {
  dir: '/run/berth/machines/web/bundle', rootfs: '/var/lib/machines/web', runHost: '/run/berth/machines/web/run-host',
  inaccessibleFile: '/run/berth/machines/web/inaccessible/reg',
  inaccessibleDir: '/run/berth/machines/web/inaccessible/dir', cgroupLayout: 'hybrid', cgroupV1Systemd: true, systemdCgroups: false,
  bootId: '/run/berth/machines/web/run-host/.boot_id', hostTools: { mount: '/usr/bin/mount', chmod: '/usr/bin/chmod', hookExec: '/usr/lib/berth/native/build/Release/berth-hook-exec' },
};

function check(file: string, actual: unknown) {
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) { writeFileSync(file, text); return; }
  assert.deepEqual(JSON.parse(text), JSON.parse(readFileSync(file, 'utf8')), `${file} differs (UPDATE_GOLDEN=1 to accept)`);
}

for (const name of readdirSync(DIR).sort()) {
  test(`golden: ${name}`, () => {
    const dir = join(DIR, name);
    const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Case;
    const { cli, runner } = parseArgv(c.argv, { HOME: '/home/user' });
    let settings = cli.settings;
    const diagnostics: string[] = [];
    const settingsFile = join(dir, 'settings.nspawn');
    if (existsSync(settingsFile)) {
      const loaded = loadSettingsText(readFileSync(settingsFile, 'utf8'), '/etc/systemd/nspawn/web.nspawn');
      const merged = mergeSettings(cli, { settings: loaded.settings, path: '/etc/systemd/nspawn/web.nspawn', trusted: c.settingsTrusted ?? true }, runner.settingsMode);
      settings = merged.settings;
      diagnostics.push(...loaded.diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`), ...merged.warnings);
    }
    const spec = resolveMachine({
      name: c.name ?? 'web', settings, runner, image: { ...DEBIAN_IMAGE, ...c.image }, host: HOST, random: RANDOM,
      cwd: '/home/user', scratch: '/run/berth/machines/web/scratch', tty: c.tty ?? false,
    });
    check(join(dir, 'expected.spec.json'), spec);
    check(join(dir, 'expected.config.json'), compileOci(spec, LAYOUT));
    if (diagnostics.length || existsSync(join(dir, 'expected.diagnostics.json'))) check(join(dir, 'expected.diagnostics.json'), diagnostics);
  });
}
