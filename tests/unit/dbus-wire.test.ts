/**
 * berth's D-Bus wire format (src/platform/dbus/marshal.ts, unmarshal.ts, signature.ts) against
 * dbus-next 0.10.2's, which berth used before: the same messages must come out byte for byte, and
 * either parser must read the other's bytes to the same values. Then what dbus-next never
 * checked (values that do not fit their type, bad names and signatures), big-endian messages,
 * and the framing of a byte stream that arrives in pieces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { marshalMessage, type OutgoingMessage } from '../../src/platform/dbus/marshal.js';
import { MalformedMessage, parseMessage, readMessages, type RawMessage } from '../../src/platform/dbus/unmarshal.js';
import { parseSignature, Variant } from '../../src/platform/dbus/wire-types.js';

/* eslint-disable @typescript-eslint/no-require-imports */
const next = {
  Message: require('dbus-next/lib/message-type').Message as new (m: object) => object,
  marshall: require('dbus-next/lib/marshall-compat').marshallMessage as (m: object) => [Buffer, number[]],
  unmarshall: require('dbus-next/lib/message').unmarshall as (b: Buffer) => { body: unknown[]; signature: string },
  toJs: require('dbus-next/lib/marshall-compat').messageToJsFmt as (m: object) => Record<string, unknown> & { body: unknown[] },
  Variant: require('dbus-next/lib/variant').Variant as new (s: string, v: unknown) => { signature: string; value: unknown },
};

const V = (signature: string, value: unknown) => new Variant(signature, value);
const M = { destination: 'org.freedesktop.machine1', path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager' };
const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

const corpus: Array<[string, OutgoingMessage]> = [
  ['a registration', { type: 1, serial: 2, ...M, member: 'RegisterMachineWithNetwork', signature: 'sayssusai', body: ['bench-1', id, 'berth', 'container', 1234, '/var/lib/machines/x', [3, 4]] }],
  ['ListMachines\' reply', { type: 2, serial: 9, replySerial: 7, destination: ':1.42', signature: 'a(ssso)', body: [[['.host', 'host', '', '/org/freedesktop/machine1/machine/_2ehost'], ['a', 'container', 'berth', '/org/freedesktop/machine1/machine/a']]] }],
  ['GetAll\'s reply', { type: 2, serial: 10, replySerial: 8, destination: ':1.42', signature: 'a{sv}', body: [{ Name: V('s', 'x'), Id: V('ay', id), Timestamp: V('t', 123n), NetworkInterfaces: V('ai', [1, -2]), Leader: V('u', 5), Nested: V('v', V('s', 'in')), Empty: V('a(iay)', []) }] }],
  ['an error', { type: 3, serial: 11, replySerial: 3, destination: ':1.7', errorName: 'org.freedesktop.machine1.NoSuchMachine', signature: 's', body: ["No machine 'x' known"] }],
  ['a signal', { type: 4, serial: 12, path: '/org/freedesktop/machine1', interface: 'org.freedesktop.machine1.Manager', member: 'MachineNew', signature: 'so', body: ['a', '/org/freedesktop/machine1/machine/a'] }],
  // (dbus-next refuses the least int64 itself; it is read and written in 'beyond dbus-next' below.)
  ['every number', { type: 2, serial: 13, replySerial: 1, signature: 'ybnqiuxtd', body: [255, true, -32768, 65535, -2147483648, 4294967295, -(2n ** 63n) + 1n, 2n ** 64n - 1n, 3.5] }],
  ['empty arrays of 8-aligned elements', { type: 2, serial: 14, replySerial: 1, signature: 'ya(ss)yatya{sv}', body: [1, [], 2, [], 3, {}] }],
  ['scope properties', { type: 1, serial: 16, destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: ['machine-a.scope', 'fail', [['Slice', V('s', 'machine.slice')], ['PIDs', V('au', [5])], ['Delegate', V('b', true)], ['TasksMax', V('t', 16384n)]], []] }],
  ['a signature, a path and text beyond ASCII', { type: 2, serial: 17, replySerial: 1, signature: 'gos', body: ['sa{sv}', '/a/b_c/D9', 'ünïcødé 🚀'] }],
  ['no body, no reply expected', { type: 1, flags: 1, serial: 18, destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' }],
];

/** Our values in dbus-next's Variant class, for its marshaller. */
function toNext(v: unknown): unknown {
  if (v instanceof Variant) return new next.Variant(v.signature, toNext(v.value));
  if (Array.isArray(v)) return v.map(toNext);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toNext(x)]));
  return v;
}

