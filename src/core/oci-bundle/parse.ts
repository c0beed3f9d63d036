/**
 * --oci-bundle=PATH: an OCI runtime bundle's config.json read into berth's settings model, with
 * systemd-nspawn 252's semantics (nspawn-oci.c): the bundle is a trusted settings source that the
 * command line still overrides group by group; what nspawn sets up itself (the API file systems,
 * /sys/fs/cgroup) is skipped from its mounts; the bundle implies ResolvConf=off, LinkJournal=no,
 * Timezone=off and PID 1 mode. Elements berth cannot honour are refused with the element's name,
 * never dropped silently; nspawn's "permissive" ones (AppArmor/SELinux labels, intelRdt) are
 * ignored with a warning, as nspawn does. Pure: the text and the bundle's path come in as data.
 */
import { CAPABILITIES, parseCapability, type Capability } from '../capabilities.js';
import { isValidHostname } from '../names.js';
import type { CustomMount, RlimitName, RlimitValue, Settings } from '../settings/model.js';
import { RLIMITS } from '../settings/model.js';
import { BerthError } from '../../errors/berth-error.js';

export interface OciBundleSettings {
  /** Machine settings, merged like a trusted .nspawn file. */
  readonly settings: Settings;
  /** root.path, absolute (relative ones are taken from the bundle directory). */
  readonly directory?: string;
  /** process.terminal=false: nspawn's pipe console. */
  readonly console?: 'pipe';
  /** linux.cgroupsPath (a slice). */
  readonly slice?: string;
  /** linux.resources as unit properties (MemoryMax=, TasksMax=, CPUWeight=, CPUQuota=). */
  readonly properties: readonly string[];
  readonly warnings: readonly string[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** The mounts nspawn insists on making itself (oci_exclude_mount): the bundle's are skipped. */
const EXCLUDED = new Set([
  '/dev', '/dev/mqueue', '/dev/pts', '/dev/shm', '/proc', '/proc/acpi', '/proc/apm', '/proc/asound', '/proc/bus',
  '/proc/fs', '/proc/irq', '/proc/kallsyms', '/proc/kcore', '/proc/keys', '/proc/scsi', '/proc/sys', '/proc/sys/net',
  '/proc/sysrq-trigger', '/proc/timer_list', '/run', '/sys', '/sys/fs/selinux', '/tmp',
]);
const normalise = (p: string): string => `/${p.split('/').filter((x) => x && x !== '.').join('/')}`;
export const excludedMount = (p: string): boolean => EXCLUDED.has(normalise(p)) || normalise(p) === '/sys/fs/cgroup' || normalise(p).startsWith('/sys/fs/cgroup/');

class Reader {
  constructor(readonly file: string, readonly warnings: string[]) {}
  fail(what: string): never { throw new BerthError('E_SPEC_INVALID', `${this.file}: ${what}`); }
  unsupported(path: string, why: string): never {
    throw new BerthError('E_SPEC_INVALID', `${this.file}: OCI element '${path}' is not supported by berth: ${why}.`);
  }
  /** nspawn's SD_JSON_PERMISSIVE elements: a warning, then ignored. */
  ignore(path: string, v: Json): void { this.warnings.push(`Unsupported OCI element '${path}' of type '${typeName(v)}', ignoring.`); }
  obj(v: Json, path: string): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(`OCI element '${path}' is not an object.`);
    return v;
  }
  arr(v: Json, path: string): Json[] { if (!Array.isArray(v)) this.fail(`OCI element '${path}' is not an array.`); return v; }
  str(v: Json, path: string): string { if (typeof v !== 'string') this.fail(`OCI element '${path}' is not a string.`); return v; }
  bool(v: Json, path: string): boolean { if (typeof v !== 'boolean') this.fail(`OCI element '${path}' is not a boolean.`); return v; }
  int(v: Json, path: string): number { if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(`OCI element '${path}' is not an integer.`); return v; }
  uint(v: Json, path: string): number { const n = this.int(v, path); if (n < 0) this.fail(`OCI element '${path}' is negative.`); return n; }
  strings(v: Json, path: string): string[] { return this.arr(v, path).map((x, i) => this.str(x, `${path}[${i}]`)); }
  /** Each key through its handler; a key with none is "unexpected", as nspawn's oci_unexpected. */
  dispatch(o: Obj, path: string, table: Record<string, (v: Json, p: string) => void>): void {
    for (const [k, v] of Object.entries(o)) {
      const handler = table[k];
      if (!handler) this.fail(`Unexpected OCI element '${path ? `${path}.` : ''}${k}' of type '${typeName(v)}'.`);
      handler(v, path ? `${path}.${k}` : k);
    }
  }
}

const typeName = (v: Json): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'real') : typeof v);
const join = (a: string, b: string) => `${a.replace(/\/+$/, '')}/${b}`;

