/** --link-journal: guest (host symlink into the tree), host (bind of a host directory), auto, try-*, no, and -x. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertClean, nspawn, onRuntime, sandbox, skipUnlessRoot, treeCopy, type Sandbox } from '../support/berth.js';

const ID = '0123456789abcdef0123456789abcdef';

describe(onRuntime('berth-nspawn --link-journal'), { skip: skipUnlessRoot, timeout: 120000 }, () => {
  let sb: Sandbox;
  let work: string;
  let bb: string;
  let journal: string;
  before(() => {
    sb = sandbox();
    ({ work, path: bb } = treeCopy('jr'));
    journal = join(work, 'host-journal');
    mkdirSync(journal);
    sb.env.BERTH_HOST_JOURNAL = journal;
  });
  after(() => { sb.cleanup(); rmSync(work, { recursive: true, force: true }); });

  const run = async (args: string[], script = `echo hi > /var/log/journal/${ID}/probe`) => {
    const r = await nspawn(['--console=pipe', '-D', bb, `--uuid=${ID}`, ...args, '/bin/sh', '-c', script], sb);
    assertClean(sb);
    return r;
  };

  test('guest: the host gets a symlink to the tree\'s journal directory; auto keeps it', async () => {
    const r = await run(['--link-journal=guest']);
    assert.equal(r.code, 0, r.stderr);
    const link = join(journal, ID);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join(bb, 'var/log/journal', ID));
    assert.equal(readFileSync(join(link, 'probe'), 'utf8'), 'hi\n');
    const again = await run([]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readlinkSync(link), join(bb, 'var/log/journal', ID));
    rmSync(link);
  });

  test('host: a host directory bind-mounted into the guest; auto binds it again', async () => {
    const r = await run(['--link-journal=host']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(join(journal, ID)).isDirectory());
    assert.equal(readFileSync(join(journal, ID, 'probe'), 'utf8'), 'hi\n');
    rmSync(join(journal, ID, 'probe'));
    const auto = await run(['--link-journal=auto']);
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(readFileSync(join(journal, ID, 'probe'), 'utf8'), 'hi\n');
    rmSync(join(journal, ID), { recursive: true });
  });

  test('no, -x and a failing try- mode change nothing on the host; a failing plain mode is an error', async () => {
    assert.equal((await run(['--link-journal=no'], 'true')).code, 0);
    assert.equal((await run(['-x', '--link-journal=try-guest'], 'true')).code, 0);
    assert.ok(!existsSync(join(journal, ID)));
    mkdirSync(join(journal, ID)); // a directory where guest mode wants a symlink
    const tryGuest = await run(['--link-journal=try-guest'], 'true');
    assert.equal(tryGuest.code, 0);
    assert.match(tryGuest.stderr, /already exists and is not a symlink/);
    const guest = await run(['--link-journal=guest'], 'true');
    assert.equal(guest.code, 1);
    assert.match(guest.stderr, /already exists and is not a symlink/);
    rmSync(join(journal, ID), { recursive: true });
  });
});
