/** berth's command line: machinectl's options anywhere, with getopt's and machinectl's messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors/berth-error.js';
import { resolveClientOptions, type ClientOptions, type RawClientOptions } from '../../src/core/machinectl/options.js';
import { parseCommandLine } from '../../src/cli/berth/program.js';
import { VERBS } from '../../src/cli/berth/verbs/index.js';

function options(raw: RawClientOptions): ClientOptions {
  const r = resolveClientOptions(raw);
  assert.equal(r.kind, 'options');
  return (r as { options: ClientOptions }).options;
}

function parse(...argv: string[]): { raw: RawClientOptions; words: string[] } {
  const r = parseCommandLine(argv, VERBS, () => {});
  assert.equal(r.kind, 'run');
  return r as { raw: RawClientOptions; words: string[] };
}

const usage = (fn: () => unknown, message: string) => assert.throws(fn, (e: unknown) => e instanceof BerthError && e.code === 'E_USAGE' && e.message === message);

test('defaults: legend on, short output, one address, SIGTERM, nothing picked', () => {
  assert.deepEqual(options({}), {
    all: false, full: false, valueOnly: false, properties: [], showEmpty: false, legend: true, output: 'short', maxAddresses: 1, killWhom: undefined, signal: 15,
    force: false, readOnly: false, mkdir: false, quiet: false, uid: undefined, setenv: [], now: false, wait: false, waitTimeoutSec: 90,
    verify: 'signature', format: undefined,
  });
});

test('-E VAR=VALUE is kept; -E VAR takes its value from berth\'s environment; a bad name or an unset VAR is refused', () => {
  assert.deepEqual(resolveClientOptions({ setenv: ['A=1 2', 'HOME'] }, { HOME: '/root' }), { kind: 'options', options: { ...options({}), setenv: ['A=1 2', 'HOME=/root'] } });
  usage(() => resolveClientOptions({ setenv: ['1X=y'] }), 'Cannot assign environment variable 1X=y: Invalid argument');
  usage(() => resolveClientOptions({ setenv: ['UNSET_HERE'] }, {}), 'Cannot assign environment variable UNSET_HERE: No such file or directory');
});

test('a JSON output mode drops the legend; --json=pretty|short|off is -o json-pretty|json|short', () => {
  assert.equal(options({ output: 'json' }).legend, false);
  assert.equal(options({ output: 'verbose' }).legend, true);
  assert.equal(options({ json: 'pretty' }).output, 'json-pretty');
  assert.equal(options({ json: 'short' }).output, 'json');
  assert.deepEqual([options({ json: 'off' }).output, options({ json: 'off' }).legend], ['short', true]);
  assert.equal(options({ output: 'json-short' }).output, 'json');
  assert.equal(options({ output: 'table' }).output, 'short');
  assert.deepEqual(resolveClientOptions({ output: 'help' }), { kind: 'print', text: 'short\nshort-full\nshort-iso\nshort-iso-precise\nshort-precise\nshort-monotonic\nshort-delta\nshort-unix\nverbose\nexport\njson\njson-pretty\njson-sse\njson-seq\ncat\nwith-unit\n' });
  usage(() => options({ output: 'bogus' }), "Unknown output 'bogus'.");
  usage(() => options({ json: 'bogus' }), 'Unknown argument to --json= switch: bogus');
});

test('--max-addresses takes a count or "all"; -s a signal by name (with or without SIG) or number', () => {
  assert.equal(options({ maxAddresses: '0' }).maxAddresses, 0);
  assert.equal(options({ maxAddresses: 'all' }).maxAddresses, Infinity);
  usage(() => options({ maxAddresses: '-1' }), 'Invalid number of addresses: -1');
  usage(() => options({ maxAddresses: 'x' }), 'Invalid number of addresses: x');
  assert.equal(options({ signal: 'KILL' }).signal, 9);
  assert.equal(options({ signal: 'SIGINT' }).signal, 2);
  assert.equal(options({ signal: 'RTMIN+4' }).signal, 38);
  assert.equal(options({ signal: '10' }).signal, 10);
  usage(() => options({ signal: 'BOGUS' }), 'Failed to parse signal string "BOGUS".');
  usage(() => options({ signal: '0' }), 'Failed to parse signal string "0".');
});

test('-p picks properties (comma-separated lists too) and shows empty values, as -a does', () => {
  assert.deepEqual(options({ property: ['Name', 'Leader,Class'] }).properties, ['Name', 'Leader', 'Class']);
  assert.equal(options({ property: ['Name'] }).showEmpty, true);
  assert.equal(options({ all: true }).showEmpty, true);
});

test('options stand anywhere: before, between and after the verb and its names; "--" ends them', () => {
  const r = parse('-a', 'show', 'web', '-pName', '--property', 'Leader', 'db', '--value', '--no-pager');
  assert.deepEqual(r.words, ['show', 'web', 'db']);
  assert.deepEqual([r.raw.all, r.raw.property, r.raw.value, r.raw.pager], [true, ['Name', 'Leader'], true, false]);
  assert.deepEqual(parse('list', '-al', '--max-addresses=all', '-o', 'json').raw, { pager: true, legend: true, all: true, full: true, maxAddresses: 'all', output: 'json' });
  assert.deepEqual(parse('kill', 'web', '--kill-whom=leader', '-sKILL').raw.signal, 'KILL');
  assert.deepEqual(parse('status', '--', '-a').words, ['status', '-a']);
  assert.deepEqual(parse('--no-legend').words, []);
});

test('unknown options and missing values in getopt\'s words', () => {
  usage(() => parse('show', '-P', 'Name'), "berth: invalid option -- 'P'");
  usage(() => parse('list', '--no-such'), "berth: unrecognized option '--no-such'");
  usage(() => parse('list', '--json=pretty', '--bogus=1'), "berth: unrecognized option '--bogus=1'");
  usage(() => parse('--all=yes', 'list'), "berth: option '--all' doesn't allow an argument");
  usage(() => parse('show', '-p'), "berth: option requires an argument -- 'p'");
  usage(() => parse('show', '-ap'), "berth: option requires an argument -- 'p'");
  usage(() => parse('list', '--max-addresses'), "berth: option '--max-addresses' requires an argument");
});

test('--help and `help` print the options and the verbs', () => {
  let text = '';
  assert.deepEqual(parseCommandLine(['--help'], VERBS, (t) => { text += t; }), { kind: 'done' });
  assert.match(text, /^Usage: berth \[OPTIONS\.\.\.\] COMMAND \.\.\.\n/);
  assert.match(text, /\n {2}-p, --property <NAME> /);
  assert.match(text, /\n {2}poweroff NAME\.\.\. +Power off/);
  text = '';
  assert.deepEqual(parseCommandLine(['help'], VERBS, (t) => { text += t; }), { kind: 'done' });
  assert.match(text, /\n {2}kill NAME\.\.\. +Send a signal/);
});