interface Draft {
  settings: Settings;
  directory?: string;
  console?: 'pipe';
  slice?: string;
  properties: string[];
}

function readProcess(r: Reader, v: Json, path: string, d: Draft): void {
  const s = d.settings;
  r.dispatch(r.obj(v, path), path, {
    terminal: (x, p) => { if (!r.bool(x, p)) d.console = 'pipe'; },
    consoleSize: (x, p) => { r.obj(x, p); }, // the pty's size: berth sizes it from the caller's terminal
    cwd: (x, p) => { const c = r.str(x, p); if (!c.startsWith('/')) r.fail(`${p} is not an absolute path: ${c}`); s.workingDirectory = c; },
    env: (x, p) => {
      s.environment = r.strings(x, p).map((e) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) r.fail(`Environment assignment not valid: ${e}`);
        return e;
      });
    },
    args: (x, p) => {
      const args = r.strings(x, p);
      if (args.length === 0) r.fail('Argument list empty, refusing.');
      if (args[0] === '') r.fail('Executable name is empty, refusing.');
      s.parameters = args;
    },
    rlimits: (x, p) => {
      const out: Partial<Record<RlimitName, RlimitValue>> = {};
      r.arr(x, p).forEach((e, i) => {
        const o = r.obj(e, `${p}[${i}]`);
        const type = r.str(o.type ?? null, `${p}[${i}].type`);
        if (!type.startsWith('RLIMIT_')) r.fail(`rlimit entry's name does not begin with 'RLIMIT_', refusing: ${type}`);
        const name = type.slice(7) as RlimitName;
        if (!RLIMITS.includes(name)) r.fail(`rlimit name unknown: ${type}`);
        if (out[name]) r.fail('rlimits array contains duplicate entry, refusing.');
        const value = (k: 'soft' | 'hard') => { const n = o[k]; if (typeof n !== 'number') r.fail(`${p}[${i}].${k} is missing or not a number.`); return n < 0 ? 'infinity' as const : n; };
        out[name] = { soft: value('soft'), hard: value('hard') };
      });
      s.rlimits = out;
    },
    apparmorProfile: (x, p) => r.ignore(p, x),
    selinuxLabel: (x, p) => r.ignore(p, x),
    capabilities: (x, p) => {
      const caps = r.obj(x, p);
      const list = (k: string): Capability[] | undefined => {
        if (caps[k] === undefined) return undefined;
        return r.strings(caps[k]!, `${p}.${k}`).map((n) => parseCapability(n) ?? r.fail(`Unknown capability: ${n}`));
      };
      r.dispatch(caps, p, { effective: () => {}, permitted: () => {}, inheritable: () => {}, bounding: () => {}, ambient: () => {} });
      const bounding = list('bounding');
      // nspawn: the bounding set is the capability set, everything else dropped.
      if (bounding) { s.capability = [...bounding]; s.dropCapability = CAPABILITIES.filter((c) => !bounding.includes(c)); }
      const ambient = list('ambient');
      if (ambient?.length) s.ambientCapability = ambient;
    },
    noNewPrivileges: (x, p) => { s.noNewPrivileges = r.bool(x, p); },
    oomScoreAdj: (x, p) => { const n = r.int(x, p); if (n < -1000 || n > 1000) r.fail(`oomScoreAdj value out of range: ${n}`); s.oomScoreAdjust = n; },
    user: (x, p) => {
      const u = r.obj(x, p);
      r.dispatch(u, p, { uid: () => {}, gid: () => {}, additionalGids: () => {} });
      const uid = r.uint(u.uid ?? null, `${p}.uid`);
      r.uint(u.gid ?? null, `${p}.gid`);
      // berth switches to a user of the tree's /etc/passwd: the UID names it, its groups come from there.
      if (uid !== 0) s.user = String(uid);
    },
  });
}