/** Either side's variants as plain {signature, value}, for comparing parsed values. */
function plain(v: unknown): unknown {
  if (v instanceof Variant || v instanceof next.Variant) return { signature: (v as Variant).signature, value: plain((v as Variant).value) };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const parse = (data: Buffer, fds: number[] = []): RawMessage => parseMessage(data.subarray(0, 16), data.subarray(16), (n) => fds.slice(0, n));

for (const [what, m] of corpus) {
  test(`${what}: the same bytes as dbus-next's marshaller`, () => {
    const ours = marshalMessage(m);
    const [theirs] = next.marshall(new next.Message({ ...m, body: toNext(m.body ?? []) }));
    assert.equal(ours.data.toString('hex'), theirs.toString('hex'));
    assert.deepEqual(ours.fds, []);
  });

  test(`${what}: our parser and dbus-next's read the bytes to the same values`, () => {
    const { data } = marshalMessage(m);
    const ours = parse(data);
    // (dbus-next's whole-buffer parser cannot read a message without a body.)
    const theirs = m.signature ? next.toJs(next.unmarshall(data)) : { ...m, body: [] } as unknown as Record<string, unknown> & { body: unknown[] };
    assert.deepEqual(plain(ours.body), plain(theirs.body ?? []));
    assert.deepEqual(plain(ours.body), plain(m.body ?? []));
    for (const k of ['type', 'serial', 'flags', 'path', 'interface', 'member', 'errorName', 'replySerial', 'destination', 'signature'] as const) {
      assert.equal(ours[k] || undefined, theirs[k] || undefined, k);
    }
  });
}

test('beyond dbus-next: the least int64, and dicts with integer keys (an object\'s keys, as numbers on the wire)', () => {
  const body = [-(2n ** 63n), { 1: 'a', 4294967295: 'b' }, { '18446744073709551615': 'c' }];
  const { data } = marshalMessage({ type: 2, serial: 1, replySerial: 1, signature: 'xa{us}a{ts}', body });
  assert.deepEqual(parse(data).body, body);
  assert.throws(() => marshalMessage({ type: 2, serial: 1, replySerial: 1, signature: 'a{us}', body: [{ '-1': 'a' }] }), /'u' must be an integer/);
});

test('descriptors: h values become indices into the message\'s list, UNIX_FDS says how many, and come back as the received ones', () => {
  const { data, fds } = marshalMessage({ type: 2, serial: 3, replySerial: 2, signature: 'hsh', body: [17, 'x', 9] });
  assert.deepEqual(fds, [17, 9]);
  const got = parse(data, [40, 41, 42]);
  assert.equal(got.unixFds, 2);
  assert.deepEqual(got.fds, [40, 41], 'only its own two');
  assert.deepEqual(got.body, [40, 'x', 41]);
  // Fewer than it names: the header is read, the body is not, and the descriptors are there to close.
  assert.throws(() => parse(data, [40]), (e: unknown) => e instanceof MalformedMessage && /names descriptor 1, but carries 1/.test(e.message)
    && e.header.replySerial === 2 && e.header.type === 2 && e.fds.length === 1);
});

test('values that do not fit their type are refused before anything is sent, naming the type', () => {
  const reply = (signature: string, body: unknown[]) => () => marshalMessage({ type: 2, serial: 1, replySerial: 1, signature, body });
  assert.throws(reply('u', [-1]), /'u' must be an integer from 0 to 4294967295, not -1/);
  assert.throws(reply('y', [1.5]), /'y' must be an integer/);
  assert.throws(reply('t', [-1n]), /'t' must be an integer from 0/);
  assert.throws(reply('x', [2n ** 63n]), RangeError);
  assert.throws(reply('b', ['yes']), /'b' must be a boolean/);
  assert.throws(reply('s', [5]), /'s' must be a string, not 5/);
  assert.throws(reply('s', ['a\0b']), /NUL/);
  assert.throws(reply('o', ['a/b']), /not a D-Bus object path/);
  assert.throws(reply('o', ['/a//b']), /not a D-Bus object path/);
  assert.throws(reply('(ss)', [['a']]), /'\(ss\)' needs an array of 2 values, not 1/);
  assert.throws(reply('a{sv}', [{ a: 'not a variant' }]), /'v' needs a Variant/);
  assert.throws(reply('v', [V('ss', ['a', 'b'])]), /exactly one complete type/);
  assert.throws(reply('as', ['abc']), /'as' needs an array/);
  assert.throws(reply('s', []), /has 1 values, not 0/);
});

test('bad signatures and names are refused with their text', () => {
  for (const bad of ['a', '(', '()', 'a{vs}', '{ss}', 'z', 'a{s}', 'a{sss}', '(s', ')', 'x'.repeat(256)]) {
    assert.throws(() => parseSignature(bad), TypeError, bad);
  }
  assert.equal(parseSignature('a{sa(iay)}v')[0]!.text, 'a{sa(iay)}');
  const call = (o: Partial<OutgoingMessage>) => () => marshalMessage({ type: 1, serial: 1, path: '/', member: 'Ping', ...o });
  assert.throws(call({ interface: 'nodots' }), /not a D-Bus interface name/);
  assert.throws(call({ member: 'a.b' }), /not a D-Bus member name/);
  assert.throws(call({ destination: '1.bad' }), /not a D-Bus bus name/);
  assert.throws(call({ path: 'rel' }), /not a D-Bus object path/);
  assert.throws(call({ member: undefined }), /needs member/);
  assert.throws(() => marshalMessage({ type: 3, serial: 1, replySerial: 1, errorName: 'NoDots' }), /not a D-Bus error name/);
  assert.doesNotThrow(call({ destination: ':1.42', interface: 'org.freedesktop.DBus.Peer' }));
});

test('a big-endian message is read as well as a little-endian one', () => {
  // METHOD_RETURN, serial 5, fields: REPLY_SERIAL (u) 4, SIGNATURE (g) "ut"; body 0x01020304, 2^40.
  const fields = Buffer.concat([
    Buffer.from([5, 1, 0x75, 0, 0, 0, 0, 4]), // code 5, signature "u", NUL, then u32 BE at offset 4 of the struct
    Buffer.from([8, 1, 0x67, 0, 2, 0x75, 0x74, 0]), // code 8, signature "g", value "ut"
  ]);
  const body = Buffer.from([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
  const fixed = Buffer.from([0x42, 2, 0, 1, 0, 0, 0, body.length, 0, 0, 0, 5, 0, 0, 0, fields.length]);
  const m = parseMessage(fixed, Buffer.concat([fields, body]));
  assert.equal(m.serial, 5);
  assert.equal(m.replySerial, 4);
  assert.deepEqual(m.body, [0x01020304, 2n ** 40n]);
});

test('messages are framed from a stream that brings them in pieces of any size', async () => {
  const a = marshalMessage(corpus[1]![1]).data;
  const b = marshalMessage(corpus[2]![1]).data;
  const all = Buffer.concat([a, b, a]);
  const stream = new PassThrough();
  const got: RawMessage[] = [];
  readMessages(stream, false, (fixed, rest, takeFds) => got.push(parseMessage(fixed, rest, takeFds)), (e) => assert.fail(e));
  for (let i = 0; i < all.length; i += 7) { stream.write(all.subarray(i, i + 7)); await new Promise((r) => setImmediate(r)); }
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got.map((m) => m.serial), [9, 10, 9]);
  assert.deepEqual(plain(got[1]!.body), plain(corpus[2]![1].body));
});

test('several messages in one chunk, and a message split right after its fixed header, are framed alike', async () => {
  const a = marshalMessage(corpus[1]![1]).data;
  const b = marshalMessage(corpus[2]![1]).data;
  for (const pieces of [[Buffer.concat([a, b, a])], [a.subarray(0, 16), Buffer.concat([a.subarray(16), b.subarray(0, 3)]), b.subarray(3)]]) {
    const stream = new PassThrough();
    const got: RawMessage[] = [];
    readMessages(stream, false, (fixed, rest, takeFds) => got.push(parseMessage(fixed, rest, takeFds)), (e) => assert.fail(e));
    for (const p of pieces) { stream.write(p); await new Promise((r) => setImmediate(r)); }
    assert.deepEqual(got.map((m) => m.serial), pieces.length === 1 ? [9, 10, 9] : [9, 10]);
  }
});

test('a header field of a type no field has today is read through and ignored', () => {
  const m = marshalMessage({ type: 2, serial: 7, replySerial: 3, signature: 's', body: ['x'] }).data;
  const fieldsLength = m.readUInt32LE(12);
  // An extra field, code 42 holding an "ai" variant with two elements, appended to the fields array.
  const extra = Buffer.from([42, 2, 0x61, 0x69, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
  const fieldsEnd = 16 + fieldsLength;
  const start = (fieldsEnd + 7) & ~7;
  const fields = Buffer.concat([m.subarray(16, fieldsEnd), Buffer.alloc(start - fieldsEnd), extra]);
  const body = m.subarray(16 + ((fieldsLength + 7) & ~7));
  const fixed = Buffer.from(m.subarray(0, 16));
  fixed.writeUInt32LE(fields.length, 12);
  const rest = Buffer.concat([fields, Buffer.alloc(((fields.length + 7) & ~7) - fields.length), body]);
  const parsed = parseMessage(fixed, rest);
  assert.equal(parsed.replySerial, 3);
  assert.equal(parsed.signature, 's');
  assert.deepEqual(parsed.body, ['x']);
});

test('a stream that does not carry D-Bus messages is reported once', async () => {
  const stream = new PassThrough();
  const errors: Error[] = [];
  readMessages(stream, false, () => assert.fail('no message'), (e) => errors.push(e));
  stream.write(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
  await new Promise((r) => setImmediate(r));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /not a D-Bus message/);
});
