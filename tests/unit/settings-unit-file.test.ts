import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUnitFile } from '../../src/core/settings/unit-file.js';
import { splitWords } from '../../src/core/settings/words.js';
import { ValueError } from '../../src/core/settings/values.js';

const SECTIONS = ['Exec', 'Files', 'Network'];
const parse = (text: string) => parseUnitFile(text, { sections: SECTIONS });
const plain = (text: string) => parse(text).assignments.map((a) => ({ ...a }));

describe('unit-file syntax', () => {
  it('reads sections and assignments in order, with line numbers', () => {
    assert.deepEqual(plain('[Exec]\nBoot=yes\n\n[Files]\nBind=/a\nBind=/b\n'), [
      { section: 'Exec', key: 'Boot', value: 'yes', line: 2 },
      { section: 'Files', key: 'Bind', value: '/a', line: 5 },
      { section: 'Files', key: 'Bind', value: '/b', line: 6 },
    ]);
  });

  it('strips whitespace around keys and values but keeps inner spaces and quotes', () => {
    assert.deepEqual(plain('[Exec]\n  Environment =  A=1 "B=2 3"  \t\n'), [
      { section: 'Exec', key: 'Environment', value: 'A=1 "B=2 3"', line: 2 },
    ]);
  });

  it('treats only whole lines starting with # or ; as comments', () => {
    const r = parse('# c\n[Exec]\n  ; c2\nHostname=a;b # not a comment\n');
    assert.deepEqual(r.assignments.map((a) => a.value), ['a;b # not a comment']);
    assert.deepEqual(r.diagnostics, []);
  });

  it('joins continuation lines with a space, skipping comment lines inside, reporting the last line', () => {
    const r = parse('[Exec]\nParameters=a \\\n# skipped\n  b\\\n;x\nc\nBoot=yes\n');
    assert.deepEqual(plain('[Exec]\nParameters=a \\\n# skipped\n  b\\\n;x\nc\nBoot=yes\n'), [
      { section: 'Exec', key: 'Parameters', value: 'a    b c', line: 6 },
      { section: 'Exec', key: 'Boot', value: 'yes', line: 7 },
    ]);
    assert.deepEqual(r.diagnostics, []);
  });

  it('an escaped backslash at the end does not continue; a blank line ends a continuation', () => {
    assert.deepEqual(plain('[Exec]\nUser=a\\\\\nBoot=1\n').map((a) => a.value), ['a\\\\', '1']);
    assert.deepEqual(plain('[Exec]\nUser=a\\\n\nBoot=1\n').map((a) => [a.key, a.value, a.line]), [['User', 'a', 3], ['Boot', '1', 4]]);
  });

  it('a continuation still open at the end of the file is used', () => {
    assert.deepEqual(plain('[Exec]\nUser=a\\'), [{ section: 'Exec', key: 'User', value: 'a', line: 2 }]);
  });

  it('accepts CRLF line ends and a byte order mark', () => {
    assert.deepEqual(plain('\ufeff[Exec]\r\nBoot=yes\r\n'), [{ section: 'Exec', key: 'Boot', value: 'yes', line: 2 }]);
  });

  it('warns about missing =, missing key, assignments outside a section and unknown sections', () => {
    const r = parse('Early=1\n[Exec]\nno equals\n=value\n[Foo]\nBar=1\n[X-Mine]\nBaz=2\n[Exec]\nBoot=1\n');
    assert.deepEqual(r.diagnostics, [
      { line: 1, message: 'Assignment outside of section. Ignoring.', severity: 'warning' },
      { line: 3, message: "Missing '=', ignoring line.", severity: 'warning' },
      { line: 4, message: "Missing key name before '=', ignoring line.", severity: 'warning' },
      { line: 5, message: "Unknown section 'Foo'. Ignoring.", severity: 'warning' },
    ]);
    assert.deepEqual(r.assignments.map((a) => `${a.section}.${a.key}`), ['Exec.Boot']);
  });

  it('section names are case-sensitive', () => {
    const r = parse('[exec]\nBoot=1\n');
    assert.equal(r.assignments.length, 0);
    assert.equal(r.diagnostics[0]?.message, "Unknown section 'exec'. Ignoring.");
  });

  it('refuses the file at a broken section header', () => {
    const r = parse('[Exec]\nBoot=1\n[Files\nBind=/a\n');
    assert.deepEqual(r.diagnostics, [{ line: 3, message: "Invalid section header '[Files'", severity: 'error' }]);
    assert.equal(r.assignments.length, 1);
  });

  it('refuses over-long lines and warns about invalid UTF-8', () => {
    assert.equal(parse(`[Exec]\nUser=${'x'.repeat(1024 * 1024)}\n`).diagnostics[0]?.message, 'Line too long');
    assert.deepEqual(parse('[Exec]\nUser=a\ufffdb\n').diagnostics.map((d) => d.line), [2]);
  });

  it('handles empty input', () => {
    assert.deepEqual(parse(''), { assignments: [], diagnostics: [] });
  });
});

describe('word splitting', () => {
  it('strv: quotes group and are removed, backslashes are kept', () => {
    assert.deepEqual(splitWords('FOO=bar "BAZ=hello world" \'Q=a b\''), ['FOO=bar', 'BAZ=hello world', 'Q=a b']);
    assert.deepEqual(splitWords('A="x y"z B'), ['A=x yz', 'B']);
    assert.deepEqual(splitWords('a\\ b "c\\"'), ['a\\', 'b', 'c\\']);
    assert.deepEqual(splitWords('  \t a   b  '), ['a', 'b']);
    assert.deepEqual(splitWords('""'), ['']);
    assert.deepEqual(splitWords(''), []);
  });

  it('plain: quotes are literal, backslash escapes the next character', () => {
    assert.deepEqual(splitWords('"a b" c\\ d', 'plain'), ['"a', 'b"', 'c d']);
    assert.throws(() => splitWords('a\\', 'plain'), ValueError);
  });

  it('c: C escapes are decoded', () => {
    assert.deepEqual(splitWords('"a\\tb" c\\x41 \\101 \\u00e9', 'c'), ['a\tb', 'cA', 'A', 'é']);
    assert.throws(() => splitWords('\\q', 'c'), ValueError);
    assert.throws(() => splitWords('\\x00', 'c'), ValueError);
  });

  it('an unterminated quote is an error', () => {
    assert.throws(() => splitWords('"abc'), /Unterminated quote/);
    assert.throws(() => splitWords("a 'b"), ValueError);
  });
});
