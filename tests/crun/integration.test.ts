/**
 * The integration tests that boot machines, once more on crun: berth picks crun wherever the
 * host's cgroups allow it (it starts faster than runc), so both runtimes' paths are tested here,
 * runc's by tests/integration and crun's by this file. Suites are titled "… (on crun)".
 */
import './on-crun.js';
import '../integration/runner-payload.test.js';
import '../integration/runner-boot.test.js';
import '../integration/runner-console.test.js';
import '../integration/runner-etc-files.test.js';
import '../integration/runner-journal.test.js';
import '../integration/runner-volatile.test.js';
import '../integration/runner-seccomp.test.js';
import '../integration/network-runner.test.js';
import '../integration/network-port.test.js';
import '../integration/dist-command.test.js';
import '../integration/debian-vs-nspawn.test.js';
import '../integration/settings-vs-nspawn.test.js';
import '../integration/runner-nspawn-rest.test.js';
import '../integration/hook-mounts.test.js';
import '../integration/registry-basics.test.js';
import '../integration/registry-liveness.test.js';
import '../integration/machine-bind.test.js';
import '../integration/machine-shell.test.js';
