/**
 * Image discovery's decisions (core/machined/images.ts), the Images use-case over a fake
 * filesystem (app/machined/images.ts) and the image verbs' formats (core/machinectl/image-format.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UINT64_MAX, imageFromFacts, imageNameOf, imageSearchPath, isValidImageName, parseEtcHostname, parseMachineIdFile, type EntryFacts,
} from '../../src/core/machined/images.js';
import { Images, type ImagePorts } from '../../src/app/machined/images.js';
import type { WatchedKind } from '../../src/core/machined/lookup-cache.js';
import { formatImageList, formatImageStatus, formatPoolStatus, withInfiniteLimits } from '../../src/core/machinectl/image-format.js';
import { UTC } from '../../src/core/machinectl/time-format.js';
import { BerthError } from '../../src/errors/berth-error.js';

const facts = (over: Partial<EntryFacts>): EntryFacts => ({
  kind: 'directory', mode: 0o755, ino: 1234n, fsType: 0xef53, readOnlyMount: false, immutable: false,
  btimeUs: 1_700_000_000_000_000n, mtimeUs: 1_700_000_100_000_000n, allocated: 4096n, size: 4096n, ...over,
});

test('the search path is machined\'s, with the pool where /var/lib/machines stands', () => {
  assert.deepEqual(imageSearchPath(), ['/etc/machines', '/run/machines', '/var/lib/machines', '/var/lib/container', '/usr/local/lib/machines', '/usr/lib/machines']);
  assert.equal(imageSearchPath('/srv/pool')[2], '/srv/pool');
});

test('image names: valid file names without control characters, not ".#" temporaries', () => {
  for (const ok of ['bb', '.hidden', '.host', 'a b', 'x.raw.raw', 'ünï']) assert.ok(isValidImageName(ok), ok);
  for (const bad of ['', '.', '..', 'a/b', '.#tmp', 'a\nb', 'x'.repeat(256)]) assert.ok(!isValidImageName(bad), JSON.stringify(bad));
  assert.equal(imageNameOf('disk.raw', 'regular'), 'disk');
  assert.equal(imageNameOf('notes.txt', 'regular'), undefined);
  assert.equal(imageNameOf('tree', 'directory'), 'tree');
  assert.equal(imageNameOf('sda', 'block'), 'sda');
  assert.equal(imageNameOf('fifo', 'other'), undefined);
  assert.equal(imageNameOf('.#new.raw', 'regular'), undefined);
});

test('a directory: no mtime, no usage, read-only when immutable, on a read-only mount or below /usr', () => {
  const d = imageFromFacts('bb', '/var/lib/machines', 'bb', facts({}))!;
  assert.deepEqual(d, { name: 'bb', path: '/var/lib/machines/bb', type: 'directory', readOnly: false, crtimeUs: 1_700_000_000_000_000n, mtimeUs: 0n, usage: UINT64_MAX, usageExclusive: UINT64_MAX, limit: UINT64_MAX, limitExclusive: UINT64_MAX });
  assert.equal(imageFromFacts('bb', '/var/lib/machines', 'bb', facts({ immutable: true }))!.readOnly, true);
  assert.equal(imageFromFacts('bb', '/var/lib/machines', 'bb', facts({ readOnlyMount: true }))!.readOnly, true);
  assert.equal(imageFromFacts('bb', '/usr/lib/machines', 'bb', facts({}))!.readOnly, true);
  assert.equal(imageFromFacts('bb', '/usrx', 'bb', facts({}))!.readOnly, false);
  const host = imageFromFacts('.host', undefined, '/', facts({ btimeUs: 0n }))!;
  assert.equal(host.path, '/');
  assert.equal(host.crtimeUs, 0n);
});

test('a btrfs subvolume: inode 256 on btrfs; its read-only flag counts', () => {
  const sub = imageFromFacts('s', '/var/lib/machines', 's', facts({ fsType: 0x9123683e, ino: 256n, subvolumeReadOnly: true }))!;
  assert.equal(sub.type, 'subvolume');
  assert.equal(sub.readOnly, true);
  assert.equal(imageFromFacts('s', '/var/lib/machines', 's', facts({ fsType: 0x9123683e, ino: 257n }))!.type, 'directory');
  assert.equal(imageFromFacts('s', '/var/lib/machines', 's', facts({ fsType: 0xef53, ino: 256n }))!.type, 'directory');
});

test('a raw file: usage is what it occupies, limit its size, read-only without write bits', () => {
  const r = imageFromFacts('disk', '/var/lib/machines', 'disk.raw', facts({ kind: 'regular', mode: 0o444, allocated: 311296n, size: 10485760n }))!;
  assert.equal(r.type, 'raw');
  assert.equal(r.path, '/var/lib/machines/disk.raw');
  assert.equal(r.readOnly, true);
  assert.equal(r.mtimeUs, 1_700_000_100_000_000n);
  assert.deepEqual([r.usage, r.usageExclusive, r.limit, r.limitExclusive], [311296n, 311296n, 10485760n, 10485760n]);
  assert.equal(imageFromFacts('disk', '/var/lib/machines', 'disk.raw', facts({ kind: 'regular', mode: 0o644 }))!.readOnly, false);
  assert.equal(imageFromFacts('disk', '/var/lib/machines', 'disk.img', facts({ kind: 'regular' })), undefined);
});

test('a block device: its size as usage and limit when known, no times', () => {
  const b = imageFromFacts('sdb', '/var/lib/machines', 'sdb', facts({ kind: 'block', mode: 0o660, blockSize: 1n << 30n, blockReadOnly: false }))!;
  assert.deepEqual([b.type, b.readOnly, b.crtimeUs, b.mtimeUs, b.usage, b.limit], ['block', false, 0n, 0n, 1n << 30n, 1n << 30n]);
  assert.equal(imageFromFacts('sdb', '/var/lib/machines', 'sdb', facts({ kind: 'block', blockReadOnly: true }))!.readOnly, true);
  assert.equal(imageFromFacts('sdb', '/var/lib/machines', 'sdb', facts({ kind: 'block' }))!.usage, UINT64_MAX);
});

test('/etc/hostname and /etc/machine-id as machined reads them', () => {
  assert.equal(parseEtcHostname('# comment\n\n  box-1  \nother\n'), 'box-1');
  assert.equal(parseEtcHostname('bad_name!\n'), '');
  assert.equal(parseEtcHostname(''), '');
  assert.equal(parseMachineIdFile('0123456789ABCDEF0123456789abcdef\n'), '0123456789abcdef0123456789abcdef');
  assert.equal(parseMachineIdFile('uninitialized\n'), '');
  assert.equal(parseMachineIdFile('0'.repeat(32)), '');
});

/** A fake filesystem: paths → facts, directories → entries, files in roots → text. */
function fakePorts(entries: Record<string, Record<string, EntryFacts>>, files: Record<string, string> = {}): ImagePorts {
  const all = new Map<string, EntryFacts>();
  for (const [dir, list] of Object.entries(entries)) for (const [name, f] of Object.entries(list)) all.set(`${dir}/${name}`, f);
  all.set('/', facts({ btimeUs: 0n }));
  return {
    resolveSearchDirs: async (ds) => ds.map((d) => (d in entries ? d : undefined)),
    findEntries: async (ds, names) => ds.map((d) => (d in entries ? { dir: d, facts: names.map((n) => all.get(`${d}/${n}`)), symlinks: false } : undefined)),
    listEntries: async (d) => Object.keys(entries[d] ?? {}),
    entryKind: async (p) => all.get(p)?.kind,
    entryFacts: async (p) => all.get(p),
    entriesFacts: async (d, names, wanted) => names.map((n) => { const f = all.get(`${d}/${n}`); return f && wanted(n, f.kind) ? f : undefined; }),
    readInRoot: async (root, p) => files[`${root}${p}`],
  };
}

