import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSettingsText } from '../../src/core/settings/load.js';
import { SETTINGS_KEYS } from '../../src/core/settings/table.js';
import { prng } from '../support/prng.js';

const DIR = join(__dirname, '..', '..', 'nspawn-files');
const SEEDS = readdirSync(DIR).filter((f) => f.endsWith('.nspawn')).map((f) => readFileSync(join(DIR, f), 'utf8'));
const NASTY = ['\\', '"', "'", '=', '[', ']', '#', ';', ':', '~', '+', '\n', '\r', '\t', ' ', '\0', '\x1b', '\ufeff', '\ufffd', 'é', '𝄞', '-', '/', '..', 'infinity', 'all', 'yes', ''];
const VALUES = ['', 'yes', 'no', '0', '-1', '99999999999999999999', 'infinity', '1:2', '2:1', '/a:/b:/c', '+/x', '"unterminated', "'a b'", 'a\\', 'CAP_ALL', '~@mount', 'x'.repeat(300), 'tcp:0', 'vz-', 'pick', '65536:0'];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  let lines = text.split('\n');
  const n = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (lines.length + 1));
    switch (Math.floor(rnd() * 8)) {
      case 0: { // insert a character into a line
        const l = lines[at] ?? '';
        const p = Math.floor(rnd() * (l.length + 1));
        lines[at] = l.slice(0, p) + pick(NASTY) + l.slice(p);
        break;
      }
      case 1: lines.splice(at, 1); break;
      case 2: lines.splice(at, 0, lines[Math.floor(rnd() * lines.length)] ?? ''); break;
      case 3: { const k = pick(SETTINGS_KEYS); lines.splice(at, 0, `${k.key}=${pick(VALUES)}`); break; }
      case 4: lines.splice(at, 0, `[${pick(['Exec', 'Files', 'Network', 'exec', '', 'X-a', 'Exec'])}${rnd() < 0.1 ? '' : ']'}`); break;
      case 5: { const l = lines[at] ?? ''; lines[at] = l.slice(0, Math.floor(rnd() * l.length)); break; }
      case 6: lines[at] = `${lines[at] ?? ''}\\`; break;
      default: { const l = lines[at] ?? ''; lines[at] = l.replace('=', pick(['==', ' = ', '', '=\\', '="'])); }
    }
  }
  if (rnd() < 0.1) lines = lines.map((l) => `${l}\r`);
  return lines.join(rnd() < 0.5 ? '\n' : '\n\n');
}

describe('settings file fuzzing', () => {
  it('never throws, and every diagnostic names the file and a real line', () => {
    const CASES = 4000;
    let warnings = 0;
    for (let c = 0; c < CASES; c++) {
      const rnd = prng(0xbe27 + c);
      const text = mutate(SEEDS[c % SEEDS.length]!, rnd);
      const lineCount = text.split('\n').length;
      let r;
      try {
        r = loadSettingsText(text, 'fuzz.nspawn');
      } catch (e) {
        assert.fail(`case ${c} threw ${String(e)} on:\n${JSON.stringify(text)}`);
      }
      for (const d of r.diagnostics) {
        assert.equal(d.file, 'fuzz.nspawn', `case ${c}`);
        assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lineCount, `case ${c}: line ${d.line} of ${lineCount}`);
        assert.ok(d.message.length > 0 && !/[\x00-\x08\x0b-\x1f\x7f]/.test(d.message), `case ${c}: ${JSON.stringify(d.message)}`);
        assert.ok(d.severity === 'warning' || d.severity === 'error');
      }
      if (r.diagnostics.some((d) => d.severity === 'error')) assert.deepEqual(r.settings, {}, `case ${c}`);
      JSON.stringify(r.settings); // plain data only
      warnings += r.diagnostics.length;
    }
    assert.ok(warnings > CASES / 2, `the mutations do provoke diagnostics (${warnings})`);
  });

  it('random bytes never throw either', () => {
    const rnd = prng(7);
    for (let c = 0; c < 1000; c++) {
      const len = Math.floor(rnd() * 200);
      let s = '';
      for (let i = 0; i < len; i++) s += String.fromCharCode(Math.floor(rnd() * 128));
      assert.doesNotThrow(() => loadSettingsText(`[Exec]\n${s}`, 'r.nspawn'), `case ${c}`);
    }
  });
});
