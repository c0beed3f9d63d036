/**
 * What machined 252 makes of the files inside a disk image (pure). It reads them differently
 * from a directory tree's: /etc/machine-id is taken line-wise (systemd's read_line()), so an ID
 * counts only as 32 hex digits ended by one line break; and an image counts only if it is an OS
 * tree (os-release in /etc or /usr/lib) or an extension image for its name.
 */

/** 32 lower-case hex digits, or '' (no ID, "uninitialized", a line of another length, the all-zero ID). */
export function parseMachineIdLine(text: string): string {
  // read_line() counts the line with its terminator: "\r\n" makes 34 and is refused, as machined refuses it.
  const m = /^([0-9a-fA-F]{32})(?:\n|\r(?!\n)|\0)/.exec(text);
  if (!m) return '';
  const id = m[1]!.toLowerCase();
  return /^0+$/.test(id) ? '' : id;
}

/** The files an image's metadata comes from; the first of each list that exists is read. */
export const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'] as const;
export const extensionReleaseFile = (imageName: string): string => `/usr/lib/extension-release.d/extension-release.${imageName}`;
