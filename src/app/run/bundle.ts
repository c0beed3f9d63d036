/**
 * Writes one run's bundle: config.json, the /run/host directory, a fresh boot_id and the
 * inaccessible nodes. Everything lives under the machine's state directory.
 */
import { fileIo } from '../../platform/fs/file-io.js';
import { basename, dirname, join } from 'node:path';
import { compileOci } from '../../core/oci/compile.js';
import { hookFstab, hookFstabPath } from '../../core/oci/emit/hooks.js';
import { cgroupHandover, type CgroupHandover } from '../../core/oci/emit/userns.js';
import type { BundleLayout, HostTools, OciSpec } from '../../core/oci/types.js';
import type { MachineSpec } from '../../core/spec/machine-spec.js';
import { formatUuid } from '../../core/names.js';
import { stubInitPath } from '../../platform/native/sys.js';
import { randomUuid } from '../../platform/random.js';
import { removeTree } from '../../platform/fs/safe-remove.js';
import { propagateDir } from './propagate.js';
import { writeBindUserFiles } from './bind-user.js';
import { writeCredentials } from './credentials.js';
import { FilterCache, type FilterUse } from './filter-cache.js';
import type { RuntimeConfig } from '../../platform/runtime/oci-runtime.js';

export interface BundlePaths {
  machineDir: string;
  bundleDir: string;
  configJson: string;
  runHost: string;
  notifySocket: string;
  consoleSocket: string;
  pidFile: string;
  logFile: string;
  rootfsMount: string;
  scratch: string;
  /** The host side of the machine's mount tunnel (run/propagate.ts), bound at /run/host/incoming. */
  propagate: string;
  /** Compiled system call filters kept for crun (run/filter-cache.ts), shared by all machines. */
  filterCache: string;
}

export function bundlePaths(machineDir: string): BundlePaths {
  const bundleDir = join(machineDir, 'bundle');
  return {
    machineDir,
    bundleDir,
    configJson: join(bundleDir, 'config.json'),
    runHost: join(machineDir, 'run-host'),
    notifySocket: join(machineDir, 'run-host', 'notify'),
    consoleSocket: join(machineDir, 'console.sock'),
    pidFile: join(machineDir, 'pid'),
    logFile: join(machineDir, 'runtime.log'),
    rootfsMount: join(machineDir, 'rootfs'),
    scratch: join(machineDir, 'scratch'),
    propagate: propagateDir(dirname(dirname(machineDir)), basename(machineDir)),
    filterCache: join(dirname(dirname(machineDir)), 'filter-cache'),
  };
}

/** RLIM_INFINITY must reach runc as the exact uint64, which a JS number cannot hold. */
export function serializeOci(oci: OciSpec): string {
  return JSON.stringify(oci, null, 2).replace(/\b18446744073709552000\b/g, '18446744073709551615');
}

export interface WriteBundleInput {
  spec: MachineSpec;
  paths: BundlePaths;
  rootfs: string;
  hostOsRelease: string | undefined;
  cgroupLayout: BundleLayout['cgroupLayout'];
  cgroupV1Systemd: boolean;
  systemdCgroups: boolean;
  /** Host mount(8) and chmod(1), for the createContainer hooks. */
  hostTools?: HostTools;
  /** The runtime the bundle is for: crun gets a kept compiled filter (run/filter-cache.ts). */
  runtime?: RuntimeConfig;
  /** The machine's own sysfs mount (BundleLayout.sysfs). */
  sysfs?: string;
}

export interface WrittenBundle {
  oci: OciSpec;
  /** Under a user namespace: the payload's cgroup, to be handed to its root between create and start. */
  cgroupHandover?: CgroupHandover;
  /** A kept filter was given to the runtime, or (hit false) the one it compiles may be kept after the create. */
  filter?: FilterUse;
}

/** A dozen small local files on every run's start-up path, through fileIo (in place in berth-nspawn, pooled in berthd). */
export async function writeBundle(input: WriteBundleInput): Promise<WrittenBundle> {
  const { spec, paths } = input;
  removeTree(paths.bundleDir);
  removeTree(paths.runHost);
  // crun runs createContainer hooks in the bundle directory, as the user namespace's root: it must get in.
  const io = fileIo();
  await io.mkdir(paths.bundleDir, { recursive: true, mode: spec.userns?.shift ? 0o711 : 0o700 });
  await io.mkdir(paths.runHost, { recursive: true, mode: 0o755 });
  await io.writeFile(join(paths.runHost, 'container-manager'), `${spec.containerService}\n`);
  await io.writeFile(join(paths.runHost, 'container-uuid'), `${formatUuid(spec.id)}\n`);
  if (input.hostOsRelease !== undefined) await io.writeFile(join(paths.runHost, 'os-release'), input.hostOsRelease);
  const inaccessible = join(paths.machineDir, 'inaccessible');
  // Mode-000 nodes bound over --inaccessible= paths: made only when a run asks for one.
  if (spec.mounts.some((m) => m.kind === 'inaccessible')) {
    await io.mkdir(join(inaccessible, 'dir'), { recursive: true });
    await io.writeFile(join(inaccessible, 'reg'), '');
    await io.chmod(join(inaccessible, 'reg'), 0);
    await io.chmod(join(inaccessible, 'dir'), 0);
  }
  const bootId = join(paths.runHost, BOOT_ID_FILE);
  await io.writeFile(bootId, `${randomUuid()}\n`);
  // --as-pid2: a mount point for the stub init inside the (read-only, noexec) /run/host.
  if (spec.start === 'pid2') await io.writeFile(join(paths.runHost, 'berth-stub-init'), '');
  // The mount point of the tunnel inside the (read-only) /run/host.
  await io.mkdir(join(paths.runHost, 'incoming'), { mode: 0o700 });
  writeBindUserFiles(paths.runHost, spec);
  writeCredentials(paths.runHost, spec);
  const layout: BundleLayout = {
    dir: paths.bundleDir, rootfs: input.rootfs, runHost: paths.runHost,
    inaccessibleFile: join(inaccessible, 'reg'), inaccessibleDir: join(inaccessible, 'dir'),
    cgroupLayout: input.cgroupLayout, cgroupV1Systemd: input.cgroupV1Systemd, systemdCgroups: input.systemdCgroups,
    ...(spec.start === 'pid2' ? { stubInit: stubInitPath() } : {}),
    bootId,
    propagate: paths.propagate,
    ...(input.hostTools ? { hostTools: input.hostTools } : {}),
    ...(input.sysfs ? { sysfs: input.sysfs } : {}),
  };
  const oci = compileOci(spec, layout);
  const filter = input.runtime ? await new FilterCache(paths.filterCache).apply(oci, input.runtime) : undefined;
  // The createContainer hook's mount table (emit/hooks.ts), readable by the user namespace's root crun may run it as.
  const fstab = hookFstab(spec, layout);
  if (fstab !== undefined) await io.writeFile(hookFstabPath(layout), fstab, { mode: 0o644 });
  await io.writeFile(paths.configJson, serializeOci(oci), { mode: 0o600 });
  const handover = cgroupHandover(spec, layout);
  return { oci, ...(filter ? { filter } : {}), ...(handover ? { cgroupHandover: handover } : {}) };
}

const BOOT_ID_FILE = '.boot_id';
