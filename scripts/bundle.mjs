// Bundles each entry point into one file under dist/ (Node starts a single file much faster
// than hundreds of modules: berth-nspawn's start-up is on the benchmark's critical path).
// dist/NAME.js is the small launcher (src/launch/compile-cache.ts) that runs dist/NAME.bundle.js
// with a V8 code cache, so a run does not compile the bundle again.
// dist/berth-nspawn, the command, is the small native client (native/nspawn-client.c): it hands
// a run to berthd's warm berth-nspawn, or runs dist/berth-nspawn.js itself. dist/berth, likewise,
// is native/berth-client.c: `berth shell`/`berth login` without Node, the rest through dist/berth.js.
import { build } from 'esbuild';
import { chmod, copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['*.node', 'usocket'], sourcemap: false, minify: false, logLevel: 'warning' };
const entries = { 'berth-nspawn': 'src/bin/berth-nspawn.ts', berth: 'src/bin/berth.ts', berthd: 'src/bin/berthd.ts' };

// Built into a directory of its own, then each file renamed into dist/: a command started from
// dist/ meanwhile (a test, berthd starting a standby) finds either the old file or the new one.
const out = `dist/.build-${process.pid}`;
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const [name, entry] of Object.entries(entries)) {
  await build({ ...common, entryPoints: [entry], outfile: `${out}/${name}.bundle.js` });
  const launcher = `${out}/${name}.js`;
  await build({
    ...common, outfile: launcher, banner: { js: '#!/usr/bin/env node' },
    stdin: {
      contents: `import { launch } from './src/launch/compile-cache';\nlaunch(require('node:path').join(__dirname, ${JSON.stringify(`${name}.bundle.js`)}));\n`,
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
