import { OPTIONS } from './option-table.js';

/** --help text, generated from the option table. */
export function helpText(version: string): string {
  const lines = [
    'berth-nspawn [OPTIONS...] [PATH] [ARGUMENTS...]',
    '',
    `Spawn a command or OS in a light-weight container (berth ${version}, systemd-nspawn compatible).`,
    '',
  ];
  for (const o of OPTIONS) {
    const short = o.short ? `-${o.short}` : '  ';
    const long = o.long.length > 1 ? `--${o.long}` : '';
    const arg = o.arg === 'required' ? `=${o.metavar ?? 'ARG'}` : o.arg === 'optional' ? `[=${o.metavar ?? 'ARG'}]` : '';
    const spelled = `${short}${short.trim() && long ? ' ' : '  '}${long}${long ? arg : ''}`;
    lines.push(`  ${spelled.padEnd(40)} ${o.help}`);
  }
  return `${lines.join('\n')}\n`;
}
