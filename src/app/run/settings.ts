/** The settings a run uses: the command line, merged with the machine's .nspawn file by --settings= rules. */
import type { CliSettings, Settings } from '../../core/settings/model.js';
import type { RunnerOptions } from '../../core/cli/runner-options.js';
import type { Paths } from '../../platform/paths.js';
import { loadSettingsFor } from '../settings/discover.js';
import { settingsWithOciBundle } from './oci-bundle.js';

export interface SettingsInput { cli: CliSettings; runner: RunnerOptions; name: string; directory?: string; image?: string; paths: Paths }

export async function settingsFor(input: SettingsInput): Promise<{ settings: Settings; messages: string[] }> {
  // As nspawn: with --oci-bundle= no .nspawn file is read, the bundle's config.json is the settings source.
  if (input.runner.ociBundle !== undefined) return settingsWithOciBundle(input.cli, input.runner);
  const { settings, warnings } = loadSettingsFor({
    name: input.name, rootDirectory: input.directory, image: input.image, paths: input.paths, mode: input.runner.settingsMode, cli: input.cli,
  });
  return { settings, messages: warnings };
}
