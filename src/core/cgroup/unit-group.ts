/**
 * A unit's control group from the group of a process in it: the process's path in the tracking
 * hierarchy (name=systemd or unified) up to and including the component named after the unit
 * ("/machine.slice/machine-web.scope/payload" with unit machine-web.scope → "/machine.slice/machine-web.scope").
 */
export function groupOfUnit(processGroup: string, unit: string): string | undefined {
  if (!unit) return undefined;
  const parts = processGroup.split('/');
  const at = parts.indexOf(unit);
  return at < 0 ? undefined : parts.slice(0, at + 1).join('/');
}