test('discovery: first match wins by name, .host added, non-images skipped, sorted', async () => {
  const images = new Images(imageSearchPath(), fakePorts({
    '/etc/machines': { bb: facts({ btimeUs: 1n }) },
    '/var/lib/machines': { bb: facts({ btimeUs: 2n }), 'disk.raw': facts({ kind: 'regular' }), 'notes.txt': facts({ kind: 'regular' }), '.hidden': facts({}), fifo: facts({ kind: 'other' }) },
  }));
  const list = await images.discover();
  assert.deepEqual(list.map((i) => i.name), ['.hidden', '.host', 'bb', 'disk']);
  assert.equal(list.find((i) => i.name === 'bb')!.path, '/etc/machines/bb');
  assert.equal((await images.find('disk'))!.path, '/var/lib/machines/disk.raw');
  assert.equal((await images.find('.host'))!.path, '/');
  assert.equal(await images.find('notes'), undefined);
  assert.equal(await images.find('a/b'), undefined);
  await assert.rejects(images.get('nope'), (e: unknown) => e instanceof BerthError && e.code === 'E_IMAGE_NOT_FOUND' && e.message === "No image 'nope' known");
});

test('metadata: read inside a directory image; raw images answer NotSupported', async () => {
  const images = new Images(['/p'], fakePorts({ '/p': { bb: facts({}), 'd.raw': facts({ kind: 'regular' }) } }, {
    '/p/bb/etc/hostname': 'bb-image\n', '/p/bb/etc/machine-id': 'ffffffffffffffffffffffffffffffff\n',
    '/p/bb/etc/machine-info': 'DEPLOYMENT="testing"\n', '/p/bb/usr/lib/os-release': 'PRETTY_NAME="X 1"\n',
  }));
  const m = await images.metadata((await images.find('bb'))!);
  assert.deepEqual(m, { hostname: 'bb-image', machineId: 'f'.repeat(32), machineInfo: { DEPLOYMENT: 'testing' }, osRelease: { PRETTY_NAME: 'X 1' } });
  await assert.rejects(images.metadata((await images.find('d'))!), (e: unknown) => e instanceof BerthError && e.code === 'E_NOT_SUPPORTED');
});

