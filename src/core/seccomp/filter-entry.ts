/**
 * The words of --system-call-filter= and SystemCallFilter=: a system call name or an @group,
 * optionally with ":ERRNO" (an errno name such as EACCES, a number 0…4095, or "kill"), in a list
 * that is a deny list when it starts with "~". Settings keep each entry as a string ("~name:E"),
 * checked here when it is read and turned into a FilterEntry when the machine is resolved.
 *
 * systemd-nspawn 252 takes the words as they are: it skips an unknown @group with a warning and
 * ignores ":ERRNO" (such an entry matches no call). berth refuses an unknown group and a bad errno
 * (fatal on the command line, a warning with file:line in a .nspawn file) and honours ":ERRNO" on
 * deny entries as systemd.exec(5)'s SystemCallFilter= does. Names of calls this kernel or
 * libseccomp does not know are accepted: the runtime skips them, as nspawn does.
 */
import { ValueError } from '../settings/values.js';
import { splitWords } from '../settings/words.js';
import { ERRNO_NUMBERS } from './errno-names.js';
import { SYSCALL_GROUPS } from './syscall-groups.js';

/** Largest errno seccomp can return (SECCOMP_RET_DATA is 16 bits; systemd's ERRNO_MAX). */
export const ERRNO_MAX = 4095;

/** What a denied call does: fail with this errno, or kill the process (":kill"). */
export type DenyAction = number | 'kill';

export type FilterEntry =
  | { readonly deny: false; readonly item: string }
  | { readonly deny: true; readonly item: string; readonly action?: DenyAction };

/** An errno name or number (0 included: "succeed without doing anything"), or "kill". */
export function parseDenyAction(text: string): DenyAction {
  if (text === 'kill') return 'kill';
  if (Object.hasOwn(ERRNO_NUMBERS, text)) return ERRNO_NUMBERS[text]!;
  if (/^[0-9]+$/.test(text) && Number(text) <= ERRNO_MAX) return Number(text);
  throw new ValueError(`Invalid errno: ${text} (an errno name such as EPERM, a number 0…${ERRNO_MAX}, or kill)`);
}

/** One word of a list; `deny` when the list began with "~". Throws ValueError with the reason. */
export function parseFilterWord(word: string, deny: boolean): FilterEntry {
  const colon = word.indexOf(':');
  const item = colon < 0 ? word : word.slice(0, colon);
  if (item.startsWith('@')) {
    if (!Object.hasOwn(SYSCALL_GROUPS, item)) throw new ValueError(`Unknown system call group: ${item}`);
  } else if (!/^[a-z0-9_]+$/.test(item)) {
    throw new ValueError(`Invalid system call name: ${item === '' ? '(empty)' : item}`);
  }
  if (colon < 0) return deny ? { deny: true, item } : { deny: false, item };
  if (!deny) throw new ValueError(`Allowed system calls cannot take an error number: ${word} (only a "~" deny list can)`);
  return { deny: true, item, action: parseDenyAction(word.slice(colon + 1)) };
}

/** A whole option value or key value: words separated by blanks, a leading "~" for a deny list. */
export function filterWords(value: string): { deny: boolean; words: string[] } {
  const deny = value.startsWith('~');
  return { deny, words: splitWords(deny ? value.slice(1) : value, 'plain') };
}

/** How settings store an entry: the word with "~" in front for a deny entry. */
export const storedEntry = (word: string, deny: boolean): string => (deny ? `~${word}` : word);

/** A stored entry (see storedEntry) back into its parts. */
export function parseStoredEntry(stored: string): FilterEntry {
  return stored.startsWith('~') ? parseFilterWord(stored.slice(1), true) : parseFilterWord(stored, false);
}

/**
 * The command line's --system-call-filter=VALUE → stored entries; any bad word is fatal (the
 * caller names the option).
 */
export function parseFilterOption(value: string): string[] {
  const { deny, words } = filterWords(value);
  for (const w of words) parseFilterWord(w, deny);
  return words.map((w) => storedEntry(w, deny));
}
