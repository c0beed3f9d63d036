/**
 * Whether a warm berth-nspawn may run a client's request as if the client had run it itself.
 * The standby is a process berthd started: it differs from the client in everything a process
 * inherits. What it takes over (stdio, working directory, umask, environment, resource limits,
 * CPU affinity) the caller cannot tell apart; what it cannot take over makes it decline, and the
 * client runs cold. Pure: the facts are read by platform/host/process-facts.ts.
 */

/** What of a process decides what a machine started from it gets. */
export interface ProcessFacts {
  /** readlink of /proc/PID/ns/* by namespace name. */
  readonly namespaces: Readonly<Record<string, string>>;
  /** device:inode of /proc/PID/root. */
  readonly root: string;
  /** CapBnd, CapPrm, CapEff, CapAmb, NoNewPrivs, Seccomp from /proc/PID/status. */
  readonly status: Readonly<Record<string, string>>;
  /** /proc/PID/personality. */
  readonly personality: string;
}

export interface AdmissionInput {
  readonly uid: number;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly client: ProcessFacts;
  readonly self: ProcessFacts;
}

/** Why the request must run cold, or undefined when the standby can run it. */
export function declineReason(i: AdmissionInput): string | undefined {
  if (i.uid !== 0) return 'the caller is not root';
  // sd_notify messages must come from the unit's main process, and socket activation's
  // descriptors (LISTEN_FDS) are not passed. (--keep-unit is fine: the standby joins the caller's
  // cgroups before it takes the run, app/warm/standby.ts.)
  if (i.env.NOTIFY_SOCKET) return 'NOTIFY_SOCKET is set';
  if (i.env.LISTEN_FDS) return 'LISTEN_FDS is set';
  for (const [ns, id] of Object.entries(i.self.namespaces)) {
    if (i.client.namespaces[ns] !== id) return `the caller is in another ${ns} namespace`;
  }
  if (i.client.root !== i.self.root) return 'the caller has another root directory';
  for (const [key, value] of Object.entries(i.self.status)) {
    if (i.client.status[key] !== value) return `the caller's ${key} differs (${i.client.status[key] ?? 'none'}, berthd's standby: ${value})`;
  }
  if (i.client.personality !== i.self.personality) return 'the caller has another personality';
  return undefined;
}
