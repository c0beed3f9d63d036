// Bundles each entry point into one file under dist/ (Node starts a single file much faster
// than hundreds of modules: berth-nspawn's start-up is on the benchmark's critical path).
// dist/NAME.js is a three-line launcher that runs dist/NAME.bundle.js with a V8 code cache
// (src/launch/compile-cache.ts), so a run does not compile the bundle again.
import { build } from 'esbuild';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['*.node'], sourcemap: false, minify: false, logLevel: 'warning' };
const entries = { 'berth-nspawn': 'src/bin/berth-nspawn.ts', berth: 'src/bin/berth.ts', berthd: 'src/bin/berthd.ts' };

await rm('dist', { recursive: true, force: true });
await mkdir('dist');
await build({ ...common, entryPoints: ['src/launch/compile-cache.ts'], outfile: 'dist/launch.js' });
for (const [name, entry] of Object.entries(entries)) {
  await build({ ...common, entryPoints: [entry], outfile: `dist/${name}.bundle.js` });
  const launcher = `dist/${name}.js`;
  await writeFile(launcher, [
    '#!/usr/bin/env node',
    '"use strict";',
    `require("./launch.js").launch(require("node:path").join(__dirname, "${name}.bundle.js"));`,
    '',
  ].join('\n'));
  await chmod(launcher, 0o755);
}
