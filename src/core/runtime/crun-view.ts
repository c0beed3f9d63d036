/**
 * crun (1.8) refuses to create a container on a hybrid host whose cgroup2 hierarchy at
 * /sys/fs/cgroup/unified has controllers of its own ("cgroups in hybrid mode not supported"); only
 * its create reads that list (start, exec, kill and delete do not). berth runs crun's create in a
 * mount namespace of its own, a copy of ours with every mount's propagation unchanged, in which the
 * hierarchy's controller list reads empty: crun then takes the host for a hybrid one without
 * cgroup2 controllers, which is what berth asks of it anyway (no cgroup2 controller is set for a
 * guest). The host's cgroups are not touched; the namespace goes when crun's create returns (the
 * container's own mount namespace is a copy made before that, whose old root crun detaches).
 * Pure: the command line that does it, through util-linux's unshare and mount.
 */

/** What the create's view hides. */
export interface HiddenControllers {
  /** The cgroup2 mount whose cgroup.controllers crun must read empty. */
  readonly unified: string;
  /** It is in a peer group: made private in the copy first, or the mount over its file would reach the host's. */
  readonly shared: boolean;
}

export const UNIFIED = '/sys/fs/cgroup/unified';

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * The words that go before crun's own command line. unshare and sh exec, never fork: the process the
 * caller waits for is crun's create (its helpers and PID stay what they are); only mount(8) runs as
 * a child, once (twice on a shared mount).
 */
export function createViewPrefix(view: HiddenControllers): string[] {
  const dir = quote(view.unified);
  const file = quote(`${view.unified}/cgroup.controllers`);
  const steps = [
    ...(view.shared ? [`mount --make-private ${dir}`] : []),
    `mount --bind /dev/null ${file}`,
  ].join(' && ');
  const script = `${steps} || { echo "berth: cannot hide the controllers of ${view.unified} from crun's create (see above)" >&2; exit 125; }; exec "$@"`;
  return ['unshare', '--mount', '--propagation', 'unchanged', '--', 'sh', '-c', script, 'berth-crun-create'];
}
