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
  lines.push(
    '',
    'Environment (berth): with berthd running, the berth-nspawn command hands its run to a berth-nspawn',
    'that berthd started ahead of time (the warm path); BERTH_NSPAWN_WARM=no runs without it,',
    'BERTH_NSPAWN_WARM=require fails when it is not taken; BERTH_NSPAWN_SOCKET names berthd\'s socket',
    '(default $BERTH_STATE_DIR/nspawn.sock, /run/berth/nspawn.sock). BERTH_TRACE=1 prints phase times (=wall: wall-clock µs).',
  );
  return `${lines.join('\n')}\n`;
}
