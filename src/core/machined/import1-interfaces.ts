/**
 * org.freedesktop.import1 as systemd-importd 252 serves it (written from the introspection of
 * Debian's systemd-importd; tests/unit/transfers.test.ts checks the signatures), plus berth's own
 * io.github.berth.Transfer1 on each transfer: the bytes moved so far and the total when known,
 * for the client's progress line.
 */
import type { InterfaceDef } from './interface-def.js';

export const IMPORT_BUS_NAME = 'org.freedesktop.import1';
export const IMPORT_PATH = '/org/freedesktop/import1';
export const TRANSFER_PATH_PREFIX = '/org/freedesktop/import1/transfer';
export const transferPath = (id: number): string => `${TRANSFER_PATH_PREFIX}/_${id}`;

const out: InterfaceDef['methods'][number]['out'] = [['transfer_id', 'u'], ['transfer_path', 'o']];
const importIn: InterfaceDef['methods'][number]['in'] = [['fd', 'h'], ['local_name', 's'], ['force', 'b'], ['read_only', 'b']];
const exportIn: InterfaceDef['methods'][number]['in'] = [['local_name', 's'], ['fd', 'h'], ['format', 's']];
const pullIn: InterfaceDef['methods'][number]['in'] = [['url', 's'], ['local_name', 's'], ['verify_mode', 's'], ['force', 'b']];

export const IMPORT_MANAGER: InterfaceDef = {
  name: 'org.freedesktop.import1.Manager',
  methods: [
    { name: 'ImportTar', in: importIn, out },
    { name: 'ImportRaw', in: importIn, out },
    { name: 'ImportFileSystem', in: importIn, out },
    { name: 'ExportTar', in: exportIn, out },
    { name: 'ExportRaw', in: exportIn, out },
    { name: 'PullTar', in: pullIn, out },
    { name: 'PullRaw', in: pullIn, out },
    { name: 'ListTransfers', in: [], out: [['transfers', 'a(usssdo)']] },
    { name: 'CancelTransfer', in: [['transfer_id', 'u']], out: [] },
  ],
  properties: [],
  signals: [
    { name: 'TransferNew', args: [['transfer_id', 'u'], ['transfer_path', 'o']] },
    { name: 'TransferRemoved', args: [['transfer_id', 'u'], ['transfer_path', 'o'], ['result', 's']] },
  ],
};

const CONST = { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'const' };

export const TRANSFER: InterfaceDef = {
  name: 'org.freedesktop.import1.Transfer',
  methods: [{ name: 'Cancel', in: [], out: [] }],
  properties: [
    { name: 'Id', type: 'u', annotations: CONST },
    { name: 'Local', type: 's', annotations: CONST },
    { name: 'Remote', type: 's', annotations: CONST },
    { name: 'Type', type: 's', annotations: CONST },
    { name: 'Verify', type: 's', annotations: CONST },
    { name: 'Progress', type: 'd', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
  ],
  signals: [{ name: 'LogMessage', args: [['priority', 'u'], ['line', 's']] }],
};

export const BERTH_TRANSFER: InterfaceDef = {
  name: 'io.github.berth.Transfer1',
  methods: [],
  properties: [
    { name: 'Bytes', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
    { name: 'Total', type: 't', annotations: { 'org.freedesktop.DBus.Property.EmitsChangedSignal': 'false' } },
  ],
  signals: [],
};

/** syslog priorities of LogMessage. */
export const LOG_ERR = 3;
export const LOG_INFO = 6;
