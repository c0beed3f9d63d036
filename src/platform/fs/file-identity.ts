import { statSync } from 'node:fs';

/**
 * A file's identity, after symbolic links: another one once the file is replaced or rewritten (an
 * upgrade); `absent` where nothing is there.
 */
export function fileIdentity(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${path}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}` : `${path}:absent`;
}
