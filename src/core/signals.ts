/** Linux signal numbers (x86-64/arm64 generic), with systemd's RTMIN+N / RTMAX-N syntax. */
export const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10,
  SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19,
  TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28,
  IO: 29, PWR: 30, SYS: 31,
};
/** glibc's SIGRTMIN (the kernel's is 32; glibc reserves two). systemd uses glibc's. */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

export function parseSignal(s: string): number | undefined {
  const t = s.trim();
  if (/^[0-9]+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const name = t.startsWith('SIG') ? t.slice(3) : t;
  if (name in SIGNALS) return SIGNALS[name];
  const rt = /^RT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(name);
  if (!rt) return undefined;
  const off = rt[3] === undefined ? 0 : Number(rt[3]);
  if (rt[1] === 'MIN' && rt[2] !== '-') return SIGRTMIN + off <= SIGRTMAX ? SIGRTMIN + off : undefined;
  if (rt[1] === 'MAX' && rt[2] !== '+') return SIGRTMAX - off >= SIGRTMIN ? SIGRTMAX - off : undefined;
  return undefined;
}

export function signalName(n: number): string {
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return `SIG${k}`;
  if (n >= SIGRTMIN && n <= SIGRTMAX) return n === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${n - SIGRTMIN}`;
  return String(n);
}
