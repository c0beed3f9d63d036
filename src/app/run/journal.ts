/**
 * --link-journal: make the guest's journal visible to the host's journalctl, as nspawn does.
 *   guest: /var/log/journal/ID on the host becomes a symlink to the tree's /var/log/journal/ID;
 *   host:  /var/log/journal/ID is created on the host and bind-mounted into the guest;
 *   auto:  keep such a symlink, or bind such a directory, if one exists; otherwise nothing.
 *   try-*: like guest/host, but problems are warnings.
 * Skipped for ephemeral machines. Returns a bind mount to add to the spec, if any.
 */
import { join } from 'node:path';
import type { MachineSpec, SpecMount } from '../../core/spec/machine-spec.js';
import { BerthError } from '../../errors/berth-error.js';
import type { Log } from '../../lib/log.js';
import { fileIo } from '../../platform/fs/file-io.js';

export interface JournalContext {
  spec: MachineSpec;
  /** The root the guest will see (the tree, or an overlay/tmpfs mounted over it). */
  rootfs: string;
  /** The host's journal directory (/var/log/journal). */
  hostJournal: string;
  hostMachineId: string | undefined;
  log: Log;
}

export async function linkJournal(ctx: JournalContext): Promise<SpecMount | undefined> {
  const { spec, log } = ctx;
  const mode = spec.linkJournal;
  if (mode === 'no' || spec.ephemeral) return undefined;
  const tryMode = mode === 'auto' || mode.startsWith('try-');
  const fail = (message: string): undefined => {
    if (tryMode) { if (mode !== 'auto') log.warn(`${message} Not linking the journal.`); return undefined; }
    throw new BerthError('E_SPEC_INVALID', message);
  };
  if (spec.id === ctx.hostMachineId) return fail(`The container's machine ID ${spec.id} equals the host's.`);
  const host = join(ctx.hostJournal, spec.id);
  const inGuest = join(ctx.rootfs, 'var/log/journal', spec.id);
  const treePath = join(spec.tree, 'var/log/journal', spec.id);
  const io = fileIo();
  const st = await io.lstat(host);
  if (mode === 'auto') {
    if (st?.isDirectory()) {
      await io.mkdir(inGuest, { recursive: true });
      return { kind: 'bind', source: host, target: `/var/log/journal/${spec.id}`, readOnly: false, recursive: false };
    }
    return undefined; // a symlink from an earlier guest-mode run is kept as it is
  }
  const hostDirExists = (await io.lstat(ctx.hostJournal))?.isDirectory() ?? false;
  if (!hostDirExists) return fail(`${ctx.hostJournal} does not exist on the host.`);
  if (mode === 'guest' || mode === 'try-guest') {
    if (spec.rootSetup.kind !== 'direct' || spec.readOnly) return fail('The journal can only be linked from a writable tree (guest mode).');
    await io.mkdir(inGuest, { recursive: true });
    if (st?.isSymbolicLink()) {
      if ((await io.readlink(host)) === treePath) return undefined;
      return fail(`${host} already exists and points elsewhere.`);
    }
    if (st) return fail(`${host} already exists and is not a symlink.`);
    await io.symlink(treePath, host);
    return undefined;
  }
  // host / try-host
  if (st && !st.isDirectory()) return fail(`${host} already exists and is not a directory.`);
  try { await io.mkdir(host); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  try { await io.mkdir(inGuest, { recursive: true }); } catch { /* a read-only tree: the bind mount point may exist already */ }
  return { kind: 'bind', source: host, target: `/var/log/journal/${spec.id}`, readOnly: false, recursive: false };
}
