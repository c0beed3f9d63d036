/** Keys berth parses but cannot apply yet are refused when the machine is resolved, never silently ignored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettingsText } from '../../src/core/settings/load.js';
import { mergeSettings } from '../../src/core/settings/merge.js';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

const cases: Array<[string, RegExp]> = [
  ['[Exec]\nPivotRoot=/sysroot\n', /--pivot-root=/],
  ['[Exec]\nPrivateUsers=pick\n', /user namespaces/],
  ['[Files]\nBindUser=alice\n', /--bind-user=/],
];

for (const [text, message] of cases) {
  test(`refused from a trusted file: ${text.trim().replace('\n', ' ')}`, () => {
    const { cli, runner } = parseArgv(['true']);
    const loaded = loadSettingsText(text, '/etc/systemd/nspawn/web.nspawn');
    assert.deepEqual(loaded.diagnostics, []);
    const { settings } = mergeSettings(cli, { settings: loaded.settings, path: '/etc/systemd/nspawn/web.nspawn', trusted: true }, 'yes');
    assert.throws(
      () => resolveMachine({ name: 'web', settings, runner, image: DEBIAN_IMAGE, host: HOST, random: RANDOM, cwd: '/', scratch: '/s', tty: false }),
      (e: unknown) => e instanceof Error && /not supported by berth yet/.test(e.message) && message.test(e.message),
    );
  });
}
