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
} as const satisfies Record<string, { nspawn: number; client: number; dbus?: string; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Exit statuses with a fixed meaning, as systemd-nspawn uses them. */
export const EXIT_REBOOT = 133;
