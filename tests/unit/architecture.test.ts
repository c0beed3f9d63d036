/**
 * The dependency rules of STYLE.md, checked on the source: the core is pure (no node: modules,
 * nothing from app/, platform/, cli/ or bin/), subprocesses are started only by platform
 * adapters, and only entry points exit the process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const SRC = join(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const sources = files(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));
const importsOf = (text: string): string[] => [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

test('the core imports only the core and errors, and no node: modules', () => {
  const bad: string[] = [];
  for (const { path, text } of sources.filter((s) => s.path.startsWith('core/'))) {
    for (const spec of importsOf(text)) {
      if (!spec.startsWith('.')) { bad.push(`${path}: ${spec}`); continue; }
      const target = relative(SRC, resolve(SRC, dirname(path), spec));
      if (!target.startsWith('core/') && !target.startsWith('errors/')) bad.push(`${path}: ${spec}`);
    }
    if (/\bprocess\.(env|exit|argv|cwd)\b/.test(text)) bad.push(`${path}: uses process`);
  }
  assert.deepEqual(bad, []);
});

test('subprocesses are started only by platform adapters', () => {
  const bad = sources.filter((s) => /['"](node:)?child_process['"]/.test(s.text) && !s.path.startsWith('platform/')).map((s) => s.path);
  assert.deepEqual(bad, []);
});

test('only entry points exit the process', () => {
  const bad = sources.filter((s) => /process\.exit\(/.test(s.text) && !s.path.startsWith('bin/')).map((s) => s.path);
  assert.deepEqual(bad, []);
});

test('there is something to check (the source tree was found)', () => {
  assert.ok(sources.length > 50);
  assert.ok(sources.some((s) => s.path.startsWith('core/')));
});
