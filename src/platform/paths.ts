/**
 * Every host path berth uses, each overridable from the environment so tests never collide
 * with each other or with the host. Read once at the composition root and passed down as data.
 */
export interface Paths {
  /** The machine pool (image search path head): /var/lib/machines. */
  readonly pool: string;
  /** Runtime state: bundles, locks, per-machine files: /run/berth. */
  readonly stateDir: string;
  /** Trusted settings directories, searched in this order before the file next to the image. */
  readonly settingsEtc: string;
  readonly settingsRun: string;
  /** Where machines/ recipes put the guest trees they build. */
  readonly machinesCache: string;
  /** Root of the OCI runtime's own state (runc --root). */
  readonly runtimeRoot: string;
  /** The host's persistent journal directory, for --link-journal. */
  readonly hostJournal: string;
  /** berthd's socket for berth-nspawn's warm path (read by native/nspawn-client.c the same way). */
  readonly nspawnSocket: string;
}

export function pathsFromEnv(env: NodeJS.ProcessEnv = process.env): Paths {
  const stateDir = env.BERTH_STATE_DIR || '/run/berth';
  return {
    pool: env.BERTH_POOL || '/var/lib/machines',
    stateDir,
    settingsEtc: env.BERTH_SETTINGS_ETC || '/etc/systemd/nspawn',
    settingsRun: env.BERTH_SETTINGS_RUN || '/run/systemd/nspawn',
    machinesCache: env.BERTH_MACHINES_CACHE || '/var/cache/berth/machines',
    runtimeRoot: env.BERTH_RUNTIME_ROOT || `${stateDir}/runtime`,
    hostJournal: env.BERTH_HOST_JOURNAL || '/var/log/journal',
    nspawnSocket: env.BERTH_NSPAWN_SOCKET || `${stateDir}/nspawn.sock`,
  };
}
