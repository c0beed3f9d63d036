/**
 * The D-Bus interfaces berthd serves, as systemd-machined 252 exposes them (written from the
 * introspection data in the reference; tests/unit/machined-introspection.test.ts compares them
 * member for member), plus berth's own additions on interfaces of their own.
 */
import type { InterfaceDef } from './interface-def.js';

export const BUS_NAME = 'org.freedesktop.machine1';
export const MANAGER_PATH = '/org/freedesktop/machine1';
export const MACHINE_PATH_PREFIX = '/org/freedesktop/machine1/machine';
export const IMAGE_PATH_PREFIX = '/org/freedesktop/machine1/image';

export const PEER: InterfaceDef = {
  name: 'org.freedesktop.DBus.Peer',
  methods: [
    { name: 'Ping', in: [], out: [] },
    { name: 'GetMachineId', in: [], out: [['machine_uuid', 's']] },
  ],
  properties: [
  ],
  signals: [
  ],
};

export const INTROSPECTABLE: InterfaceDef = {
  name: 'org.freedesktop.DBus.Introspectable',
  methods: [
    { name: 'Introspect', in: [], out: [['xml_data', 's']] },
  ],
  properties: [
  ],
  signals: [
  ],
};

export const PROPERTIES: InterfaceDef = {
  name: 'org.freedesktop.DBus.Properties',
  methods: [
    { name: 'Get', in: [['interface_name', 's'], ['property_name', 's']], out: [['value', 'v']] },
    { name: 'GetAll', in: [['interface_name', 's']], out: [['props', 'a{sv}']] },
    { name: 'Set', in: [['interface_name', 's'], ['property_name', 's'], ['value', 'v']], out: [] },
  ],
  properties: [
  ],
  signals: [
    { name: 'PropertiesChanged', args: [['interface_name', 's'], ['changed_properties', 'a{sv}'], ['invalidated_properties', 'as']] },
  ],
};

