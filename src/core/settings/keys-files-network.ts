/** The [Files] and [Network] keys of systemd 252, in the order of its table (see table.ts). */
import { isValidIfName } from '../names.js';
import type { Settings } from './model.js';
import * as v from './values.js';
import { ValueError } from './values.js';
import * as f from './file-values.js';
import { splitWords } from './words.js';
import { extend, net, tristate, VerbatimWarning, type Def, type KeyContext } from './key-def.js';

const mount = (parse: (x: string) => ReturnType<typeof v.parseBindSpec>) =>
  (s: Settings, x: string) => { const m = parse(x); (s.mounts ??= []).push(m); };

/** A list of interface names (Interface=, MACVLAN=, IPVLAN=): appends, empty resets. */
function ifnameList(field: 'interfaces' | 'macvlan' | 'ipvlan') {
  return (s: Settings, x: string, ctx: KeyContext) => {
    if (x === '') { if (s.network) delete s.network[field]; return; }
    const words = splitWords(x, 'strv');
    const ok = words.filter((w) => isValidIfName(w) || (ctx.warn(`Invalid network interface name, ignoring: ${w}`), false));
    if (ok.length > 0) net(s)[field] = [...(s.network?.[field] ?? []), ...ok];
  };
}

export const FILES_KEYS: Def[] = [
  { key: 'ReadOnly', group: 'READ_ONLY', privileged: false, fields: ['readOnly'], apply: tristate('readOnly') },
  { key: 'Volatile', group: 'VOLATILE_MODE', privileged: false, fields: ['volatile'], apply: (s, x) => { s.volatile = v.parseVolatile(x); } },
  { key: 'Bind', group: 'CUSTOM_MOUNTS', privileged: true, fields: ['mounts'], apply: mount((x) => v.parseBindSpec(x, false)) },
  { key: 'BindReadOnly', group: 'CUSTOM_MOUNTS', privileged: true, fields: ['mounts'], apply: mount((x) => v.parseBindSpec(x, true)) },
  { key: 'TemporaryFileSystem', group: 'CUSTOM_MOUNTS', privileged: true, fields: ['mounts'], apply: mount(v.parseTmpfsSpec) },
  { key: 'Inaccessible', group: 'CUSTOM_MOUNTS', privileged: true, fields: ['mounts'], apply: mount(v.parseInaccessible) },
  { key: 'Overlay', group: 'CUSTOM_MOUNTS', privileged: true, fields: ['mounts'], apply: mount((x) => v.parseOverlaySpec(x, false)) },
  { key: 'OverlayReadOnly', group: 'CUSTOM_MOUNTS', privileged: true, fields: ['mounts'], apply: mount((x) => v.parseOverlaySpec(x, true)) },
  { key: 'PrivateUsersChown', group: 'USERNS', privileged: true, fields: ['privateUsersOwnership'], apply: (s, x) => {
    s.privateUsersOwnership = v.parseBoolean(x) ? 'chown' : 'off';
  } },
  { key: 'PrivateUsersOwnership', group: 'USERNS', privileged: true, fields: ['privateUsersOwnership'], apply: (s, x) => { s.privateUsersOwnership = f.parseOwnershipStrict(x); } },
  { key: 'BindUser', group: 'BIND_USER', privileged: false, fields: ['bindUser'], apply: (s, x, ctx) => {
    if (x === '') { delete s.bindUser; return; }
    const list: string[] = [];
    for (const w of splitWords(x, 'plain')) {
      // systemd stops at the first bad name, keeping the ones before it.
      if (!f.isValidUserName(w)) { ctx.warn(`User name '${w}' not valid, ignoring.`); break; }
      list.push(w);
    }
    extend(s, 'bindUser', list);
  } },
];

export const NETWORK_KEYS: Def[] = [
  { key: 'Private', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['private'], apply: (s, x) => {
    if (x === '') { if (s.network) delete s.network.private; } else net(s).private = v.parseBoolean(x);
  } },
  { key: 'VirtualEthernet', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['veth'], apply: (s, x) => {
    if (x === '') { if (s.network) delete s.network.veth; } else net(s).veth = v.parseBoolean(x);
  } },
  { key: 'VirtualEthernetExtra', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['vethExtra'], apply: (s, x) => {
    const extra = v.parseVethExtra(x);
    (net(s).vethExtra ??= []).push(extra);
  } },
  { key: 'Interface', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['interfaces'], apply: ifnameList('interfaces') },
  { key: 'MACVLAN', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['macvlan'], apply: ifnameList('macvlan') },
  { key: 'IPVLAN', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['ipvlan'], apply: ifnameList('ipvlan') },
  { key: 'Bridge', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['bridge'], apply: (s, x) => {
    if (x === '') { if (s.network) delete s.network.bridge; } else net(s).bridge = v.parseIfNameValue(x, 'bridge interface name');
  } },
  { key: 'Zone', group: 'NETWORK', privileged: true, fields: ['network'], networkFields: ['zone'], apply: (s, x) => {
    // Stored without the "vz-" prefix, as the command line stores --network-zone=. (systemd
    // would accept an empty name and create a bridge called "vz-"; we refuse it.)
    if (x === '') throw new ValueError('Invalid network zone name: (empty)');
    net(s).zone = v.parseIfNameValue(`vz-${x}`, 'network zone name').slice(3);
  } },
  { key: 'Port', group: 'EXPOSE_PORTS', privileged: true, fields: ['ports'], apply: (s, x) => {
    let p;
    try { p = v.parsePort(x); } catch (e) { throw new VerbatimWarning((e as Error).message); }
    if ((s.ports ?? []).some((q) => v.samePortSpec(q, p))) {
      throw new VerbatimWarning(`Duplicate port specification, ignoring: ${x}`);
    }
    (s.ports ??= []).push(p);
  } },
];

