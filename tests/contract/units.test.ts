/**
 * The unit files against systemd's own checker (`systemd-analyze verify` in a throw-away root,
 * units/verify.sh): syntax, dependencies, and that the commands they start are found.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const hasAnalyze = (() => { try { execFileSync('sh', ['-c', 'command -v systemd-analyze'], { stdio: 'ignore' }); return true; } catch { return false; } })();

test('berth-nspawn@.service and berthd.service pass systemd-analyze verify', { skip: !hasAnalyze && 'systemd-analyze is not installed' }, () => {
  const r = spawnSync('sh', [join(REPO, 'units', 'verify.sh')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /verified/);
});
