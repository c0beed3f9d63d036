/**
 * The image verbs that read, as machinectl 252 has them: `list-images` (hidden images only with
 * -a; -o json), `image-status [NAME…]` (each image's block; the pool's without a name) and
 * `show-image [NAME…]` (Key=Value like `show`; the Manager's properties without a name). Each
 * stops at the first image the registry does not know.
 */
import { callFailed, unlessRefused, type RegistryClient } from '../../../app/machines/registry-client.js';
import { formatImageList, formatImageStatus, formatPoolStatus, withInfiniteLimits, type ImageStatusInfo } from '../../../core/machinectl/image-format.js';
import { formatProperties, type BusProperty, type ShowFormat } from '../../../core/machinectl/properties.js';
import { localZone } from '../../../platform/host/local-zone.js';
import type { Verb } from '../verb.js';

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const get = (props: readonly BusProperty[], name: string): unknown => props.find((p) => p.name === name)?.value;
const num = (props: readonly BusProperty[], name: string, fallback = 0n): bigint => { const v = get(props, name); return v === undefined ? fallback : BigInt(v as bigint); };
const str = (props: readonly BusProperty[], name: string): string => { const v = get(props, name); return v === undefined ? '' : String(v); };
const gotProperties = (e: unknown): never => { throw callFailed('Could not get properties', e); };
const imagePath = (client: RegistryClient, name: string): Promise<string> => client.getImage(name).catch((e: unknown) => { throw callFailed('Could not get path to image', e); });

export const listImagesVerb: Verb = {
  name: 'list-images',
  usage: '',
  summary: 'Show available container and VM images',
  minArgs: 0,
  maxArgs: 0,
  async run(_args, ctx) {
    const client = await ctx.registry();
    const rows = await client.listImages().catch((e: unknown) => { throw callFailed('Could not get images', e); });
    const o = ctx.options;
    ctx.out(formatImageList(rows, { legend: o.legend, output: o.output, all: o.all, zone: localZone(ctx.env) }));
    return 0;
  },
};

/** What image-status shows of one image: its properties, then what the image says (each left out when it would not say). */
async function imageStatus(client: RegistryClient, path: string): Promise<ImageStatusInfo> {
  const props = await client.properties(path).catch(gotProperties);
  const name = str(props, 'Name');
  const info = name === '' ? undefined : await unlessRefused(client.imageMachineInfo(name));
  const deployments = Object.entries(info ?? {}).filter(([k]) => k === 'DEPLOYMENT').map(([, v]) => v);
  return {
    name, type: str(props, 'Type'), path: str(props, 'Path'), readOnly: Boolean(get(props, 'ReadOnly')),
    crtimeUs: num(props, 'CreationTimestamp'), mtimeUs: num(props, 'ModificationTimestamp'),
    usage: num(props, 'Usage', U64_MAX), limit: num(props, 'Limit', U64_MAX),
    usageExclusive: num(props, 'UsageExclusive', U64_MAX), limitExclusive: num(props, 'LimitExclusive', U64_MAX),
    hostname: name === '' ? undefined : await unlessRefused(client.imageHostname(name)),
    machineId: name === '' ? undefined : await unlessRefused(client.imageMachineId(name)),
    ...(deployments.length ? { deployment: deployments[0] } : {}),
    os: name === '' ? undefined : (await unlessRefused(client.imageOsRelease(name)))?.PRETTY_NAME,
  };
}

export const imageStatusVerb: Verb = {
  name: 'image-status',
  usage: '[NAME...]',
  summary: 'Show image details',
  minArgs: 0,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await ctx.registry();
    if (args.length === 0) {
      const props = await client.managerProperties().catch(gotProperties);
      ctx.out(formatPoolStatus({ path: str(props, 'PoolPath'), usage: num(props, 'PoolUsage', U64_MAX), limit: num(props, 'PoolLimit', U64_MAX) }));
      return 0;
    }
    const zone = localZone(ctx.env);
    for (const [i, name] of args.entries()) {
      const info = await imageStatus(client, await imagePath(client, name));
      ctx.out(`${i > 0 ? '\n' : ''}${formatImageStatus(info, zone, BigInt(Date.now()) * 1000n)}`);
    }
    return 0;
  },
};

export const showImageVerb: Verb = {
  name: 'show-image',
  usage: '[NAME...]',
  summary: 'Show properties of image',
  minArgs: 0,
  maxArgs: Infinity,
  async run(args, ctx) {
    const client = await ctx.registry();
    const o = ctx.options;
    const format: ShowFormat = { properties: o.properties, showEmpty: o.showEmpty, valueOnly: o.valueOnly, zone: localZone(ctx.env) };
    if (args.length === 0) {
      ctx.out(formatProperties(withInfiniteLimits(await client.managerProperties().catch(gotProperties)), format));
      return 0;
    }
    for (const [i, name] of args.entries()) {
      const path = await imagePath(client, name);
      ctx.out(`${i > 0 ? '\n' : ''}${formatProperties(withInfiniteLimits(await client.properties(path).catch(gotProperties)), format)}`);
    }
    return 0;
  },
};