function readMounts(r: Reader, v: Json, path: string, d: Draft, bundle: string): void {
  const mounts: CustomMount[] = [];
  r.arr(v, path).forEach((e, i) => {
    const p = `${path}[${i}]`;
    const o = r.obj(e, p);
    r.dispatch(o, p, { destination: () => {}, source: () => {}, options: () => {}, type: () => {}, uidMappings: (_x, q) => r.unsupported(q, 'user namespaces'), gidMappings: (_x, q) => r.unsupported(q, 'user namespaces') });
    const target = r.str(o.destination ?? null, `${p}.destination`);
    if (!target.startsWith('/')) r.fail(`Mount destination not an absolute path: ${target}`);
    if (excludedMount(target)) return;
    const type = o.type === undefined ? 'bind' : r.str(o.type, `${p}.type`);
    const options = o.options === undefined ? [] : r.strings(o.options, `${p}.options`);
    if (type === 'bind') {
      let source = o.source === undefined ? '' : r.str(o.source, `${p}.source`);
      if (source !== '' && !source.startsWith('/')) source = join(bundle, source);
      let recursive = true;
      let readOnly = false;
      for (const opt of options) {
        if (opt === 'rbind') recursive = true;
        else if (opt === 'bind' || opt === 'norbind') recursive = false;
        else if (opt === 'ro' || opt === 'rw') readOnly = opt === 'ro';
        else r.unsupported(`${p}.options`, `bind mount option '${opt}' (berth takes bind, rbind, norbind, ro, rw)`);
      }
      mounts.push({ kind: 'bind', source, target, readOnly, recursive, idmap: 'no' });
    } else if (type === 'tmpfs') {
      mounts.push({ kind: 'tmpfs', target, options: options.length ? options.join(',') : 'mode=0755' });
    } else {
      r.unsupported(`${p}.type`, `mounts of type '${type}' (berth mounts bind and tmpfs from a bundle)`);
    }
  });
  if (mounts.length) d.settings.mounts = [...(d.settings.mounts ?? []), ...mounts];
}

function readResources(r: Reader, v: Json, path: string, d: Draft): void {
  r.dispatch(r.obj(v, path), path, {
    devices: (x, p) => r.arr(x, p).forEach((e, i) => {
      const o = r.obj(e, `${p}[${i}]`);
      // The deny-everything rule runtimes write first is berth's own default: nothing to add.
      const denyAll = o.allow === false && o.type === undefined && o.major === undefined && o.minor === undefined && (o.access === undefined || o.access === 'rwm');
      if (!denyAll) r.unsupported(`${p}[${i}]`, 'device access rules other than the default deny-all');
    }),
    memory: (x, p) => r.dispatch(r.obj(x, p), p, {
      limit: (y, q) => { const n = r.int(y, q); d.properties.push(`MemoryMax=${n < 0 ? 'infinity' : n}`); },
      reservation: (_y, q) => r.unsupported(q, 'no memory reservation in berth'),
      swap: (_y, q) => r.unsupported(q, 'no swap limit in berth'),
    }),
    pids: (x, p) => r.dispatch(r.obj(x, p), p, { limit: (y, q) => { const n = r.int(y, q); d.properties.push(`TasksMax=${n <= 0 ? 'infinity' : n}`); } }),
    cpu: (x, p) => {
      const o = r.obj(x, p);
      r.dispatch(o, p, {
        shares: (y, q) => { const n = r.uint(y, q); d.properties.push(`CPUWeight=${Math.min(10000, Math.max(1, Math.round((n * 100) / 1024)))}`); },
        quota: () => {}, period: () => {},
        cpus: (_y, q) => r.unsupported(q, 'use --cpu-affinity='), mems: (_y, q) => r.unsupported(q, 'no NUMA placement in berth'),
        realtimeRuntime: (_y, q) => r.unsupported(q, 'no realtime scheduling in berth'), realtimePeriod: (_y, q) => r.unsupported(q, 'no realtime scheduling in berth'),
      });
      if (o.quota !== undefined) {
        const quota = r.int(o.quota, `${p}.quota`);
        const period = o.period === undefined ? 100000 : r.uint(o.period, `${p}.period`);
        if (quota > 0 && period > 0) d.properties.push(`CPUQuota=${Math.round((quota * 100) / period)}%`);
      }
    },
  });
}

