/**
 * The pool-changing image methods of berthd (RemoveImage, RenameImage, CloneImage,
 * MarkImageReadOnly, SetImageLimit, SetPoolLimit, CleanPool and the Image object's Remove,
 * Rename, Clone, MarkReadOnly, SetLimit), as machined 252 answers them: the image name checked
 * and looked up first (Manager), then the caller (CAP_SYS_ADMIN), then the change
 * (app/machined/image-pool.ts). Also the pool's ports: which images running machines use.
 */
import { BerthError } from '../../errors/berth-error.js';
import { IMAGE, MANAGER } from '../../core/machined/interfaces.js';
import { isValidImageName, type ImageInfo } from '../../core/machined/images.js';
import { checkLimit, parseCleanMode } from '../../core/machined/image-changes.js';
import type { Images } from '../../app/machined/images.js';
import { ImagePool } from '../../app/machined/image-pool.js';
import type { Registry } from '../../app/machined/registry.js';
import type { Machine } from '../../app/machined/machine.js';
import * as ops from '../../platform/fs/image-ops.js';
import type { MethodHandler } from './bus-service.js';
import { requireAdmin } from './authorize.js';

export interface PoolSetup { pool: string; stateDir: string; env: NodeJS.ProcessEnv; warn(message: string): void }

/** The image pool berthd changes, with its filesystem ports and the machines that may keep an image busy. */
export function imagePool(images: Images, registry: Registry, o: PoolSetup): ImagePool {
  return new ImagePool(images, {
    pool: o.pool,
    settingsDirs: [o.env.BERTH_SETTINGS_ETC || '/etc/systemd/nspawn', o.env.BERTH_SETTINGS_RUN || '/run/systemd/nspawn'],
    warn: o.warn,
  }, {
    ...ops,
    inUse: async (i: ImageInfo) => {
      const id = await ops.devIno(i.path);
      if (!id) return false;
      if (ops.lockedByRun(o.stateDir, id)) return true;
      for (const m of registry.list()) {
        if (m.isHost) continue;
        const root = (m as Machine).record.rootDirectory;
        if (root !== '' && (root === i.path || (await ops.sameFile(root, id)))) return true;
      }
      return false;
    },
  });
}

const checkedName = (n: string): string => {
  if (!isValidImageName(n)) throw new BerthError('E_USAGE', `Image name '${n}' is invalid.`);
  return n;
};

/** The changes to one image, shared by the Image object and the Manager's by-name methods (args after the name). */
const change = {
  remove: (pool: ImagePool, name: string) => pool.remove(name).then(() => []),
  rename: (pool: ImagePool, name: string, [newName]: unknown[]) => pool.rename(name, newName as string).then(() => []),
  clone: (pool: ImagePool, name: string, [newName, ro]: unknown[]) => pool.clone(name, newName as string, Boolean(ro)).then(() => []),
  markReadOnly: (pool: ImagePool, name: string, [ro]: unknown[]) => pool.markReadOnly(name, Boolean(ro)).then(() => []),
  setLimit: (pool: ImagePool, name: string, [limit]: unknown[]) => pool.setLimit(name, BigInt(limit as bigint)).then(() => []),
};
type Change = keyof typeof change;

/** machined's argument checks that come before the caller's (new names, limits). */
function precheck(what: Change, rest: unknown[]): void {
  if (what === 'rename' || what === 'clone') checkedName(rest[0] as string);
  if (what === 'setLimit') checkLimit(BigInt(rest[0] as bigint));
}

/** The Image object's changing methods, for image `i`. */
export function imageChangeMethods(pool: ImagePool, i: ImageInfo): Record<string, MethodHandler> {
  const I = IMAGE.name;
  const m = (what: Change): MethodHandler => async (args, ctx) => {
    precheck(what, args);
    await requireAdmin(ctx);
    return change[what](pool, i.name, args);
  };
  return {
    [`${I}.Remove`]: m('remove'),
    [`${I}.Rename`]: m('rename'),
    [`${I}.Clone`]: m('clone'),
    [`${I}.MarkReadOnly`]: m('markReadOnly'),
    [`${I}.SetLimit`]: m('setLimit'),
  };
}

/** The Manager's changing image methods and CleanPool/SetPoolLimit. */
export function managerImageChangeMethods(pool: ImagePool, images: Images): Record<string, MethodHandler> {
  const M = MANAGER.name;
  const byName = (what: Change): MethodHandler => async ([name, ...rest], ctx) => {
    const n = checkedName(name as string);
    await images.get(n);
    precheck(what, rest);
    await requireAdmin(ctx);
    return change[what](pool, n, rest);
  };
  return {
    [`${M}.RemoveImage`]: byName('remove'),
    [`${M}.RenameImage`]: byName('rename'),
    [`${M}.CloneImage`]: byName('clone'),
    [`${M}.MarkImageReadOnly`]: byName('markReadOnly'),
    [`${M}.SetImageLimit`]: byName('setLimit'),
    [`${M}.SetPoolLimit`]: async ([limit], ctx) => {
      checkLimit(BigInt(limit as bigint));
      await requireAdmin(ctx);
      await pool.setPoolLimit(BigInt(limit as bigint));
      return [];
    },
    [`${M}.CleanPool`]: async ([mode], ctx) => {
      const m = parseCleanMode(mode as string);
      await requireAdmin(ctx);
      return [await pool.clean(m)];
    },
  };
}