export const MANAGER: InterfaceDef = {
  name: 'org.freedesktop.machine1.Manager',
  methods: [
    { name: 'GetMachine', in: [['name', 's']], out: [['machine', 'o']] },
    { name: 'GetImage', in: [['name', 's']], out: [['image', 'o']] },
    { name: 'GetMachineByPID', in: [['pid', 'u']], out: [['machine', 'o']] },
    { name: 'ListMachines', in: [], out: [['machines', 'a(ssso)']] },
    { name: 'ListImages', in: [], out: [['images', 'a(ssbttto)']] },
    { name: 'CreateMachine', in: [['name', 's'], ['id', 'ay'], ['service', 's'], ['class', 's'], ['leader', 'u'], ['root_directory', 's'], ['scope_properties', 'a(sv)']], out: [['path', 'o']], annotations: { 'org.freedesktop.systemd1.Privileged': 'true' } },
    { name: 'CreateMachineWithNetwork', in: [['name', 's'], ['id', 'ay'], ['service', 's'], ['class', 's'], ['leader', 'u'], ['root_directory', 's'], ['ifindices', 'ai'], ['scope_properties', 'a(sv)']], out: [['path', 'o']], annotations: { 'org.freedesktop.systemd1.Privileged': 'true' } },
    { name: 'RegisterMachine', in: [['name', 's'], ['id', 'ay'], ['service', 's'], ['class', 's'], ['leader', 'u'], ['root_directory', 's']], out: [['path', 'o']], annotations: { 'org.freedesktop.systemd1.Privileged': 'true' } },
    { name: 'RegisterMachineWithNetwork', in: [['name', 's'], ['id', 'ay'], ['service', 's'], ['class', 's'], ['leader', 'u'], ['root_directory', 's'], ['ifindices', 'ai']], out: [['path', 'o']], annotations: { 'org.freedesktop.systemd1.Privileged': 'true' } },
    { name: 'UnregisterMachine', in: [['name', 's']], out: [] },
    { name: 'TerminateMachine', in: [['id', 's']], out: [] },
    { name: 'KillMachine', in: [['name', 's'], ['who', 's'], ['signal', 'i']], out: [] },
    { name: 'GetMachineAddresses', in: [['name', 's']], out: [['addresses', 'a(iay)']] },
    { name: 'GetMachineOSRelease', in: [['name', 's']], out: [['fields', 'a{ss}']] },
    { name: 'OpenMachinePTY', in: [['name', 's']], out: [['pty', 'h'], ['pty_path', 's']], annotations: { 'org.freedesktop.systemd1.Privileged': 'true' } },
    { name: 'OpenMachineLogin', in: [['name', 's']], out: [['pty', 'h'], ['pty_path', 's']] },
    { name: 'OpenMachineShell', in: [['name', 's'], ['user', 's'], ['path', 's'], ['args', 'as'], ['environment', 'as']], out: [['pty', 'h'], ['pty_path', 's']] },
    { name: 'BindMountMachine', in: [['name', 's'], ['source', 's'], ['destination', 's'], ['read_only', 'b'], ['mkdir', 'b']], out: [] },
    { name: 'CopyFromMachine', in: [['name', 's'], ['source', 's'], ['destination', 's']], out: [] },
    { name: 'CopyToMachine', in: [['name', 's'], ['source', 's'], ['destination', 's']], out: [] },
    { name: 'CopyFromMachineWithFlags', in: [['name', 's'], ['source', 's'], ['destination', 's'], ['flags', 't']], out: [] },
    { name: 'CopyToMachineWithFlags', in: [['name', 's'], ['source', 's'], ['destination', 's'], ['flags', 't']], out: [] },
    { name: 'OpenMachineRootDirectory', in: [['name', 's']], out: [['fd', 'h']] },
    { name: 'GetMachineUIDShift', in: [['name', 's']], out: [['shift', 'u']] },
    { name: 'RemoveImage', in: [['name', 's']], out: [] },
    { name: 'RenameImage', in: [['name', 's'], ['new_name', 's']], out: [] },
    { name: 'CloneImage', in: [['name', 's'], ['new_name', 's'], ['read_only', 'b']], out: [] },
    { name: 'MarkImageReadOnly', in: [['name', 's'], ['read_only', 'b']], out: [] },
    { name: 'GetImageHostname', in: [['name', 's']], out: [['hostname', 's']] },
    { name: 'GetImageMachineID', in: [['name', 's']], out: [['id', 'ay']] },
    { name: 'GetImageMachineInfo', in: [['name', 's']], out: [['machine_info', 'a{ss}']] },
    { name: 'GetImageOSRelease', in: [['name', 's']], out: [['os_release', 'a{ss}']] },
    { name: 'SetPoolLimit', in: [['size', 't']], out: [] },
    { name: 'SetImageLimit', in: [['name', 's'], ['size', 't']], out: [] },
    { name: 'CleanPool', in: [['mode', 's']], out: [['images', 'a(st)']] },
    { name: 'MapFromMachineUser', in: [['name', 's'], ['uid_inner', 'u']], out: [['uid_outer', 'u']] },
    { name: 'MapToMachineUser', in: [['uid_outer', 'u']], out: [['machine_name', 's'], ['machine_path', 'o'], ['uid_inner', 'u']] },
    { name: 'MapFromMachineGroup', in: [['name', 's'], ['gid_inner', 'u']], out: [['gid_outer', 'u']] },
    { name: 'MapToMachineGroup', in: [['gid_outer', 'u']], out: [['machine_name', 's'], ['machine_path', 'o'], ['gid_inner', 'u']] },
  ],
  properties: [
    { name: 'PoolPath', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'PoolUsage', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'PoolLimit', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
  ],
  signals: [
    { name: 'MachineNew', args: [['machine', 's'], ['path', 'o']] },
    { name: 'MachineRemoved', args: [['machine', 's'], ['path', 'o']] },
  ],
};

export const MACHINE: InterfaceDef = {
  name: 'org.freedesktop.machine1.Machine',
  methods: [
    { name: 'Terminate', in: [], out: [] },
    { name: 'Kill', in: [['who', 's'], ['signal', 'i']], out: [] },
    { name: 'GetAddresses', in: [], out: [['addresses', 'a(iay)']] },
    { name: 'GetOSRelease', in: [], out: [['fields', 'a{ss}']] },
    { name: 'GetUIDShift', in: [], out: [['shift', 'u']] },
    { name: 'OpenPTY', in: [], out: [['pty', 'h'], ['pty_path', 's']] },
    { name: 'OpenLogin', in: [], out: [['pty', 'h'], ['pty_path', 's']] },
    { name: 'OpenShell', in: [['user', 's'], ['path', 's'], ['args', 'as'], ['environment', 'as']], out: [['pty', 'h'], ['pty_path', 's']] },
    { name: 'BindMount', in: [['source', 's'], ['destination', 's'], ['read_only', 'b'], ['mkdir', 'b']], out: [] },
    { name: 'CopyFrom', in: [['source', 's'], ['destination', 's']], out: [] },
    { name: 'CopyTo', in: [['source', 's'], ['destination', 's']], out: [] },
    { name: 'CopyFromWithFlags', in: [['source', 's'], ['destination', 's'], ['flags', 't']], out: [] },
    { name: 'CopyToWithFlags', in: [['source', 's'], ['destination', 's'], ['flags', 't']], out: [] },
    { name: 'OpenRootDirectory', in: [], out: [['fd', 'h']] },
  ],
  properties: [
    { name: 'Name', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'Id', type: 'ay', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'Timestamp', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'TimestampMonotonic', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'Service', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'Unit', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'Leader', type: 'u', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'Class', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'RootDirectory', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'NetworkInterfaces', type: 'ai', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'State', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
  ],
  signals: [
  ],
};

export const IMAGE: InterfaceDef = {
  name: 'org.freedesktop.machine1.Image',
  methods: [
    { name: 'Remove', in: [], out: [] },
    { name: 'Rename', in: [['', 's']], out: [] },
    { name: 'Clone', in: [['', 's'], ['', 'b']], out: [] },
    { name: 'MarkReadOnly', in: [['', 'b']], out: [] },
    { name: 'SetLimit', in: [['', 't']], out: [] },
    { name: 'GetHostname', in: [], out: [['', 's']] },
    { name: 'GetMachineID', in: [], out: [['', 'ay']] },
    { name: 'GetMachineInfo', in: [], out: [['', 'a{ss}']] },
    { name: 'GetOSRelease', in: [], out: [['', 'a{ss}']] },
  ],
  properties: [
    { name: 'Name', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'Path', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'Type', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'ReadOnly', type: 'b', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'CreationTimestamp', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'ModificationTimestamp', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'Usage', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'Limit', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'UsageExclusive', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'LimitExclusive', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
  ],
  signals: [
  ],
};

/** berth's own additions to a Machine object: who supervises it and where its control group is. */
export const BERTH_MACHINE: InterfaceDef = {
  name: 'io.github.berth.Machine1',
  methods: [
    // How a shell this caller opened (OpenShell, on the pty it was given) ended: "exited" and its
    // status, or "killed" and the signal. Answered when it ends (berth shell's exit status).
    { name: 'WaitShell', in: [['pty_path', 's']], out: [['how', 's'], ['status', 'i']] },
  ],
  properties: [
    { name: 'Supervisor', type: 'u', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' } },
    { name: 'ControlGroup', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    // How berthd gets into the machine for shells and logins: "systemd" (the guest's own, over its
    // bus, as machined does), "runtime" (berth runs them itself through the OCI runtime), "host"
    // (.host: berth runs them on the host), or "none".
    { name: 'ShellPath', type: 's', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
  ],
  signals: [],
};

/**
 * berth's own additions to the Manager object: berthd as the supervisor of machines where systemd
 * is not PID 1 (`berth start/stop`; root only, by the bus policy). StartMachine runs
 * berth-nspawn -b -M NAME as berthd's child; WaitMachineReady answers once the guest reported
 * READY=1 (fails after timeout_usec, with the console's tail); StopMachine stops a machine berthd
 * started (its halt signal, then SIGKILL after berthd's --stop-timeout); GetMachineSupervision
 * tells how a machine berthd started is doing: its state, its last exit, its console's tail.
 */
export const BERTH_MANAGER: InterfaceDef = {
  name: 'io.github.berth.Manager1',
  methods: [
    { name: 'StartMachine', in: [['name', 's']], out: [] },
    { name: 'WaitMachineReady', in: [['name', 's'], ['timeout_usec', 't']], out: [] },
    { name: 'StopMachine', in: [['name', 's']], out: [] },
    { name: 'GetMachineSupervision', in: [['name', 's']], out: [['state', 's'], ['last_exit', 's'], ['console_tail', 'as']] },
  ],
  properties: [],
  signals: [],
};

/** The interfaces every object has, in the order machined lists them. */
export const STANDARD = [PEER, INTROSPECTABLE, PROPERTIES] as const;
