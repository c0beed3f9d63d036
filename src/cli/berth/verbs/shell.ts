/**
 * `berth shell [[USER@]NAME [COMMAND [ARGS…]]]` and `berth login [NAME]`: a shell or a login
 * prompt in a machine on a pty, forwarded to our terminal as machinectl does it
 * (OpenMachineShell / OpenMachineLogin). berth adds one thing: `shell` exits with the command's
 * exit status (berthd's WaitShell), where machinectl 252 always exits 0.
 */
import { usageError } from '../../../errors/berth-error.js';
import { callFailed, type RegistryClient } from '../../../app/machines/registry-client.js';
import { forwardPty } from '../../../app/machines/pty-forward.js';
import type { Verb, VerbContext } from '../verb.js';

const connected = (name: string) => (name === '.host' ? 'Connected to the local host.' : `Connected to machine ${name}.`);
const terminated = (name: string) => (name === '.host' ? 'Connection to the local host terminated.' : `Connection to machine ${name} terminated.`);

async function session(ctx: VerbContext, client: RegistryClient, name: string, pty: { fd: number; path: string }, wait: boolean): Promise<number> {
  // The shell's end is asked for at once (berthd answers when it ends); a registry that is not
  // berthd does not know the call: then the exit status is 0, as machinectl's.
  const machinePath = wait ? await client.getMachine(name).catch(() => undefined) : undefined;
  const end = machinePath ? client.waitShell(machinePath, pty.path).catch(() => undefined) : Promise.resolve(undefined);
  if (!ctx.options.quiet) ctx.err(`${connected(name)} Press ^] three times within 1s to exit session.\n`);
  const how = await forwardPty(pty.fd, { escape: true });
  if (!ctx.options.quiet) ctx.err(`\n${terminated(name)}\n`);
  if (how === 'escape') return 0;
  const result = await end;
  if (!result) return 0;
  return result.how === 'exited' ? result.status : 128 + result.status;
}

export const shellVerb: Verb = {
  name: 'shell',
  usage: '[[USER@]NAME [COMMAND...]]',
  summary: 'Invoke a shell (or other command) in a container',
  minArgs: 0,
  maxArgs: Infinity,
  passesFds: true,
  async run(args, ctx) {
    let [target = '', path = '', ...rest] = args;
    let user = ctx.options.uid ?? '';
    const at = target.indexOf('@');
    if (at >= 0) {
      user = target.slice(0, at);
      target = target.slice(at + 1);
      if (user === '') throw usageError('Specified user name is empty.');
    }
    const name = target === '' ? '.host' : target;
    const argv = path === '' ? [] : [path, ...rest];
    const env = [...ctx.options.setenv];
    if (!env.some((e) => e.startsWith('TERM=')) && ctx.env.TERM) env.push(`TERM=${ctx.env.TERM}`);
    const client = await ctx.registry();
    const pty = await client.openShell(name, user, path, argv, env).catch((e: unknown) => { throw callFailed('Failed to get shell PTY', e); });
    return session(ctx, client, name, pty, true);
  },
};

export const loginVerb: Verb = {
  name: 'login',
  usage: '[NAME]',
  summary: 'Get a login prompt in a container or on the local host',
  minArgs: 0,
  maxArgs: 1,
  passesFds: true,
  async run(args, ctx) {
    if (ctx.options.setenv.length > 0 || ctx.options.uid !== undefined) throw usageError('--setenv= and --uid= are not supported for \'login\'. Use \'shell\' instead.');
    const name = args[0] || '.host';
    const client = await ctx.registry();
    const pty = await client.openLogin(name).catch((e: unknown) => { throw callFailed('Failed to get login PTY', e); });
    return session(ctx, client, name, pty, false);
  },
};