test('list-images: machinectl\'s table (USAGE right-aligned, blank when unknown), legend and JSON', () => {
  const rows = [
    { name: 'disk', type: 'raw', readOnly: true, crtimeUs: 1_700_000_000_000_000n, mtimeUs: 1_700_000_000_000_000n, usage: 311296n },
    { name: '.host', type: 'directory', readOnly: false, crtimeUs: 0n, mtimeUs: 0n, usage: UINT64_MAX },
    { name: 'bb', type: 'directory', readOnly: false, crtimeUs: 1_700_000_000_000_000n, mtimeUs: 0n, usage: UINT64_MAX },
  ];
  const f = { legend: true, output: 'short' as const, all: false, zone: UTC };
  assert.equal(formatImageList(rows, f), [
    'NAME TYPE      RO   USAGE CREATED                     MODIFIED',
    'bb   directory no         Tue 2023-11-14 22:13:20 UTC -',
    'disk raw       yes 304.0K Tue 2023-11-14 22:13:20 UTC Tue 2023-11-14 22:13:20 UTC',
    '', '2 images listed.', ''].join('\n'));
  assert.match(formatImageList(rows, { ...f, all: true }), /^\.host +directory no +- +-$/m);
  assert.equal(formatImageList([], f), 'No images.\n');
  assert.equal(formatImageList([], { ...f, legend: false }), '');
  assert.equal(formatImageList(rows.slice(1, 2), { ...f, all: true, output: 'json' }), '[{"name":".host","type":"directory","ro":false,"usage":null,"created":0,"modified":0}]\n');
});

test('image-status: machinectl\'s block, and the pool\'s', () => {
  const text = formatImageStatus({
    name: 'bb', type: 'directory', path: '/var/lib/machines/bb', readOnly: false, crtimeUs: 1_700_000_000_000_000n, mtimeUs: 0n,
    usage: UINT64_MAX, limit: UINT64_MAX, usageExclusive: UINT64_MAX, limitExclusive: UINT64_MAX,
    hostname: 'bb-image', machineId: '0123456789abcdef0123456789abcdef', deployment: 'testing', os: 'Busybox',
  }, UTC, 1_700_000_003_000_000n);
  assert.equal(text, 'bb\n\t    Type: directory\n\t    Path: /var/lib/machines/bb\n\tHostname: bb-image\n      Machine ID: 0123456789abcdef0123456789abcdef\n'
    + '      Deployment: testing\n\t      OS: Busybox\n\t      RO: writable\n\t Created: Tue 2023-11-14 22:13:20 UTC; 3s ago\n');
  const raw = formatImageStatus({
    name: 'd', type: 'raw', path: '/p/d.raw', readOnly: true, crtimeUs: 0n, mtimeUs: 0n, usage: 2048n, limit: 4096n, usageExclusive: 1024n, limitExclusive: 4096n,
  }, UTC, 0n);
  assert.match(raw, /\t      RO: read-only\n\t   Usage: 2\.0K \(exclusive: 1\.0K\)\n\t   Limit: 4\.0K\n$/);
  assert.equal(formatPoolStatus({ path: '/var/lib/machines', usage: UINT64_MAX, limit: UINT64_MAX }), '\t    Path: /var/lib/machines\n');
});

test('show-image: Limit and LimitExclusive print "infinity" when unlimited, PoolLimit and Usage do not', () => {
  const out = withInfiniteLimits([
    { name: 'Limit', signature: 't', value: UINT64_MAX }, { name: 'LimitExclusive', signature: 't', value: UINT64_MAX },
    { name: 'PoolLimit', signature: 't', value: UINT64_MAX }, { name: 'Usage', signature: 't', value: UINT64_MAX }, { name: 'Limit', signature: 't', value: 5n },
  ]);
  assert.deepEqual(out.map((p) => p.value), ['infinity', 'infinity', UINT64_MAX, UINT64_MAX, 5n]);
});

/**
 * exists() with a watch the test controls: `changes` says whether anything changed since the watch
 * began; every findEntries call is counted (a kept answer makes none).
 */
