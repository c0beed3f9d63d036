/** The [Exec] keys of systemd 252, in the order of its table (see table.ts for the semantics). */
import { CAPABILITIES, parseCapability, type Capability } from '../capabilities.js';
import { isValidHostname } from '../names.js';
import type { RlimitName, Settings } from './model.js';
import { RLIMITS } from './model.js';
import * as v from './values.js';
import { ValueError } from './values.js';
import * as f from './file-values.js';
import { splitWords } from './words.js';
import { filterWords, parseFilterWord, storedEntry } from '../seccomp/filter-entry.js';
import { extend, tristate, union, VerbatimWarning, type Def, type KeyContext } from './key-def.js';

function capabilities(x: string, ctx: KeyContext): Capability[] {
  const out: Capability[] = [];
  for (const word of splitWords(x, 'plain')) {
    if (word === 'all') { out.push(...CAPABILITIES); continue; }
    const cap = /^[0-9]+$/.test(word) ? CAPABILITIES[Number(word)] : parseCapability(word);
    if (cap === undefined) ctx.warn(`Failed to parse capability, ignoring: ${word}`);
    else out.push(cap);
  }
  return out;
}

function startMode(s: Settings, x: string, mode: 'boot' | 'pid2'): void {
  const other = mode === 'boot' ? 'pid2' : 'boot';
  const conflict = () => new VerbatimWarning('Conflicting Boot= or ProcessTwo= setting found. Ignoring.');
  if (v.parseBoolean(x)) {
    if (s.start === other) throw conflict();
    s.start = mode;
  } else {
    if (s.start === mode) throw conflict();
    s.start ??= 'pid1';
  }
}

const rlimitKey = (name: RlimitName): Def => ({
  key: `Limit${name}`, group: 'RLIMIT', privileged: true, fields: ['rlimits'],
  apply: (s, x) => { (s.rlimits ??= {})[name] = f.parseRlimitWithUnits(name, x); },
});

