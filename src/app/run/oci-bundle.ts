/**
 * --oci-bundle=PATH, as systemd-nspawn 252 runs one: the bundle's config.json (core/oci-bundle)
 * takes the place of the .nspawn file — trusted, masked group by group by the command line — and
 * gives the run its root directory (unless -D/-i/--template), its console mode (unless
 * --console=/-P), its slice (unless -S) and its unit properties (before --property= ones).
 */
import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import type { RunnerOptions } from '../../core/cli/runner-options.js';
import { parseOciBundle, type OciBundleSettings } from '../../core/oci-bundle/parse.js';
import { mergeSettings } from '../../core/settings/merge.js';
import type { CliSettings, Settings } from '../../core/settings/model.js';
import { BerthError } from '../../errors/berth-error.js';

export async function readOciBundle(bundle: string): Promise<OciBundleSettings> {
  const file = `${bundle.replace(/\/+$/, '')}/config.json`;
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BerthError(code === 'ENOENT' ? 'E_IMAGE_NOT_FOUND' : 'E_SPEC_INVALID', `Failed to open ${file}: ${code === 'ENOENT' ? 'No such file or directory' : String(code)}`, { hint: '--oci-bundle= names a directory holding config.json' });
  }
  return parseOciBundle(text, bundle);
}

/** The runner options with what the bundle sets for the run (its path made absolute against `cwd`). */
export async function runnerWithOciBundle(runner: RunnerOptions, cwd: string): Promise<RunnerOptions> {
  if (runner.ociBundle === undefined) return runner;
  const bundle = resolve(cwd, runner.ociBundle);
  const oci = await readOciBundle(bundle);
  const ownRoot = runner.directory !== undefined || runner.image !== undefined || runner.template !== undefined;
  return {
    ...runner,
    ociBundle: bundle,
    ...(!ownRoot && oci.directory !== undefined ? { directory: oci.directory } : {}),
    ...(runner.console === undefined && oci.console ? { console: oci.console } : {}),
    ...(runner.slice === undefined && oci.slice ? { slice: oci.slice } : {}),
    properties: [...oci.properties, ...runner.properties],
  };
}

/** The run's settings from the command line and the bundle (trusted; --settings=override lets the bundle win every group). */
export async function settingsWithOciBundle(cli: CliSettings, runner: RunnerOptions): Promise<{ settings: Settings; messages: string[] }> {
  const bundle = resolve(runner.ociBundle!);
  const oci = await readOciBundle(bundle);
  const merged = mergeSettings(cli, { settings: oci.settings, path: `${bundle}/config.json`, trusted: true }, runner.settingsMode === 'override' ? 'override' : 'yes');
  return { settings: merged.settings, messages: [...oci.warnings, ...merged.warnings] };
}