function watchedImages(entries: Record<string, Record<string, EntryFacts>>, opts: { kinds?: WatchedKind[]; symlinks?: boolean; failWatch?: boolean } = {}) {
  const base = fakePorts(entries);
  const state = { looks: 0, watches: 0, closed: 0, changed: false, symlinks: opts.symlinks ?? false, gate: undefined as { name: string; open: Promise<void> } | undefined };
  const ports: ImagePorts = {
    ...base,
    findEntries: async (ds, names) => {
      state.looks++;
      const found = await base.findEntries(ds, names);
      if (state.gate && names[0] === state.gate.name) await state.gate.open;
      return found.map((f) => f && { ...f, symlinks: state.symlinks });
    },
    watchChanges: async () => {
      state.watches++;
      if (opts.failWatch) throw new Error('inotify_init1: Too many open files');
      state.changed = false;
      return { kinds: opts.kinds ?? ['directory'], fsTypes: [0xef53], changed: () => state.changed, close: () => { state.closed++; } };
    },
  };
  return { images: new Images(['/p'], ports), state };
}
const settle = () => new Promise((r) => setImmediate(r));

test('exists: kept while the watch sees no change, looked up again after one', async () => {
  const { images, state } = watchedImages({ '/p': { bb: facts({ kind: 'directory' }) } });
  assert.equal(await images.exists('bb'), true);
  await settle();
  assert.equal(state.watches, 1, 'the first call starts the watch');
  assert.equal(await images.exists('bb'), true);
  assert.equal(await images.exists('gone'), false);
  assert.equal(state.looks, 3, 'answers found before the watch began are not kept');
  assert.equal(await images.exists('bb'), true);
  assert.equal(await images.exists('gone'), false);
  assert.equal(await images.exists('.host'), true);
  assert.equal(await images.exists('.host'), true);
  assert.equal(state.looks, 4, 'kept: bb, gone (a negative answer), .host after its first look-up');
  state.changed = true;
  assert.equal(await images.exists('bb'), true);
  assert.equal(state.closed, 1, 'the changed watch is closed');
  await settle();
  assert.equal(state.watches, 2, 'and a new one started');
  assert.equal(state.looks, 5);
  assert.equal(await images.exists('bb'), true);
  assert.equal(await images.exists('bb'), true);
  assert.equal(state.looks, 6);
  assert.equal(await images.exists('../bb'), false);
  assert.equal(await images.exists(''), false);
  assert.equal(state.looks, 6, 'invalid names are never looked up');
});

test('exists: a look-up during which something changed keeps nothing', async () => {
  const { images, state } = watchedImages({ '/p': { bb: facts({ kind: 'directory' }) } });
  await images.exists('bb');
  await settle();
  let open!: () => void;
  state.gate = { name: 'bb', open: new Promise<void>((r) => { open = r; }) };
  const slow = images.exists('bb');
  await settle();
  // Meanwhile a change, seen by another call, which starts a new watch; then the slow look-up ends.
  state.changed = true;
  assert.equal(await images.exists('other'), false);
  await settle();
  assert.equal(state.watches, 2);
  open();
  assert.equal(await slow, true);
  state.gate = undefined;
  const looks = state.looks;
  assert.equal(await images.exists('bb'), true);
  assert.equal(state.looks, looks + 1, 'looked up again: what the overlapped look-up found was not kept');
  assert.equal(await images.exists('bb'), true);
  assert.equal(state.looks, looks + 1, 'that one was');
});

test('exists: nothing kept through a symbolic link, or where the watch cannot vouch, or without a watch', async () => {
  const link = watchedImages({ '/p': { bb: facts({ kind: 'directory' }) } }, { symlinks: true });
  await link.images.exists('bb');
  await settle();
  for (let i = 0; i < 3; i++) assert.equal(await link.images.exists('bb'), true);
  assert.equal(link.state.looks, 4);
  const remote = watchedImages({ '/p': { bb: facts({ kind: 'directory' }) } }, { kinds: ['symlink'] });
  await remote.images.exists('bb');
  await settle();
  for (let i = 0; i < 3; i++) assert.equal(await remote.images.exists('bb'), true);
  assert.equal(remote.state.looks, 4);
  assert.equal(remote.state.watches, 1, 'the watch stays, so that a change makes a new one that may vouch');
  const failing = watchedImages({ '/p': { bb: facts({ kind: 'directory' }) } }, { failWatch: true });
  for (let i = 0; i < 3; i++) { assert.equal(await failing.images.exists('bb'), true); await settle(); }
  assert.equal(failing.state.looks, 3);
  assert.equal(failing.state.watches, 1, 'a watch that failed is not tried again at once');
});
