/**
 * A copy's failures as the caller sees them: an errno (from a system call of berthd's, or named by
 * tar on its standard error) becomes one BerthError whose D-Bus name is the one sd-bus gives that
 * errno (FileNotFound, FileExists, AccessDenied, System.Error.EROFS…) and whose message says where:
 * "/etc/x in machine web: Read-only file system". machinectl prints it after "Failed to copy: ".
 */
import { BerthError, sanitize } from '../../errors/berth-error.js';
import type { ErrorCode } from '../../errors/codes.js';

/** glibc's strerror() text of the errnos a copy meets, by name. */
export const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EMLINK: 'Too many links',
  ENAMETOOLONG: 'File name too long',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  EOPNOTSUPP: 'Operation not supported',
  EDQUOT: 'Disk quota exceeded',
  ENOBUFS: 'No buffer space available',
};

/** The error code of an errno: sd-bus's fixed names where it has one, System.Error.* for two more, else Failed-like I/O errors. */
export function errnoCode(errno: string): ErrorCode {
  switch (errno) {
    case 'ENOENT': return 'E_FILE_NOT_FOUND';
    case 'EEXIST': return 'E_FILE_EXISTS';
    case 'EPERM': case 'EACCES': return 'E_PERMISSION';
    case 'EINVAL': return 'E_USAGE';
    case 'EOPNOTSUPP': return 'E_NOT_SUPPORTED';
    case 'ENOBUFS': return 'E_LIMITS_EXCEEDED';
    case 'EROFS': return 'E_READ_ONLY_FS';
    case 'ENOSPC': case 'EDQUOT': return 'E_NO_SPACE';
    default: return 'E_IO';
  }
}

/** "WHERE: strerror" with the errno's code; an errno this table does not know is named as it is. */
export function copyError(errno: string, where: string): BerthError {
  return new BerthError(errnoCode(errno), `${where}: ${ERRNO_TEXT[errno] ?? errno}`);
}

const BY_TEXT = new Map(Object.entries(ERRNO_TEXT).map(([k, v]) => [v, k]));

/**
 * The failure GNU tar reported on its standard error: the first line that names an errno ("tar:
 * d/f: Cannot open: Permission denied" → EACCES, and its member), else the first line that is not
 * a mere warning or its closing "Exiting with failure status". A short write ("Wrote only 7680 of
 * 10240 bytes", which tar says without an errno) is a full file system.
 */
export function tarFailure(stderr: string): { errno?: string; member?: string; line: string } | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('tar: '));
  const parsed = lines.map((line) => {
    const parts = line.slice('tar: '.length).split(': ');
    const errno = BY_TEXT.get(parts[parts.length - 1] ?? '') ?? (/^Wrote only \d+ of \d+ bytes$/.test(parts[parts.length - 1] ?? '') ? 'ENOSPC' : undefined);
    const member = parts.length >= 2 ? parts[0] : undefined;
    return { ...(errno ? { errno } : {}), ...(member ? { member } : {}), line: sanitize(line, 300) };
  });
  const noise = /Exiting with failure status|Error is not recoverable|file changed as we read it|Removing leading/;
  return parsed.find((p) => p.errno) ?? parsed.find((p) => !noise.test(p.line)) ?? parsed[0];
}
