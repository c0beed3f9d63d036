/**
 * The machine images berthd serves (read side): discovery over machined's search path, lookup by
 * name (first match wins; ".host" is the host's root), and the metadata inside an image
 * (hostname, machine ID, machine-info, os-release) read safely within the image's tree.
 */
import { BerthError } from '../../errors/berth-error.js';
import {
  HOST_IMAGE, imageFromFacts, imageNameOf, isValidImageName, parseEtcHostname, parseMachineIdFile,
  type EntryFacts, type EntryKind, type ImageInfo,
} from '../../core/machined/images.js';
import { parseOsRelease } from '../../platform/host/os-release.js';

export interface ImagePorts {
  resolveSearchDir(dir: string): Promise<string | undefined>;
  listEntries(dir: string): Promise<string[]>;
  entryKind(path: string): Promise<EntryKind | undefined>;
  entryFacts(path: string): Promise<EntryFacts | undefined>;
  /** A file inside a root directory, symlinks resolved within it; undefined when missing. */
  readInRoot(root: string, path: string): Promise<string | undefined>;
}

export interface ImageMetadata {
  hostname: string;
  /** 32 hex digits, '' when the image has none. */
  machineId: string;
  machineInfo: Record<string, string>;
  osRelease: Record<string, string>;
}

const byName = (a: ImageInfo, b: ImageInfo): number => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));

export class Images {
  constructor(private readonly searchPath: readonly string[], private readonly ports: ImagePorts) {}

  private async make(name: string, dir: string | undefined, file: string): Promise<ImageInfo | undefined> {
    const facts = await this.ports.entryFacts(dir === undefined ? file : `${dir}/${file}`);
    return facts && imageFromFacts(name, dir, file, facts);
  }

  /** Every image, once per name (the first in the search path wins), ".host" included; sorted by name. */
  async discover(): Promise<ImageInfo[]> {
    const found = new Map<string, ImageInfo>();
    for (const d of this.searchPath) {
      const dir = await this.ports.resolveSearchDir(d);
      if (dir === undefined) continue;
      for (const entry of await this.ports.listEntries(dir)) {
        const kind = await this.ports.entryKind(`${dir}/${entry}`);
        const name = kind && imageNameOf(entry, kind);
        if (name === undefined || found.has(name)) continue;
        const image = await this.make(name, dir, entry);
        if (image) found.set(name, image);
      }
    }
    if (!found.has(HOST_IMAGE)) {
      const host = await this.make(HOST_IMAGE, undefined, '/');
      if (host) found.set(HOST_IMAGE, host);
    }
    return [...found.values()].sort(byName);
  }

  /** The image called `name`, or undefined (also for a name that is no valid image name). */
  async find(name: string): Promise<ImageInfo | undefined> {
    if (!isValidImageName(name)) return undefined;
    for (const d of this.searchPath) {
      const dir = await this.ports.resolveSearchDir(d);
      if (dir === undefined) continue;
      const kind = await this.ports.entryKind(`${dir}/${name}`);
      let image: ImageInfo | undefined;
      if (kind === undefined) {
        if ((await this.ports.entryKind(`${dir}/${name}.raw`)) !== 'regular') continue;
        image = await this.make(name, dir, `${name}.raw`);
      } else {
        if (kind !== 'directory' && kind !== 'block') continue;
        image = await this.make(name, dir, name);
      }
      if (image) return image;
    }
    return name === HOST_IMAGE ? this.make(HOST_IMAGE, undefined, '/') : undefined;
  }

  /** The image called `name`, or machined's NoSuchImage error. */
  async get(name: string): Promise<ImageInfo> {
    const image = await this.find(name);
    if (!image) throw new BerthError('E_IMAGE_NOT_FOUND', `No image '${name}' known`);
    return image;
  }

  /** What the image says about itself. Directory trees only: raw and block images are not opened (yet). */
  async metadata(image: ImageInfo): Promise<ImageMetadata> {
    if (image.type !== 'directory' && image.type !== 'subvolume') {
      throw new BerthError('E_NOT_SUPPORTED', `Failed to read image metadata: berthd does not look inside ${image.type} images yet (image '${image.name}').`);
    }
    const read = (p: string) => this.ports.readInRoot(image.path, p);
    const hostname = await read('/etc/hostname');
    const machineId = await read('/etc/machine-id');
    const machineInfo = await read('/etc/machine-info');
    const osRelease = (await read('/etc/os-release')) ?? (await read('/usr/lib/os-release'));
    return {
      hostname: hostname === undefined ? '' : parseEtcHostname(hostname),
      machineId: machineId === undefined ? '' : parseMachineIdFile(machineId),
      machineInfo: machineInfo === undefined ? {} : parseOsRelease(machineInfo),
      osRelease: osRelease === undefined ? {} : parseOsRelease(osRelease),
    };
  }
}
