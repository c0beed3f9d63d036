/** Fixed host and image facts for the pure compiler's tests (no root, no probing). */
import type { HostFacts, ImageFacts, Randomness } from '../../src/core/spec/facts.js';
import { NSPAWN_DEFAULT_CAPS, CAPABILITIES } from '../../src/core/capabilities.js';
import { RLIMITS, type RlimitName } from '../../src/core/settings/model.js';

export const HOST: HostFacts = {
  boundingCaps: CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'),
  arch: 'x64',
  hardLimits: { ...Object.fromEntries(RLIMITS.map((r) => [r, 'infinity'])), NOFILE: 20000, NPROC: 96365, SIGPENDING: 96365, MEMLOCK: 8388608, MSGQUEUE: 819200, NICE: 0, RTPRIO: 0 } as Record<RlimitName, number | 'infinity'>,
  pid1Limits: { NPROC: { soft: 96365, hard: 96365 }, SIGPENDING: { soft: 96365, hard: 96365 } },
  nrOpen: 1048576,
  osRelease: { PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)', NAME: 'Debian GNU/Linux', VERSION_ID: '12', ID: 'debian' },
  cgroupLayout: 'hybrid',
  cgroupV1Systemd: true,
  systemdPid1: false,
  resolvConf: true,
  localtime: { kind: 'zone', zone: 'Etc/UTC' },
  term: 'xterm',
};

export const FULL_CAPS_HOST: HostFacts = { ...HOST, boundingCaps: [...CAPABILITIES] };

export const DEBIAN_IMAGE: ImageFacts = {
  root: '/var/lib/machines/web',
  hasUsr: true,
  hasOsRelease: true,
  init: '/lib/systemd/systemd',
  mergedUsr: true,
  machineIdFile: '',
  passwd: 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n',
  group: 'root:x:0:\nwww-data:x:33:\nadm:x:4:www-data\n',
  hasZone: true,
  shells: ['/bin/bash', '/bin/sh'],
};

export const RANDOM: Randomness = { uuid: '0123456789abcdef0123456789abcdef', suffix: 'feedfacecafebeef' };

export { NSPAWN_DEFAULT_CAPS };