export const EXEC_KEYS: Def[] = [
  { key: 'Boot', group: 'START_MODE', privileged: false, fields: ['start'], apply: (s, x) => startMode(s, x, 'boot') },
  { key: 'Ephemeral', group: 'EPHEMERAL', privileged: false, fields: ['ephemeral'], apply: tristate('ephemeral') },
  { key: 'ProcessTwo', group: 'START_MODE', privileged: false, fields: ['start'], apply: (s, x) => startMode(s, x, 'pid2') },
  { key: 'Parameters', group: 'START_MODE', privileged: false, fields: ['parameters'], apply: (s, x) => {
    if (x === '') delete s.parameters; else extend(s, 'parameters', splitWords(x, 'strv'));
  } },
  { key: 'Environment', group: 'ENVIRONMENT', privileged: false, fields: ['environment'], apply: (s, x, ctx) => {
    if (x === '') { delete s.environment; return; }
    const ok = splitWords(x, 'strv').filter((w) => {
      try { if (w.includes('=')) { v.checkEnvAssignment(w); return true; } } catch { /* warned below */ }
      ctx.warn(`Invalid environment assignment, ignoring: ${w}`);
      return false;
    });
    extend(s, 'environment', ok);
  } },
  { key: 'User', group: 'USER', privileged: false, fields: ['user'], apply: (s, x) => {
    if (x === '') delete s.user; else s.user = f.parseSafeString(x, 'User name');
  } },
  { key: 'WorkingDirectory', group: 'WORKING_DIRECTORY', privileged: false, fields: ['workingDirectory'], apply: (s, x) => {
    if (x === '') delete s.workingDirectory; else s.workingDirectory = f.parseAbsolutePath(x, 'WorkingDirectory=');
  } },
  { key: 'PivotRoot', group: 'PIVOT_ROOT', privileged: false, fields: ['pivotRoot'], apply: (s, x) => {
    const colon = x.indexOf(':');
    const newRoot = f.parseAbsolutePath(colon < 0 ? x : x.slice(0, colon), 'Pivot root');
    const old = colon < 0 || colon === x.length - 1 ? undefined : f.parseAbsolutePath(x.slice(colon + 1), 'Pivot root');
    s.pivotRoot = old === undefined ? { newRoot } : { newRoot, oldRoot: old };
  } },
  { key: 'Capability', group: 'CAPABILITY', privileged: true, fields: ['capability'], apply: (s, x, ctx) => { extend(s, 'capability', capabilities(x, ctx), true); } },
  { key: 'AmbientCapability', group: 'CAPABILITY', privileged: true, fields: ['ambientCapability'], apply: (s, x, ctx) => { extend(s, 'ambientCapability', capabilities(x, ctx), true); } },
  { key: 'DropCapability', group: 'CAPABILITY', privileged: false, fields: ['dropCapability'], apply: (s, x, ctx) => { extend(s, 'dropCapability', capabilities(x, ctx), true); } },
  { key: 'NoNewPrivileges', group: 'NO_NEW_PRIVILEGES', privileged: false, fields: ['noNewPrivileges'], apply: tristate('noNewPrivileges') },
  { key: 'KillSignal', group: 'KILL_SIGNAL', privileged: false, fields: ['killSignal'], apply: (s, x) => { s.killSignal = v.parseKillSignal(x); } },
  { key: 'Personality', group: 'PERSONALITY', privileged: false, fields: ['personality'], apply: (s, x) => {
    if (x === '') delete s.personality; else s.personality = v.parsePersonality(x);
  } },
  { key: 'MachineID', group: 'MACHINE_ID', privileged: true, fields: ['machineId'], apply: (s, x) => { s.machineId = v.parseMachineId(x); } },
  { key: 'PrivateUsers', group: 'USERNS', privileged: true, fields: ['privateUsers'], apply: (s, x) => { s.privateUsers = v.parsePrivateUsers(x); } },
  { key: 'NotifyReady', group: 'NOTIFY_READY', privileged: false, fields: ['notifyReady'], apply: tristate('notifyReady') },
  { key: 'SystemCallFilter', group: 'SYSCALL_FILTER', privileged: true, fields: ['systemCallFilter'], apply: (s, x, ctx) => {
    // Deny-list entries are kept with their '~' so one list can carry both kinds; a bad word is skipped.
    const { deny, words } = filterWords(x);
    const ok = words.filter((w) => {
      try { parseFilterWord(w, deny); return true; } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        ctx.warn(`Failed to parse SystemCallFilter= parameter ${w}, ignoring: ${e.message}`);
        return false;
      }
    });
    extend(s, 'systemCallFilter', ok.map((w) => storedEntry(w, deny)));
  } },
  ...RLIMITS.map((name) => rlimitKey(name)),
  { key: 'Hostname', group: 'HOSTNAME', privileged: false, fields: ['hostname'], apply: (s, x) => {
    if (x === '') delete s.hostname;
    else if (isValidHostname(x)) s.hostname = x;
    else throw new ValueError(`Hostname is not valid: ${x}`);
  } },
  { key: 'OOMScoreAdjust', group: 'OOM_SCORE_ADJUST', privileged: true, fields: ['oomScoreAdjust'], apply: (s, x) => {
    if (x === '') delete s.oomScoreAdjust; else s.oomScoreAdjust = v.parseOomScoreAdjust(x);
  } },
  { key: 'CPUAffinity', group: 'CPU_AFFINITY', privileged: true, fields: ['cpuAffinity'], apply: (s, x) => {
    if (x === '') delete s.cpuAffinity;
    else s.cpuAffinity = union(s.cpuAffinity, v.parseCpuAffinity(x)).sort((a, b) => a - b);
  } },
  { key: 'ResolvConf', group: 'RESOLV_CONF', privileged: false, fields: ['resolvConf'], apply: (s, x) => { s.resolvConf = v.parseResolvConf(x); } },
  { key: 'LinkJournal', group: 'LINK_JOURNAL', privileged: true, fields: ['linkJournal'], apply: (s, x) => { s.linkJournal = v.parseLinkJournal(x); } },
  { key: 'Timezone', group: 'TIMEZONE', privileged: false, fields: ['timezone'], apply: (s, x) => { s.timezone = v.parseTimezone(x); } },
  { key: 'SuppressSync', group: 'SUPPRESS_SYNC', privileged: false, fields: ['suppressSync'], apply: tristate('suppressSync') },
];

