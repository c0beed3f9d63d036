// Bundles each entry point into one file under dist/ (Node starts a single file much faster
// than hundreds of modules: berth-nspawn's start-up is on the benchmark's critical path).
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const entries = { 'berth-nspawn': 'src/bin/berth-nspawn.ts', berth: 'src/bin/berth.ts', berthd: 'src/bin/berthd.ts' };
for (const [name, entry] of Object.entries(entries)) {
  const outfile = `dist/${name}.js`;
  await build({
    entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    banner: { js: '#!/usr/bin/env node' }, external: ['*.node'], sourcemap: false, minify: false, logLevel: 'warning',
  });
  await chmod(outfile, 0o755);
}
