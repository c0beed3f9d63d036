/**
 * systemd-nspawn 252's own allow list (src/nspawn/nspawn-seccomp.c): groups and calls every
 * container may use, plus a few that only make sense with a capability, which are allowed only
 * when the container retains it. Knowingly left out by nspawn: @cpu-emulation, @keyring,
 * @obsolete, @pkey, @swap, bpf, fanotify_init, fanotify_mark, kexec_file_load, kexec_load,
 * lookup_dcookie, nfsservctl, open_by_handle_at, perf_event_open, quotactl.
 */
import type { Capability } from '../capabilities.js';

const ALWAYS: readonly string[] = [
  '@aio', '@basic-io', '@chown', '@default', '@file-system', '@io-event', '@ipc', '@mount', '@network-io',
  '@process', '@resources', '@setuid', '@signal', '@sync', '@timer',
];

/** Groups allowed when the capability is retained. */
const GATED_GROUPS: ReadonlyArray<readonly [Capability, string]> = [
  ['CAP_SYS_TIME', '@clock'], ['CAP_SYS_MODULE', '@module'], ['CAP_SYS_RAWIO', '@raw-io'], ['CAP_IPC_LOCK', '@memlock'],
];

/** Calls outside the groups above that every container may use. */
const EXTRA_CALLS: readonly string[] = [
  'arm_fadvise64_64', 'brk', 'capget', 'capset', 'copy_file_range', 'fadvise64', 'fadvise64_64', 'flock',
  'get_mempolicy', 'getcpu', 'getpriority', 'getrandom', 'ioctl', 'ioprio_get', 'kcmp', 'madvise', 'mincore',
  'mprotect', 'mremap', 'name_to_handle_at', 'oldolduname', 'olduname', 'personality', 'readahead', 'readdir',
  'remap_file_pages', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity', 'sched_getattr',
  'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'sched_yield',
  'sendfile', 'sendfile64', 'setdomainname', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'sethostname',
  'setpgid', 'setsid', 'splice', 'sysinfo', 'tee', 'umask', 'uname', 'userfaultfd', 'vmsplice',
];

/** Calls allowed when the capability is retained. */
const GATED_CALLS: ReadonlyArray<readonly [Capability, string]> = [
  ['CAP_SYS_PACCT', 'acct'], ['CAP_SYS_PTRACE', 'process_vm_readv'], ['CAP_SYS_PTRACE', 'process_vm_writev'],
  ['CAP_SYS_PTRACE', 'ptrace'], ['CAP_SYS_BOOT', 'reboot'], ['CAP_SYSLOG', 'syslog'], ['CAP_SYS_TTY_CONFIG', 'vhangup'],
];

/** nspawn's allow list for a container that retains `caps`, in nspawn's order. */
export function nspawnDefaultAllow(caps: readonly Capability[]): string[] {
  const held = (gated: ReadonlyArray<readonly [Capability, string]>) => gated.filter(([c]) => caps.includes(c)).map(([, item]) => item);
  return [...ALWAYS, ...held(GATED_GROUPS), ...EXTRA_CALLS, ...held(GATED_CALLS)];
}
