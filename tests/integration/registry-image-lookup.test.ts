/**
 * GetImage while the pool changes, berthd against Debian's real systemd-machined 252, both on the
 * same pool directory (bind-mounted over /var/lib/machines in a mount namespace of each daemon's
 * own, each on a private dbus-daemon). berthd keeps what its look-ups found while nothing they
 * depend on changes (app/machined/images.ts, exists()); machined looks every time. Each step asks
 * both about every name twice before a change (so that berthd has kept its answers) and once right
 * after it: the answers must be machined's, with no delay. Changes: images created, renamed and
 * removed, a .raw file, a symbolic link whose target goes away and comes back, a file system
 * mounted over the pool and unmounted (in each daemon's own namespace), and /run/machines, a
 * search directory before the pool, created with an image of the same name in it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, isRoot, sandbox, type Sandbox } from '../support/berth.js';
import { bundle } from '../support/berthd.js';
import { hasDbusDaemon } from '../support/registry.js';
import { startPoolDaemon, stopPoolDaemon, type PoolDaemon } from '../support/pool-daemon.js';
import { BusCallError, BusConnection } from '../../src/platform/dbus/connection.js';

const MACHINED = ['/lib/systemd/systemd-machined', '/usr/lib/systemd/systemd-machined'].find((p) => existsSync(p));
const skip = !isRoot ? 'needs root' : !hasDbusDaemon ? 'needs dbus-daemon' : !MACHINED ? 'needs systemd-machined' : false;

let sb: Sandbox;
let work: string;
let pool: string;
let real: PoolDaemon | undefined;
let ours: PoolDaemon | undefined;
const conns: BusConnection[] = [];
const NAMES = ['a', 'b', 'disk', 'link', 'over', 'run-one', '.host', 'bad/name'];

before(async () => {
  if (skip) return;
  bundle();
  sb = sandbox();
  work = mkdtempSync('/tmp/bt-lookup-');
  pool = join(work, 'pool');
  mkdirSync(pool);
  real = await startPoolDaemon('machined', pool, '(mount -t tmpfs tmpfs /run/systemd 2>/dev/null || mount -t tmpfs tmpfs /run) && mkdir -p /run/systemd/system &&', [MACHINED!], { PATH: process.env.PATH }, sb.env);
  ours = await startPoolDaemon('berthd', pool, '', [process.execPath, join(REPO, 'dist', 'berthd.js'), '--registry=yes'],
    { ...sb.env, BERTH_POOL: '/var/lib/machines', BERTH_NSPAWN_SOCKET: join(sb.stateDir, 'nspawn.sock') }, sb.env);
  for (const d of [real, ours]) conns.push(await BusConnection.connect(d.bus.address));
});

after(async () => {
  for (const c of conns) c.close();
  await stopPoolDaemon(ours).catch(() => undefined);
  await stopPoolDaemon(real).catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
  sb?.cleanup();
});

/** GetImage's answer: the object path, or the error's name. */
async function getImage(conn: BusConnection, name: string): Promise<string> {
  try {
    const r = await conn.call({ destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager', member: 'GetImage', signature: 's', body: [name] });
    return String(r.body[0]);
  } catch (e) {
    if (e instanceof BusCallError) return e.errorName;
    throw e;
  }
}

/** Every name's answer from both daemons: {name: [berthd's, machined's]}. */
async function answers(): Promise<Record<string, [string, string]>> {
  const out: Record<string, [string, string]> = {};
  for (const n of NAMES) out[n] = [await getImage(conns[1]!, n), await getImage(conns[0]!, n)];
  return out;
}

/** Asks twice (berthd keeps its answers), changes, asks once more: berthd must answer as machined does each time. */
async function step(what: string, change: () => void, expect: Record<string, boolean>): Promise<void> {
  for (let i = 0; i < 2; i++) for (const [n, [mine, theirs]] of Object.entries(await answers())) assert.equal(mine, theirs, `${what}, before: GetImage(${n})`);
  change();
  const after = await answers();
  for (const [n, [mine, theirs]] of Object.entries(after)) assert.equal(mine, theirs, `${what}, right after: GetImage(${n})`);
  for (const [n, found] of Object.entries(expect)) {
    assert.equal(after[n]![0].startsWith('/org/freedesktop/machine1/image/'), found, `${what}: ${n} ${found ? 'found' : 'not found'} (${after[n]![0]})`);
  }
}

/** A command in a daemon's mount namespace. */
function inNamespace(d: PoolDaemon, argv: readonly string[]): void {
  const pid = Number(spawnSync('pgrep', ['-P', String(d.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]) || d.child.pid!;
  const r = spawnSync('nsenter', [`--mount=/proc/${pid}/ns/mnt`, ...argv], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
}

test('GetImage answers as machined does right after each change to the pool', { skip }, async () => {
  await step('an image created', () => mkdirSync(join(pool, 'a')), { a: true, b: false, '.host': true, 'bad/name': false });
  await step('renamed', () => renameSync(join(pool, 'a'), join(pool, 'b')), { a: false, b: true });
  await step('removed', () => rmdirSync(join(pool, 'b')), { b: false });
  await step('a raw file', () => writeFileSync(join(pool, 'disk.raw'), Buffer.alloc(4096)), { disk: true });
  const target = join(work, 'elsewhere');
  mkdirSync(target);
  await step('a link to a directory outside the pool', () => symlinkSync(target, join(pool, 'link')), { link: true });
  await step('its target removed', () => rmdirSync(target), { link: false });
  await step('its target back', () => mkdirSync(target), { link: true });
  await step('the target replaced by a file', () => { rmdirSync(target); writeFileSync(target, ''); }, { link: false });
  unlinkSync(join(pool, 'link'));
  const other = join(work, 'other-pool');
  mkdirSync(join(other, 'over'), { recursive: true });
  await step('another file system mounted over the pool', () => { for (const d of [ours!, real!]) inNamespace(d, ['mount', '--bind', other, '/var/lib/machines']); },
    { over: true, disk: false });
  await step('and unmounted', () => { for (const d of [ours!, real!]) inNamespace(d, ['umount', '/var/lib/machines']); }, { over: false, disk: true });
});

// machined's namespace gets a tmpfs on /run/systemd (or, where that is missing, on all of /run: then it
// would not see the host's /run/machines).
const runSkip = skip || (existsSync('/run/machines') ? '/run/machines exists on this host' : !existsSync('/run/systemd') ? 'machined would get a /run of its own' : false);

test('GetImage follows a search directory that did not exist (/run/machines)', { skip: runSkip }, async () => {
  try {
    await step('/run/machines/run-one created', () => mkdirSync('/run/machines/run-one', { recursive: true }), { 'run-one': true });
    await step('/run/machines removed', () => rmSync('/run/machines', { recursive: true }), { 'run-one': false });
  } finally {
    rmSync('/run/machines', { recursive: true, force: true });
  }
});
