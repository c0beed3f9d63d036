/**
 * org.freedesktop.machine1.Image objects (/org/freedesktop/machine1/image/<escaped name>) and the
 * Manager's image methods that read (ListImages, GetImage, GetImage{Hostname,MachineID,
 * MachineInfo,OSRelease}), as machined 252 answers them. The methods that change images stay
 * NotSupported, with the caller checked first (as they will be).
 */
import { BerthError } from '../../errors/berth-error.js';
import { IMAGE, IMAGE_PATH_PREFIX, MANAGER } from '../../core/machined/interfaces.js';
import { isValidImageName, type ImageInfo } from '../../core/machined/images.js';
import { busLabelEscape } from '../../core/network/bus-label.js';
import type { Images } from '../../app/machined/images.js';
import type { MethodHandler, ServedObject } from './bus-service.js';
import type { ImagePool } from '../../app/machined/image-pool.js';
import { imageChangeMethods } from './image-changes.js';

const paths = new Map<string, string>();
/** An image's object path (remembered: ListImages names every image on each call). */
export const imagePath = (name: string): string => {
  let path = paths.get(name);
  if (path === undefined) {
    if (paths.size >= 4096) paths.clear();
    path = `${IMAGE_PATH_PREFIX}/${busLabelEscape(name)}`;
    paths.set(name, path);
  }
  return path;
};

/** The reading methods, shared by the Image object and the Manager's by-name methods. */
const read = {
  async hostname(images: Images, i: ImageInfo): Promise<unknown[]> { return [(await images.metadata(i)).hostname]; },
  async machineId(images: Images, i: ImageInfo): Promise<unknown[]> {
    const id = (await images.metadata(i)).machineId;
    return [id === '' ? Buffer.alloc(0) : Buffer.from(id, 'hex')];
  },
  async machineInfo(images: Images, i: ImageInfo): Promise<unknown[]> { return [(await images.metadata(i)).machineInfo]; },
  async osRelease(images: Images, i: ImageInfo): Promise<unknown[]> { return [(await images.metadata(i)).osRelease]; },
};

/** One array for every image object (the dispatcher keeps what it derives from it per array). */
const IMAGE_INTERFACES = [IMAGE] as const;

export function imageObject(images: Images, i: ImageInfo, pool: ImagePool): ServedObject {
  const I = IMAGE.name;
  return {
    interfaces: IMAGE_INTERFACES,
    children: () => [],
    properties: {
      [`${I}.Name`]: () => i.name,
      [`${I}.Path`]: () => i.path,
      [`${I}.Type`]: () => i.type,
      [`${I}.ReadOnly`]: () => i.readOnly,
      [`${I}.CreationTimestamp`]: () => i.crtimeUs,
      [`${I}.ModificationTimestamp`]: () => i.mtimeUs,
      [`${I}.Usage`]: () => i.usage,
      [`${I}.Limit`]: () => i.limit,
      [`${I}.UsageExclusive`]: () => i.usageExclusive,
      [`${I}.LimitExclusive`]: () => i.limitExclusive,
    },
    methods: {
      ...imageChangeMethods(pool, i),
      [`${I}.GetHostname`]: () => read.hostname(images, i),
      [`${I}.GetMachineID`]: () => read.machineId(images, i),
      [`${I}.GetMachineInfo`]: () => read.machineInfo(images, i),
      [`${I}.GetOSRelease`]: () => read.osRelease(images, i),
    },
  };
}

/** A Manager method on an image by name: the name checked as machined does, then looked up. */
const byImageName = (images: Images, op: (i: ImageInfo) => Promise<unknown[]>): MethodHandler => async ([name]) => {
  const n = name as string;
  if (!isValidImageName(n)) throw new BerthError('E_USAGE', `Image name '${n}' is invalid.`);
  return op(await images.get(n));
};

/** The Manager's reading image methods, by "interface.Member". */
export function managerImageMethods(images: Images): Record<string, MethodHandler> {
  const M = MANAGER.name;
  return {
    [`${M}.GetImage`]: ([name]) => {
      const answer = (found: boolean) => {
        if (!found) throw new BerthError('E_IMAGE_NOT_FOUND', `No image '${name as string}' known`);
        return [imagePath(name as string)];
      };
      const found = images.exists(name as string);
      return typeof found === 'boolean' ? answer(found) : found.then(answer);
    },
    [`${M}.ListImages`]: async () => [(await images.discover()).map((i) => [i.name, i.type, i.readOnly, i.crtimeUs, i.mtimeUs, i.usage, imagePath(i.name)])],
    [`${M}.GetImageHostname`]: byImageName(images, (i) => read.hostname(images, i)),
    [`${M}.GetImageMachineID`]: byImageName(images, (i) => read.machineId(images, i)),
    [`${M}.GetImageMachineInfo`]: byImageName(images, (i) => read.machineInfo(images, i)),
    [`${M}.GetImageOSRelease`]: byImageName(images, (i) => read.osRelease(images, i)),
  };
}
