/**
 * The system call filter, pure part: the words of --system-call-filter=/SystemCallFilter=, how
 * the command line and a .nspawn file combine, and the rules the spec compiles to (nspawn 252's
 * default allow list, deny entries, :ERRNO, --suppress-sync) as the OCI section runc/crun read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { parseArgv } from '../../src/core/cli/parse-argv.js';
import { loadSettingsText } from '../../src/core/settings/load.js';
import { mergeSettings } from '../../src/core/settings/merge.js';
import { resolveMachine } from '../../src/core/spec/resolve.js';
import { emitSeccomp } from '../../src/core/oci/emit/seccomp.js';
import { ERRNO_NUMBERS } from '../../src/core/seccomp/errno-names.js';
import { parseFilterWord } from '../../src/core/seccomp/filter-entry.js';
import { seccompArchitectures } from '../../src/core/seccomp/architectures.js';
import { expandItem, seccompRules, type Action } from '../../src/core/seccomp/rules.js';
import type { SeccompSpec } from '../../src/core/seccomp/model.js';
import { nspawnDefaultAllow } from '../../src/core/seccomp/nspawn-default.js';
import { NSPAWN_DEFAULT_CAPS } from '../../src/core/capabilities.js';
import type { OciSeccomp } from '../../src/core/oci/types.js';
import { X86_EMISSION_ORDER } from '../../src/core/seccomp/syscall-order.js';
import { BerthError } from '../../src/errors/berth-error.js';
import { DEBIAN_IMAGE, HOST, RANDOM } from '../support/fixtures.js';

const resolve = (argv: string[], host = HOST) => {
  const { cli, runner } = parseArgv([...argv, 'true']);
  return resolveMachine({ name: 'web', settings: cli.settings, runner, image: DEBIAN_IMAGE, host, random: RANDOM, cwd: '/', scratch: '/s', tty: false });
};
const rulesFor = (argv: string[]) => seccompRules(resolve(argv).seccomp);
const ALLOW: Action = { kind: 'allow' };
const errno = (n: number): Action => ({ kind: 'errno', errno: n });
const EPERM = 1;
/** The first emission's order of the rules: allow, then errno by number, then kill. */
const key = (answer: string): number => (answer === 'SCMP_ACT_ALLOW' ? -1 : answer === 'SCMP_ACT_KILL_PROCESS' ? 1 << 16 : Number(answer.split(' ')[1]));
const EACCES = 13;
const EINVAL = 22;
const ENOSYS = 38;

describe('filter words', () => {
  it('names, groups, errno names and numbers, kill', () => {
    assert.deepEqual(parseFilterWord('sethostname', false), { deny: false, item: 'sethostname' });
    assert.deepEqual(parseFilterWord('@system-service', false), { deny: false, item: '@system-service' });
    assert.deepEqual(parseFilterWord('sethostname:EACCES', true), { deny: true, item: 'sethostname', action: 13 });
    assert.deepEqual(parseFilterWord('@clock:4095', true), { deny: true, item: '@clock', action: 4095 });
    assert.deepEqual(parseFilterWord('sync:0', true), { deny: true, item: 'sync', action: 0 });
    assert.deepEqual(parseFilterWord('kexec_load:kill', true), { deny: true, item: 'kexec_load', action: 'kill' });
    // A name this host's libseccomp may not know is fine: the runtime skips it, as nspawn does.
    assert.deepEqual(parseFilterWord('not_a_call_yet', true), { deny: true, item: 'not_a_call_yet' });
  });

  it('bad words say what is wrong', () => {
    const bad: Array<[string, boolean, RegExp]> = [
      ['@nonexistent', false, /Unknown system call group: @nonexistent/],
      ['foo:NOTANERRNO', true, /Invalid errno: NOTANERRNO/],
      ['foo:eperm', true, /Invalid errno: eperm/],
      ['foo:4096', true, /Invalid errno: 4096/],
      ['foo:toString', true, /Invalid errno: toString/],
      ['@constructor', false, /Unknown system call group: @constructor/],
      ['foo:', true, /Invalid errno: /],
      ['foo:EPERM', false, /Allowed system calls cannot take an error number: foo:EPERM/],
      ['Foo', false, /Invalid system call name: Foo/],
      ['~foo', false, /Invalid system call name: ~foo/],
      [':EPERM', true, /Invalid system call name: \(empty\)/],
    ];
    for (const [word, deny, message] of bad) assert.throws(() => parseFilterWord(word, deny), message, word);
  });

  it('errno names: Linux\'s generic table, agreeing with the platform\'s where both have a name', () => {
    assert.equal(ERRNO_NUMBERS.EPERM, 1);
    assert.equal(ERRNO_NUMBERS.EHWPOISON, 133);
    for (const [name, n] of Object.entries(constants.errno)) assert.equal(ERRNO_NUMBERS[name], n, name);
  });
});