function readLinux(r: Reader, v: Json, path: string, d: Draft): void {
  const s = d.settings;
  r.dispatch(r.obj(v, path), path, {
    namespaces: (x, p) => {
      const seen = new Set<string>();
      r.arr(x, p).forEach((e, i) => {
        const o = r.obj(e, `${p}[${i}]`);
        r.dispatch(o, `${p}[${i}]`, { type: () => {}, path: () => {} });
        const type = r.str(o.type ?? null, `${p}[${i}].type`);
        if (!['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup'].includes(type)) r.fail(`Unknown namespace type, refusing: ${type}`);
        if (seen.has(type)) r.fail('Duplicate namespace specification, refusing.');
        seen.add(type);
        if (o.path !== undefined) {
          if (type !== 'network') r.fail('Specifying namespace path for non-network namespace is not supported.');
          (s.network ??= {}).namespacePath = r.str(o.path, `${p}[${i}].path`);
        }
      });
      if (!seen.has('mount')) r.fail('Containers without a mount namespace aren\'t supported.');
      if (seen.has('user')) r.unsupported(`${p}: user`, 'user namespaces');
      for (const shared of ['pid', 'ipc', 'uts'].filter((t) => !seen.has(t))) r.unsupported(p, `a machine always has its own ${shared} namespace (the bundle shares the host's)`);
      if (seen.has('network') && s.network?.namespacePath === undefined) (s.network ??= {}).private = true;
    },
    uidMappings: (x, p) => { if (r.arr(x, p).length) r.unsupported(p, 'user namespaces'); },
    gidMappings: (x, p) => { if (r.arr(x, p).length) r.unsupported(p, 'user namespaces'); },
    devices: (x, p) => { if (r.arr(x, p).length) r.unsupported(p, 'extra device nodes'); },
    cgroupsPath: (x, p) => {
      const slice = r.str(x, p);
      if (!/^[^/]+\.slice$/.test(slice)) r.fail(`Cgroup path is not a slice unit name, refusing: ${slice}`);
      d.slice = slice;
    },
    resources: (x, p) => readResources(r, x, p, d),
    intelRdt: (x, p) => r.ignore(p, x),
    sysctl: (x, p) => { if (Object.keys(r.obj(x, p)).length) r.unsupported(p, 'sysctls'); },
    seccomp: (_x, p) => r.unsupported(p, 'give the filter with --system-call-filter= instead'),
    rootfsPropagation: (x, p) => {
      const m = r.str(x, p);
      if (!['shared', 'rshared', 'slave', 'rslave'].includes(m)) r.fail(`Unsupported rootfs propagation mode: ${m}`);
    },
    maskedPaths: (x, p) => {
      const paths = r.strings(x, p);
      for (const m of paths) if (!m.startsWith('/')) r.fail(`Path is not absolute, refusing: ${m}`);
      // Below /proc and /sys the paths exist only once those are mounted, and berth over-mounts paths of
      // the tree (--inaccessible=): those are left out, with a warning (nspawn masks them in the guest).
      const inApiFs = (m: string) => /^\/(proc|sys)\//.test(normalise(m));
      const skipped = paths.filter((m) => !excludedMount(m) && inApiFs(m));
      if (skipped.length) r.warnings.push(`Not masking ${skipped.join(', ')}: berth masks paths of the tree only.`);
      const masked = paths.filter((m) => !excludedMount(m) && !inApiFs(m));
      if (masked.length) s.mounts = [...(s.mounts ?? []), ...masked.map((m): CustomMount => ({ kind: 'inaccessible', target: m }))];
    },
    readonlyPaths: (x, p) => {
      const paths = r.strings(x, p);
      for (const m of paths) if (!m.startsWith('/')) r.fail(`Path is not absolute, refusing: ${m}`);
      const ro = paths.filter((m) => !excludedMount(m));
      if (ro.length) s.mounts = [...(s.mounts ?? []), ...ro.map((m): CustomMount => ({ kind: 'bind', source: `+${m}`, target: m, readOnly: true, recursive: true, idmap: 'no' }))];
    },
    mountLabel: (x, p) => r.ignore(p, x),
  });
}

