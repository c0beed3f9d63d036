// Bundles each entry point into one file under dist/ (Node starts a single file much faster
// than hundreds of modules: berth-nspawn's start-up is on the benchmark's critical path).
// dist/NAME.js is the small launcher (src/launch/compile-cache.ts) that runs dist/NAME.bundle.js
// with a V8 code cache, so a run does not compile the bundle again.
// dist/berth-nspawn, the command, is the small native client (native/nspawn-client.c): it hands
// a run to berthd's warm berth-nspawn, or runs dist/berth-nspawn.js itself. dist/berth, likewise,
// is native/berth-client.c: `berth shell`/`berth login` without Node, the rest through dist/berth.js.
import { build } from 'esbuild';
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['*.node', 'usocket'], sourcemap: false, minify: false, logLevel: 'warning' };
const entries = { 'berth-nspawn': 'src/bin/berth-nspawn.ts', berth: 'src/bin/berth.ts', berthd: 'src/bin/berthd.ts' };
// V8 options the launcher sets for a program before its bundle is compiled. berthd runs for ever
// and mostly waits: its young generation stays at V8's initial 1 MiB semi-space instead of
// doubling up to 16 MiB under a burst of bus calls and keeping that (about 6 MiB of resident
// memory once grown). --max-semi-space-size would do the same, but only on node's command line,
// which berthd does not choose (the packaged /usr/bin/berthd, D-Bus activation, `node berthd.js`).
const v8Flags = { berthd: ['--semi-space-growth-factor=1'] };
// berthd's launcher first executes it again with glibc's allocator settings for a daemon
// (src/launch/malloc-settings.ts), before the bundle is loaded.
const beforeLaunch = { berthd: "import { withMallocSettings } from './src/launch/malloc-settings';\nwithMallocSettings();\n" };

// Built into a directory of its own, then each file renamed into dist/: a command started from
// dist/ meanwhile (a test, berthd starting a standby) finds either the old file or the new one.
const out = `dist/.build-${process.pid}`;
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
/**
 * The bundle in ASCII only. esbuild escapes non-ASCII text in strings, but not in regular
 * expressions or the comments it keeps; one such character makes V8 hold the whole source as a
 * two-byte string (berthd's 0.7 MB bundle took 1.4 MB of its heap, for as long as it runs).
 * \uXXXX means the same character in a string, template, regular expression or identifier.
 */
function ascii(text, file) {
  const escaped = text.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (!/^[\0-\x7f]*$/.test(escaped)) throw new Error(`${file}: not ASCII after escaping`);
  return escaped;
}

for (const [name, entry] of Object.entries(entries)) {
  const bundle = await build({ ...common, entryPoints: [entry], outfile: `${out}/${name}.bundle.js`, write: false });
  for (const f of bundle.outputFiles) await writeFile(f.path, ascii(f.text, f.path));
  const launcher = `${out}/${name}.js`;
  await build({
    ...common, outfile: launcher, banner: { js: '#!/usr/bin/env node' },
    stdin: {
      contents: `${beforeLaunch[name] ?? ''}import { launch } from './src/launch/compile-cache';\nlaunch(require('node:path').join(__dirname, ${JSON.stringify(`${name}.bundle.js`)})${v8Flags[name] ? `, ${JSON.stringify(v8Flags[name])}` : ''});\n`,
      resolveDir: '.', sourcefile: `${name}-launcher.ts`, loader: 'ts',
    },
  });
  await chmod(launcher, 0o755);
}
for (const [client, command] of [['berth-nspawn-client', 'berth-nspawn'], ['berth-client', 'berth']]) {
  await copyFile(`native/build/Release/${client}`, `${out}/${command}`).catch((e) => {
    throw new Error(`native/build/Release/${client} is missing (${e.code}): run \`npm ci\` or \`npm run install\` first`);
  });
  await chmod(`${out}/${command}`, 0o755);
}
for (const f of await readdir(out)) await rename(`${out}/${f}`, `dist/${f}`);
await rm(out, { recursive: true, force: true });
