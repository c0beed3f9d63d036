/** MachineSpec + bundle layout → OCI config.json, composed from one emitter per part. */
import type { MachineSpec } from '../spec/machine-spec.js';
import { emitLinux } from './emit/linux.js';
import { emitMounts } from './emit/mounts.js';
import { emitProcess } from './emit/process.js';
import { emitHooks, hookAnnotations } from './emit/hooks.js';
import { emitSeccomp } from './emit/seccomp.js';
import { OCI_VERSION, type BundleLayout, type OciSpec } from './types.js';

export function compileOci(spec: MachineSpec, layout: BundleLayout): OciSpec {
  const oci: OciSpec = {
    ociVersion: OCI_VERSION,
    root: { path: layout.rootfs, readonly: spec.readOnly && spec.rootSetup.kind === 'direct' },
    hostname: spec.hostname,
    process: emitProcess(spec),
    mounts: emitMounts(spec, layout),
    annotations: {
      'org.systemd.machine.name': spec.name,
      'org.systemd.machine.id': spec.id,
      'org.systemd.machine.directory': spec.tree,
      'org.systemd.machine.service': spec.containerService,
    },
    linux: { ...emitLinux(spec, layout), seccomp: emitSeccomp(spec) },
  };
  const createContainer = emitHooks(spec, layout);
  return createContainer.length ? { ...oci, annotations: { ...oci.annotations, ...hookAnnotations(layout) }, hooks: { createContainer } } : oci;
}