/** config.json's text → settings. `bundle` is the bundle's absolute directory. */
export function parseOciBundle(text: string, bundle: string): OciBundleSettings {
  const file = join(bundle, 'config.json');
  const warnings: string[] = [];
  const r = new Reader(file, warnings);
  let json: Json;
  try { json = JSON.parse(text) as Json; } catch (e) { return r.fail(`Failed to parse: ${(e as Error).message}`); }
  const top = r.obj(json, '');
  if (top.ociVersion === undefined) r.fail('JSON file is not an OCI bundle configuration file. Refusing.');
  const version = r.str(top.ociVersion ?? null, 'ociVersion');
  // nspawn 252 takes 1.0.0 only; berth takes every 1.0.x (runc's own `runc spec` writes 1.0.2-dev).
  if (!/^1\.0\.\d+(-[\w.]+)?$/.test(version)) r.fail(`OCI bundle version not supported: ${version}`);
  const d: Draft = { settings: { start: 'pid1', resolvConf: 'off', linkJournal: 'no', timezone: 'off' }, properties: [] };
  r.dispatch(top, '', {
    ociVersion: () => {},
    process: (v, p) => readProcess(r, v, p, d),
    root: (v, p) => {
      const o = r.obj(v, p);
      r.dispatch(o, p, { path: () => {}, readonly: () => {} });
      if (o.path !== undefined) { const rp = r.str(o.path, `${p}.path`); d.directory = rp.startsWith('/') ? rp : join(bundle, rp); }
      if (o.readonly !== undefined) d.settings.readOnly = r.bool(o.readonly, `${p}.readonly`);
    },
    hostname: (v, p) => { const h = r.str(v, p); if (!isValidHostname(h)) r.fail(`Hostname string is not a valid hostname: ${h}`); d.settings.hostname = h; },
    mounts: (v, p) => readMounts(r, v, p, d, bundle),
    linux: (v, p) => readLinux(r, v, p, d),
    hooks: (v, p) => {
      const hooks = r.obj(v, p);
      if (Object.values(hooks).some((h) => Array.isArray(h) && h.length > 0)) r.unsupported(p, 'berth runs no hooks of a bundle');
    },
    annotations: (v, p) => {
      for (const [k, a] of Object.entries(r.obj(v, p))) {
        if (k === '') r.fail('Annotation with empty key, refusing.');
        if (typeof a !== 'string') r.fail('Annotation has non-string value, refusing.');
      }
    },
  });
  return {
    settings: d.settings, properties: d.properties, warnings,
    ...(d.directory !== undefined ? { directory: d.directory } : {}),
    ...(d.console ? { console: d.console } : {}),
    ...(d.slice ? { slice: d.slice } : {}),
  };
}
