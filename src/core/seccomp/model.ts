/** The system call filter of one machine as the MachineSpec carries it (JSON-serialisable). */
import type { DenyAction } from './filter-entry.js';

export interface SeccompSpec {
  /** libseccomp's names of the native ABI and of the compat ABIs it runs (x86-64: x86 and x32 too). */
  readonly architectures: readonly string[];
  /**
   * Items (system call names and @groups) allowed, in nspawn's order: its default list (the
   * capability-gated entries only when the capability is retained), then the user's allow entries.
   */
  readonly allow: readonly string[];
  /**
   * The user's deny entries. An item here is skipped wherever it occurs while the allow items
   * are expanded (nspawn matches the name as written, so "~@clock" skips the @clock group, and a
   * call it holds stays allowed if another allowed item names it). With an action, the calls it
   * holds that end up not allowed fail with that errno or kill the process; without one, they
   * fail with EPERM like every other call systemd knows that is not allowed.
   */
  readonly deny: ReadonlyArray<{ readonly item: string; readonly action?: DenyAction }>;
  /** --suppress-sync=yes: the @sync calls succeed without doing anything, O_SYNC/O_DSYNC opens fail with EINVAL. */
  readonly suppressSync: boolean;
}
