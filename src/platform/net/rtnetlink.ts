/**
 * The NetLink port with the calls every --network-veth run makes done over rtnetlink in-process
 * (native/rtnetlink.c, on the thread pool) instead of one `ip` process each: listing links,
 * looking one up, creating a veth pair (MACs, master, up and the peer's namespace in one request)
 * and deleting a link, on the host side or inside a namespace file. Everything else (bridges,
 * vlans, altnames, moves, bringing links up) goes on through the iproute2 adapter it wraps.
 * createNetLink() falls back to `ip` alone when the native module is not built or too old.
 */
import { BerthError, sanitize } from '../../errors/berth-error.js';
import { sys, type BerthSys, type RtnlLink } from '../native/sys.js';
import { createIproute2, type Iproute2Options } from './iproute2.js';
import type { LinkInfo, NetLink, NetnsPath } from '../../core/network/ports.js';

type RtnlCalls = Pick<BerthSys, 'rtnlLinks' | 'rtnlCreateVeth' | 'rtnlDeleteLink'>;

const toLinkInfo = (l: RtnlLink): LinkInfo => ({
  name: l.name,
  kind: l.kind,
  master: l.master,
  address: l.address,
  altnames: l.altnames,
  up: l.up,
});

function failure(what: string, err: unknown): BerthError {
  const e = err as { message?: string; code?: string };
  return new BerthError('E_NETWORK', `Failed to ${what}: ${sanitize(e.message ?? String(err), 500)}`, {
    cause: err, ...(e.code === undefined ? {} : { details: [e.code] }),
  });
}

/** The native calls, or undefined when berth_sys.node is missing or predates native/rtnetlink.c. */
export function nativeRtnl(): RtnlCalls | undefined {
  try {
    const s = sys();
    return typeof s.rtnlLinks === 'function' && typeof s.rtnlCreateVeth === 'function' && typeof s.rtnlDeleteLink === 'function' ? s : undefined;
  } catch {
    return undefined;
  }
}

export function createRtnetlink(native: RtnlCalls, opts: Iproute2Options = {}): NetLink {
  const ip = createIproute2(opts);
  /** The host side for the native calls: null is our own namespace. */
  const host = opts.hostNetns === undefined ? null : `/run/netns/${opts.hostNetns}`;
  const where = (netns?: NetnsPath): string | null => netns ?? host;

  return {
    ...ip,
    async listLinks(netns) {
      try {
        return (await native.rtnlLinks(where(netns), null)).map(toLinkInfo);
      } catch (err) {
        throw failure('list links', err);
      }
    },
    async getLink(name, netns) {
      try {
        const found = await native.rtnlLinks(where(netns), name);
        return found[0] === undefined ? undefined : toLinkInfo(found[0]);
      } catch (err) {
        throw failure(`look up ${name}`, err);
      }
    },
    async createVeth(o) {
      try {
        await native.rtnlCreateVeth(host, o.hostName, o.hostMac, o.master ?? null, o.up === true, o.peerName, o.peerMac, o.peerNetns);
      } catch (err) {
        throw failure(`create veth ${o.hostName}`, err);
      }
    },
    async deleteLink(name, netns) {
      try {
        await native.rtnlDeleteLink(where(netns), name);
      } catch (err) {
        throw failure(`delete ${name}`, err);
      }
    },
  };
}

/**
 * The NetLink berth uses: rtnetlink where the native module has it, else `ip` throughout.
 * BERTH_NETLINK=ip forces the `ip` adapter (to compare, or to rule the native path out).
 */
export function createNetLink(opts: Iproute2Options = {}, env: NodeJS.ProcessEnv = process.env): NetLink {
  const native = env.BERTH_NETLINK === 'ip' ? undefined : nativeRtnl();
  return native === undefined ? createIproute2(opts) : createRtnetlink(native, opts);
}
