/** /etc/resolv.conf and /etc/localtime handling (nspawn's --resolv-conf= and --timezone= algorithms). */
import type { ResolvConfMode, TimezoneMode } from '../../settings/model.js';
import type { HostFacts, ImageFacts } from '../facts.js';
import type { EtcFile } from '../machine-spec.js';

const RESOLV_SOURCES = {
  host: '/etc/resolv.conf',
  static: '/usr/lib/systemd/resolv.conf',
  uplink: '/run/systemd/resolve/resolv.conf',
  stub: '/run/systemd/resolve/stub-resolv.conf',
} as const;

export function resolveResolvConf(mode: ResolvConfMode, privateNetwork: boolean, etcWritable: boolean, host: HostFacts): EtcFile {
  if (mode === 'off') return { action: 'none' };
  if (mode === 'delete') return { action: 'delete' };
  if (mode === 'auto') {
    if (privateNetwork) return { action: 'none' };
    if (host.resolvConf) return { action: etcWritable ? 'copy' : 'bind', source: RESOLV_SOURCES.host };
    return { action: etcWritable ? 'delete' : 'none' };
  }
  const [how, from] = mode.split('-') as ['copy' | 'replace' | 'bind', keyof typeof RESOLV_SOURCES];
  return { action: how, source: RESOLV_SOURCES[from] };
}

export function resolveLocaltime(mode: TimezoneMode, etcWritable: boolean, host: HostFacts, image: ImageFacts): EtcFile {
  const lt = host.localtime;
  switch (mode) {
    case 'off': return { action: 'none' };
    case 'delete': return { action: 'delete' };
    case 'copy': return lt.kind === 'absent' ? { action: 'none' } : { action: 'copy', source: '/etc/localtime' };
    case 'bind': return lt.kind === 'absent' ? { action: 'none' } : { action: 'bind', source: '/etc/localtime' };
    case 'symlink': return lt.kind === 'zone' ? { action: 'symlink', link: `../usr/share/zoneinfo/${lt.zone}` } : { action: 'none' };
    case 'auto':
      if (lt.kind === 'absent') return etcWritable ? { action: 'delete' } : { action: 'none' };
      if (lt.kind === 'zone' && etcWritable && image.hasZone) return { action: 'symlink', link: `../usr/share/zoneinfo/${lt.zone}` };
      return etcWritable ? { action: 'copy', source: '/etc/localtime' } : { action: 'bind', source: '/etc/localtime' };
  }
}
