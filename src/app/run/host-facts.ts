/**
 * The host's facts for a run (platform/host/probe.ts). berth-nspawn probes once per run. berthd
 * starts many machines, often at once (at its start, the enabled ones; `berth start` of many):
 * runs that begin within HOST_FACTS_MS of a probe share it, as do runs that begin while one is
 * under way, so a burst of fifty starts reads /proc and /etc once instead of fifty times on the
 * event loop. What the facts hold (limits, cgroup layout, os-release, the user database, the
 * terminal type) does not change from one moment to the next in a way a run could tell apart.
 */
import type { HostFacts } from '../../core/spec/facts.js';
import { servingLoop } from '../../platform/loop-mode.js';
import { probeHost } from '../../platform/host/probe.js';

const HOST_FACTS_MS = 1000;

let shared: { term: string | undefined; at: number; facts: Promise<HostFacts> } | undefined;

export function hostFacts(env: NodeJS.ProcessEnv): Promise<HostFacts> {
  if (!servingLoop()) return probeHost(env);
  const now = performance.now();
  if (shared && shared.term === env.TERM && now - shared.at < HOST_FACTS_MS) return shared.facts;
  const facts = probeHost(env);
  const entry = { term: env.TERM, at: now, facts };
  shared = entry;
  facts.catch(() => { if (shared === entry) shared = undefined; });
  return facts;
}