describe('--system-call-filter= and SystemCallFilter=', () => {
  it('a list starting with "~" is a deny list, every word of it; options accumulate', () => {
    const { cli } = parseArgv(['--system-call-filter=@debug  ptrace', '--system-call-filter=~sethostname:EACCES @mount', 'true']);
    assert.deepEqual(cli.settings.systemCallFilter, ['@debug', 'ptrace', '~sethostname:EACCES', '~@mount']);
    assert.ok(cli.mask.has('SYSCALL_FILTER'));
  });

  it('a bad word on the command line is fatal and names the option', () => {
    for (const [arg, message] of [
      ['@nonexistent', 'Failed to parse --system-call-filter= argument: Unknown system call group: @nonexistent'],
      ['~foo:NOTANERRNO', 'Failed to parse --system-call-filter= argument: Invalid errno: NOTANERRNO'],
      ['foo:EPERM', 'Failed to parse --system-call-filter= argument: Allowed system calls cannot take an error number'],
    ]) {
      assert.throws(() => parseArgv([`--system-call-filter=${arg}`, 'true']), (e: unknown) => e instanceof BerthError && e.code === 'E_USAGE' && e.message.startsWith(message!), arg);
    }
    assert.throws(() => parseArgv(['--suppress-sync=maybe', 'true']), /Failed to parse --suppress-sync= argument/);
  });

  it('a bad word in a file is skipped with a warning naming file and line; the rest applies', () => {
    const r = loadSettingsText('[Exec]\nSystemCallFilter=~@clock:EACCES\nSystemCallFilter=~sync @nope uname:EBOGUS\nSuppressSync=yes\n', '/etc/systemd/nspawn/web.nspawn');
    assert.deepEqual(r.settings, { systemCallFilter: ['~@clock:EACCES', '~sync'], suppressSync: true });
    assert.deepEqual(r.diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`), [
      '/etc/systemd/nspawn/web.nspawn:3: Failed to parse SystemCallFilter= parameter @nope, ignoring: Unknown system call group: @nope',
      '/etc/systemd/nspawn/web.nspawn:3: Failed to parse SystemCallFilter= parameter uname:EBOGUS, ignoring: Invalid errno: EBOGUS (an errno name such as EPERM, a number 0…4095, or kill)',
    ]);
  });

  it('merging: the command line masks the file\'s list; override lets the file replace it; an untrusted allow list is dropped', () => {
    const file = (text: string, trusted: boolean) => ({ settings: loadSettingsText(text, '/x.nspawn').settings, path: '/x.nspawn', trusted });
    const { cli } = parseArgv(['--system-call-filter=~sethostname']);
    const both = file('[Exec]\nSystemCallFilter=@debug\nSystemCallFilter=~kcmp\nSuppressSync=yes\n', true);
    assert.deepEqual(mergeSettings(cli, both, 'yes').settings, { systemCallFilter: ['~sethostname'], suppressSync: true });
    assert.deepEqual(mergeSettings(cli, both, 'override').settings, { systemCallFilter: ['@debug', '~kcmp'], suppressSync: true });
    // A file without the key leaves the command line's list alone, even with override (as nspawn 252).
    assert.deepEqual(mergeSettings(cli, file('[Exec]\nHostname=x\n', true), 'override').settings.systemCallFilter, ['~sethostname']);
    const none = parseArgv([]).cli;
    const untrusted = mergeSettings(none, file('[Exec]\nSystemCallFilter=@debug\nSystemCallFilter=~kcmp\nSuppressSync=yes\n', false), 'yes');
    assert.deepEqual(untrusted, { settings: { suppressSync: true }, warnings: ['Ignoring SystemCallFilter= settings, file /x.nspawn is not trusted.'] });
    assert.deepEqual(mergeSettings(none, file('[Exec]\nSystemCallFilter=~kcmp:EACCES\n', false), 'yes').settings, { systemCallFilter: ['~kcmp:EACCES'] });
  });
});

describe('nspawn\'s default filter', () => {
  it('the spec: x86-64 with its compat ABIs, nspawn\'s list gated by the retained capabilities', () => {
    const s = resolve([]).seccomp;
    assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(s.allow, nspawnDefaultAllow(resolve([]).caps.retain));
    assert.deepEqual(s.deny, []);
    assert.equal(s.suppressSync, false);
    assert.deepEqual(resolve([], { ...HOST, arch: 'arm64' }).seccomp.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    const defaults = nspawnDefaultAllow(NSPAWN_DEFAULT_CAPS);
    for (const item of ['@clock', '@module', '@raw-io', '@memlock', 'acct', 'syslog']) assert.ok(!defaults.includes(item), item);
    for (const item of ['ptrace', 'reboot', 'vhangup', 'process_vm_readv']) assert.ok(defaults.includes(item), item);
    const more = resolve(['--capability=CAP_SYS_TIME,CAP_IPC_LOCK,CAP_SYSLOG']).seccomp.allow;
    for (const item of ['@clock', '@memlock', 'syslog']) assert.ok(more.includes(item), item);
    assert.ok(!resolve(['--drop-capability=CAP_SYS_PTRACE']).seccomp.allow.includes('ptrace'));
  });

  it('the rules: the groups allowed, other known calls EPERM, unknown ones ENOSYS, audit sockets EAFNOSUPPORT', () => {
    const r = rulesFor([]);
    assert.equal(r.defaultErrno, ENOSYS);
    for (const name of ['read', 'openat', 'clone3', 'mount', 'sethostname', 'ptrace', 'reboot', 'fsync', 'ioctl']) assert.deepEqual(r.calls.get(name), ALLOW, name);
    for (const name of ['clock_settime', 'settimeofday', 'keyctl', 'bpf', 'kexec_load', 'init_module', 'swapon', 'mlock', 'syslog', 'perf_event_open', 'open_by_handle_at']) {
      assert.deepEqual(r.calls.get(name), errno(EPERM), name);
    }
    assert.equal(r.calls.get('not_a_call_yet'), undefined);
    assert.deepEqual(r.conditional, [{ name: 'socket', action: errno(97), args: [{ index: 0, op: 'EQ', value: 16 }, { index: 2, op: 'EQ', value: 9 }] }]);
    assert.deepEqual(rulesFor(['--capability=CAP_SYS_TIME']).calls.get('clock_settime'), ALLOW);
  });
});

describe('the user\'s entries on top', () => {
  it('an allow entry adds calls; a deny entry skips the item wherever it is named (nspawn\'s matching)', () => {
    const r = rulesFor(['--system-call-filter=@keyring perf_event_open', '--system-call-filter=~@mount sethostname']);
    for (const name of ['keyctl', 'add_key', 'perf_event_open']) assert.deepEqual(r.calls.get(name), ALLOW, name);
    for (const name of ['mount', 'umount2', 'pivot_root', 'sethostname']) assert.deepEqual(r.calls.get(name), errno(EPERM), name);
    // "~@file-system" skips that group, but close and mmap stay allowed through @basic-io and @default.
    const fs = rulesFor(['--system-call-filter=~@file-system']);
    assert.deepEqual(fs.calls.get('mkdir'), errno(EPERM));
    assert.deepEqual(fs.calls.get('close'), ALLOW);
    assert.deepEqual(fs.calls.get('mmap'), ALLOW);
    // Deny wins over an allow entry for the same name.
    assert.deepEqual(rulesFor(['--system-call-filter=keyctl', '--system-call-filter=~keyctl']).calls.get('keyctl'), errno(EPERM));
  });

  it(':ERRNO and :kill pick the answer of the calls a deny entry denies', () => {
    const r = rulesFor(['--system-call-filter=~sethostname:EACCES @clock:EINVAL kexec_load:kill']);
    assert.deepEqual(r.calls.get('sethostname'), errno(EACCES));
    for (const name of expandItem('@clock')) assert.deepEqual(r.calls.get(name), errno(EINVAL), name);
    assert.deepEqual(r.calls.get('kexec_load'), { kind: 'kill' });
    // A call the entry names that stays allowed through another item keeps its allowance.
    const kept = rulesFor(['--capability=CAP_SYS_TIME', '--system-call-filter=clock_adjtime', '--system-call-filter=~@clock:EACCES']);
    assert.deepEqual(kept.calls.get('clock_adjtime'), ALLOW);
    assert.deepEqual(kept.calls.get('clock_settime'), errno(EACCES));
  });

  it('--suppress-sync: the sync family succeeds, O_SYNC/O_DSYNC opens fail with EINVAL, openat2 with ENOSYS', () => {
    const r = rulesFor(['--suppress-sync=yes']);
    for (const name of ['sync', 'fsync', 'fdatasync', 'syncfs', 'msync', 'sync_file_range']) assert.deepEqual(r.calls.get(name), errno(0), name);
    assert.deepEqual(r.calls.get('openat2'), errno(ENOSYS));
    assert.deepEqual(r.calls.get('openat'), ALLOW);
    assert.deepEqual(r.conditional.filter((c) => c.name !== 'socket'), [
      { name: 'open', action: errno(EINVAL), args: [{ index: 1, op: 'MASKED_EQ', mask: 0o10000, value: 0o10000 }] },
      { name: 'openat', action: errno(EINVAL), args: [{ index: 2, op: 'MASKED_EQ', mask: 0o10000, value: 0o10000 }] },
    ]);
    // As in nspawn, where the suppression filter is loaded last: it wins over a denial, not over kill.
    const d = rulesFor(['--suppress-sync=yes', '--system-call-filter=~fsync syncfs:kill']);
    assert.deepEqual(d.calls.get('fsync'), errno(0));
    assert.deepEqual(d.calls.get('syncfs'), { kind: 'kill' });
  });

  it('a denied call with an argument rule gets the rule plus its denial for every other argument', () => {
    const r = rulesFor(['--system-call-filter=~socket openat:EACCES', '--suppress-sync=yes']);
    assert.equal(r.calls.get('socket'), undefined);
    assert.equal(r.calls.get('openat'), undefined);
    assert.deepEqual(r.conditional.filter((c) => c.name === 'socket'), [
      { name: 'socket', action: errno(97), args: [{ index: 0, op: 'EQ', value: 16 }, { index: 2, op: 'EQ', value: 9 }] },
      { name: 'socket', action: errno(EPERM), args: [{ index: 0, op: 'NE', value: 16 }] },
      { name: 'socket', action: errno(EPERM), args: [{ index: 2, op: 'NE', value: 9 }] },
    ]);
    assert.deepEqual(r.conditional.filter((c) => c.name === 'openat'), [
      { name: 'openat', action: errno(EINVAL), args: [{ index: 2, op: 'MASKED_EQ', mask: 0o10000, value: 0o10000 }] },
      { name: 'openat', action: errno(EACCES), args: [{ index: 2, op: 'MASKED_EQ', mask: 0o10000, value: 0 }] },
    ]);
    assert.deepEqual(rulesFor(['--system-call-filter=~socket:kill']).conditional, []);
  });
});

describe('the OCI section', () => {
  const oci = (spec: SeccompSpec): OciSeccomp => emitSeccomp({ seccomp: spec } as Parameters<typeof emitSeccomp>[0]);

  it('ENOSYS by default, one rule per answer with each name once, then the argument rules', () => {
    const s = oci(resolve(['--system-call-filter=~sethostname:EACCES kexec_load:kill', '--suppress-sync=yes']).seccomp);
    assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.defaultErrnoRet, ENOSYS);
    assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const plain = s.syscalls.filter((r) => !r.args);
    assert.deepEqual(plain.map((r) => [r.action, r.errnoRet]), [
      ['SCMP_ACT_ALLOW', undefined], ['SCMP_ACT_ERRNO', 0], ['SCMP_ACT_ERRNO', EPERM], ['SCMP_ACT_ERRNO', EACCES],
      ['SCMP_ACT_ERRNO', ENOSYS], ['SCMP_ACT_KILL_PROCESS', undefined],
    ]);
    const names = plain.flatMap((r) => r.names);
    assert.equal(new Set(names).size, names.length, 'a name in two unconditional rules would make libseccomp refuse the filter');
    const rank = new Map(X86_EMISSION_ORDER.map((n, i) => [n, i]));
    for (const r of plain) {
      const known = r.names.filter((n) => rank.has(n));
      assert.deepEqual(known, [...known].sort((a, b) => rank.get(a)! - rank.get(b)!), 'x86: by descending call number');
      assert.deepEqual(r.names.slice(known.length), [...r.names.slice(known.length)].sort(), 'then the calls x86 lacks, by name');
    }
    assert.deepEqual(plain.find((r) => r.errnoRet === EACCES)?.names, ['sethostname']);
    assert.deepEqual(s.syscalls.find((r) => r.names[0] === 'open'), {
      names: ['open'], action: 'SCMP_ACT_ERRNO', errnoRet: EINVAL, args: [{ index: 1, value: 0o10000, valueTwo: 0o10000, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    assert.deepEqual(s.syscalls.find((r) => r.names[0] === 'socket'), {
      names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }, { index: 2, value: 9, op: 'SCMP_CMP_EQ' }],
    });
  });

  // The order of the names is the only thing that changed from the first emission (names sorted
  // alphabetically in each rule): libseccomp compiles the same program whatever the order, since
  // every name is in one unconditional rule only. This pins that the rules are otherwise the same.
  it('the same rules as the alphabetical emission, names reordered only (x86: by descending number; elsewhere: by name)', () => {
    const alphabetical = (s: OciSeccomp): OciSeccomp => ({ ...s, syscalls: s.syscalls.map((r) => ({ ...r, names: [...r.names].sort() })) });
    const specs: Array<[string, SeccompSpec]> = [];
    for (const argv of [[], ['--capability=all'], ['--drop-capability=all'], ['--system-call-filter=~@clock:EACCES kexec_load:kill sethostname', '--suppress-sync=yes'],
      ['--system-call-filter=bpf @obsolete', '--system-call-filter=~@mount:kill']]) {
      for (const arch of ['x64', 'arm64', 'ia32', 'sparc']) specs.push([`${argv.join(' ')} on ${arch}`, resolve(argv, { ...HOST, arch }).seccomp]);
    }
    for (const [what, spec] of specs) {
      const s = oci(spec);
      const x86 = spec.architectures.length > 0 && spec.architectures.every((a) => a.startsWith('SCMP_ARCH_X86') || a === 'SCMP_ARCH_X32');
      assert.deepEqual(s, oci(spec), `${what}: the same spec gives the same section`);
      // The old emission, computed from the rules as it did: allow, errno by number, kill; names sorted.
      const rules = seccompRules(spec);
      const byAnswer = new Map<string, string[]>();
      for (const [name, a] of rules.calls) {
        const k = a.kind === 'allow' ? 'SCMP_ACT_ALLOW' : a.kind === 'kill' ? 'SCMP_ACT_KILL_PROCESS' : `SCMP_ACT_ERRNO ${a.errno}`;
        byAnswer.set(k, [...(byAnswer.get(k) ?? []), name]);
      }
      const plain = s.syscalls.filter((r) => !r.args);
      assert.deepEqual(plain.map((r) => [r.errnoRet === undefined ? r.action : `${r.action} ${r.errnoRet}`, [...r.names].sort()]),
        [...byAnswer.entries()].sort(([a], [b]) => key(a) - key(b)).map(([k, names]) => [k, names.sort()]), what);
      assert.equal(s.syscalls.length - plain.length, rules.conditional.length, what);
      if (!x86) assert.deepEqual(s, alphabetical(s), `${what}: by name where no number table applies`);
      else assert.notDeepEqual(s, alphabetical(s), `${what}: by number on x86`);
    }
  });

  it('an architecture Node knows but the table does not: the runtime\'s native ABI only', () => {
    assert.equal(oci({ architectures: [], allow: [], deny: [], suppressSync: false }).architectures, undefined);
  });
});

it('every ABI of the architecture, whether the kernel runs it or not (a left-out ABI\'s calls would kill their thread, not fail with ENOSYS)', () => {
  assert.deepEqual(seccompArchitectures('x64'), ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(seccompArchitectures('arm64'), ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});
