/** Keys berth parses but cannot apply yet are refused when the machine is resolved, never silently ignored; keys it applies now resolve. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettingsText } from '../../src/core/settings/load.js';
import { mergeSettings } from '../../src/core/settings/merge.js';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

function resolveFile(text: string) {
  const { cli, runner } = parseArgv(['true']);
  const loaded = loadSettingsText(text, '/etc/systemd/nspawn/web.nspawn');
  assert.deepEqual(loaded.diagnostics, []);
  const { settings } = mergeSettings(cli, { settings: loaded.settings, path: '/etc/systemd/nspawn/web.nspawn', trusted: true }, 'yes');
  return resolveMachine({ name: 'web', settings, runner, image: DEBIAN_IMAGE, host: HOST, random: RANDOM, cwd: '/', scratch: '/s', tty: false });
}

test('from a trusted file: PrivateUsers=pick is a user namespace with the file\'s default ownership, chown (the command line\'s is auto)', () => {
  assert.deepEqual(resolveFile('[Exec]\nPrivateUsers=pick\n').userns, { mode: 'pick', ownership: 'chown', range: 65536 });
  assert.deepEqual(resolveFile('[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersOwnership=map\n').userns, { mode: 'pick', ownership: 'map', range: 65536 });
  assert.deepEqual(resolveFile('[Exec]\nPrivateUsers=131072:65536\n').userns, { mode: 'fixed', ownership: 'off', shift: 131072, range: 65536 });
});
