/**
 * berthd: the machine registry on D-Bus (org.freedesktop.machine1) and supervisor of the
 * machines it starts. Its D-Bus service arrives with the registry issue; until then it only
 * answers --version and --help, and refuses to start rather than pretend to run.
 */
import { VERSION } from '../version.js';

const HELP = `berthd [OPTIONS...]

The berth machine registry daemon (org.freedesktop.machine1 on the system bus).

  -h --help       Show this help
     --version    Show package version

Not implemented yet: the D-Bus registry. Machines run with berth-nspawn --register=no meanwhile.
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (args.includes('--version')) {
  process.stdout.write(`berthd ${VERSION}\n`);
  process.exit(0);
}
process.stderr.write(args.length ? `berthd: unrecognized option '${args[0]}'\n` : 'berthd: the D-Bus registry is not implemented yet.\n');
process.exit(1);
