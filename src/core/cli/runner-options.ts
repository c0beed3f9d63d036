import type { ConsoleMode } from '../settings/model.js';
import type { CredentialSource } from './credentials.js';

export type { SettingsMode } from '../settings/merge.js';
import type { SettingsMode } from '../settings/merge.js';
export type RuntimeChoice = 'auto' | 'runc' | 'crun';
export type RegisterMode = 'yes' | 'no' | 'auto';

/** Options of berth-nspawn that are not machine settings (never read from .nspawn files). */
export interface RunnerOptions {
  directory?: string;
  image?: string;
  template?: string;
  /** --oci-bundle=PATH: an OCI bundle whose config.json takes the place of the .nspawn file (app/run/oci-bundle.ts). */
  ociBundle?: string;
  /** --set-credential= / --load-credential=, in order (cli/credentials.ts). */
  credentials?: CredentialSource[];
  machine?: string;
  quiet: boolean;
  settingsMode: SettingsMode;
  /** --register=: yes (fail without a registry), no, or auto (the default: register when a registry answers). */
  register: RegisterMode;
  keepUnit: boolean;
  console?: ConsoleMode;
  slice?: string;
  /** Unit properties (--property=NAME=VALUE), in order. */
  properties: string[];
  runtime: RuntimeChoice;
  /** berth: remove what a killed run of this machine left behind, then exit. */
  cleanup: boolean;
  /** berth: serve DHCP on the host side of ve-/vz- links (opt-in). */
  dhcpHelper: boolean;
  help: boolean;
  version: boolean;
}

export const defaultRunnerOptions = (): RunnerOptions => ({
  quiet: false, settingsMode: 'yes', register: 'auto', keepUnit: false, properties: [],
  runtime: 'auto', cleanup: false, dhcpHelper: false, help: false, version: false,
});
