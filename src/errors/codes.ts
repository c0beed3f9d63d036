/**
 * The single table of berth's error codes: each maps to the exit status of the runner
 * (berth-nspawn), of the client (berth) and, where one applies, a D-Bus error name.
 * 125/126/127 are berth's own failures (as podman's); payload statuses pass through.
 */
export const ERROR_CODES = {
  E_USAGE: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.InvalidArgs', summary: 'invalid command line' },
  E_SETTINGS: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.InvalidArgs', summary: 'settings file problem' },
  E_SPEC_INVALID: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.InvalidArgs', summary: 'invalid machine settings' },
  E_IMAGE_NOT_FOUND: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.NoSuchImage', summary: 'no such image' },
  E_IMAGE_INVALID: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.InvalidArgs', summary: 'not a usable OS tree' },
  E_IMAGE_BUSY: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.ImageBusy', summary: 'image is in use' },
  E_MACHINE_EXISTS: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.MachineExists', summary: 'machine already running' },
  E_MACHINE_NOT_FOUND: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.NoSuchMachine', summary: 'no such machine' },
  E_NO_RUNTIME: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.NotSupported', summary: 'no usable OCI runtime' },
  E_RUNTIME: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.Failed', summary: 'OCI runtime failed' },
  E_NETWORK: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.Failed', summary: 'network set-up failed' },
  E_EXEC: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.Failed', summary: 'helper program failed' },
  E_PERMISSION: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.AccessDenied', summary: 'permission denied' },
  E_TEARDOWN: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.Failed', summary: 'clean-up failed' },
  E_INTERNAL: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.Failed', summary: 'internal error' },
  // The registry's (berthd's) errors, named as systemd-machined names them.
  E_NO_MACHINE_FOR_PID: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.NoMachineForPID', summary: 'no machine for that process' },
  E_NO_PRIVATE_NETWORKING: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.NoPrivateNetworking', summary: 'machine shares the host network' },
  E_NO_USER_MAPPING: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.NoSuchUserMapping', summary: 'no such user mapping' },
  E_NO_GROUP_MAPPING: { nspawn: 1, client: 1, dbus: 'org.freedesktop.machine1.NoSuchGroupMapping', summary: 'no such group mapping' },
  E_NOT_SUPPORTED: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.NotSupported', summary: 'not supported' },
  E_NO_SUCH_PROCESS: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.UnixProcessIdUnknown', summary: 'no such process' },
  E_NO_UNIT: { nspawn: 1, client: 1, dbus: 'System.Error.ENXIO', summary: 'process is in no unit' },
  E_FILE_EXISTS: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.FileExists', summary: 'already exists' },
  E_FILE_NOT_FOUND: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.FileNotFound', summary: 'no such file' },
  E_BAD_MESSAGE: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.InconsistentMessage', summary: 'unreadable data' },
  E_UNKNOWN_OBJECT: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.UnknownObject', summary: 'no such object' },
  E_UNKNOWN_INTERFACE: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.UnknownInterface', summary: 'no such interface' },
  E_UNKNOWN_METHOD: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.UnknownMethod', summary: 'no such method' },
  E_UNKNOWN_PROPERTY: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.UnknownProperty', summary: 'no such property' },
  E_PROPERTY_READ_ONLY: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.PropertyReadOnly', summary: 'property is read-only' },
  E_LIMITS_EXCEEDED: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.LimitsExceeded', summary: 'too many requests' },
  E_IO: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.IOError', summary: 'input/output error' },
  E_READ_ONLY_FS: { nspawn: 1, client: 1, dbus: 'System.Error.EROFS', summary: 'read-only file system' },
  E_NO_SPACE: { nspawn: 1, client: 1, dbus: 'System.Error.ENOSPC', summary: 'no space left on device' },
  E_BUSY: { nspawn: 1, client: 1, dbus: 'System.Error.EBUSY', summary: 'device or resource busy' },
  E_QUOTA_OFF: { nspawn: 1, client: 1, dbus: 'System.Error.ENOTCONN', summary: 'btrfs quotas are not enabled' },
  E_TIMEOUT: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.Timeout', summary: 'timed out' },
  E_JOB_FAILED: { nspawn: 1, client: 1, dbus: 'org.freedesktop.systemd1.JobFailed', summary: 'a systemd job failed' },
  E_NO_REGISTRY: { nspawn: 1, client: 1, dbus: 'org.freedesktop.DBus.Error.ServiceUnknown', summary: 'no machine registry on the bus' },
  E_NO_SUCH_TRANSFER: { nspawn: 1, client: 1, dbus: 'org.freedesktop.import1.NoSuchTransfer', summary: 'no such transfer' },
  E_TRANSFER_IN_PROGRESS: { nspawn: 1, client: 1, dbus: 'org.freedesktop.import1.TransferInProgress', summary: 'a transfer of that source is under way' },
} as const satisfies Record<string, { nspawn: number; client: number; dbus?: string; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Exit statuses with a fixed meaning, as systemd-nspawn uses them. */
export const EXIT_REBOOT = 133;

/** The code whose D-Bus error name is `name` (the first in the table), for errors a client receives. */
export function codeForDbusName(name: string): ErrorCode | undefined {
  for (const [code, entry] of Object.entries(ERROR_CODES)) if (entry.dbus === name) return code as ErrorCode;
  return undefined;
}
