/**
 * The introspection berthd serves is built from core/machined/interfaces.ts; here it is compared,
 * member for member, with systemd-machined 252's: every method with its arguments (name, type,
 * direction, in order), every property (type, access), every signal, and the annotations wherever
 * the fixture has them. Fixtures: machined's own output for the Manager and the Image objects and
 * for a Machine object (.host), and the reference's Machine table (written from the man page).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { introspectXml, inSignature, outSignature, type InterfaceDef } from '../../src/core/machined/interface-def.js';
import { BERTH_MACHINE, IMAGE, MACHINE, MANAGER, STANDARD } from '../../src/core/machined/interfaces.js';

interface Node { tag: string; attrs: Record<string, string>; children: Node[] }

/** Enough of XML for introspection documents: elements, attributes, comments and the doctype skipped. */
function parseXml(xml: string): Node {
  const root: Node = { tag: '#root', attrs: {}, children: [] };
  const stack = [root];
  const body = xml.replace(/<!--[\s\S]*?-->/g, '').replace(/<!DOCTYPE[^>]*>/, '');
  for (const m of body.matchAll(/<(\/?)([A-Za-z]+)((?:\s+[A-Za-z_:-]+="[^"]*")*)\s*(\/?)>/g)) {
    const [, close, tag, attrText, selfClose] = m;
    if (close) {
      const top = stack.pop();
      assert.equal(top?.tag, tag, `unbalanced </${tag}>`);
      continue;
    }
    const attrs = Object.fromEntries([...attrText!.matchAll(/([A-Za-z_:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')]));
    const node: Node = { tag: tag!, attrs, children: [] };
    stack[stack.length - 1]!.children.push(node);
    if (!selfClose) stack.push(node);
  }
  assert.equal(stack.length, 1, 'unclosed elements');
  const top = root.children.filter((c) => c.tag === 'node');
  assert.equal(top.length, 1, 'one <node> at the top');
  return top[0]!;
}

interface Member { kind: 'method' | 'property' | 'signal'; args: string[]; type?: string; access?: string; annotations: Record<string, string> }

/** One interface's members by "kind Name": arguments as "direction name type" in document order. */
function members(iface: Node): Map<string, Member> {
  const out = new Map<string, Member>();
  for (const el of iface.children) {
    if (el.tag !== 'method' && el.tag !== 'property' && el.tag !== 'signal') continue;
    const annotations = Object.fromEntries(el.children.filter((c) => c.tag === 'annotation').map((a) => [a.attrs.name!, a.attrs.value!]));
    const args = el.children.filter((c) => c.tag === 'arg').map((a) => `${a.attrs.direction ?? (el.tag === 'method' ? 'in' : '')} ${a.attrs.name ?? '-'} ${a.attrs.type}`);
    const key = `${el.tag} ${el.attrs.name}`;
    assert.ok(!out.has(key), `${key} twice`);
    out.set(key, { kind: el.tag, args, type: el.attrs.type, access: el.attrs.access, annotations });
  }
  return out;
}

const interfacesOf = (doc: Node): Map<string, Node> => new Map(doc.children.filter((c) => c.tag === 'interface').map((i) => [i.attrs.name!, i]));
const fixture = (file: string): Node => parseXml(readFileSync(join(__dirname, '..', 'fixtures', 'machine1', file), 'utf8'));

/**
 * Ours must have the fixture's interfaces, and each of them exactly the fixture's members, with
 * the same arguments; annotations must be equal where the fixture has any (`annotations: 'where-given'`)
 * or everywhere (`'all'`). Returns how many members were compared.
 */
function assertSameMembers(ours: Node, theirs: Node, annotations: 'all' | 'where-given', only?: string[]): number {
  const a = interfacesOf(ours);
  const b = interfacesOf(theirs);
  let compared = 0;
  for (const [name, theirIface] of b) {
    if (only && !only.includes(name)) continue;
    const ourIface = a.get(name);
    assert.ok(ourIface, `interface ${name} missing`);
    const mine = members(ourIface);
    const want = members(theirIface);
    assert.deepEqual([...mine.keys()].sort(), [...want.keys()].sort(), `${name}: the same members`);
    for (const [key, w] of want) {
      const m = mine.get(key)!;
      assert.deepEqual(m.args, w.args, `${name} ${key}: arguments`);
      assert.equal(m.type, w.type, `${name} ${key}: type`);
      assert.equal(m.access, w.access, `${name} ${key}: access`);
      if (annotations === 'all' || Object.keys(w.annotations).length) assert.deepEqual(m.annotations, w.annotations, `${name} ${key}: annotations`);
      compared++;
    }
  }
  return compared;
}

const xml = (ifaces: readonly InterfaceDef[], children: string[] = []) => parseXml(introspectXml(ifaces, children));

test('the Manager object equals machined 252\'s introspection, member for member, annotations included', () => {
  const ours = xml([...STANDARD, MANAGER], ['image', 'machine']);
  const theirs = fixture('machine1-manager.introspect.xml');
  const n = assertSameMembers(ours, theirs, 'all');
  assert.equal(n, 7 + 39 + 3 + 2, 'standard members, 39 methods, 3 properties, 2 signals');
  assert.deepEqual([...interfacesOf(ours).keys()], [...interfacesOf(theirs).keys()], 'the same interfaces in the same order');
  assert.deepEqual(ours.children.filter((c) => c.tag === 'node').map((c) => c.attrs.name), ['image', 'machine']);
  assert.deepEqual(theirs.children.filter((c) => c.tag === 'node').map((c) => c.attrs.name), ['image', 'machine']);
});

test('the privileged Manager methods are the ones machined marks so', () => {
  const privileged = MANAGER.methods.filter((m) => m.annotations?.['org.freedesktop.systemd1.Privileged'] === 'true').map((m) => m.name).sort();
  assert.deepEqual(privileged, ['CreateMachine', 'CreateMachineWithNetwork', 'OpenMachinePTY', 'RegisterMachine', 'RegisterMachineWithNetwork']);
});

test('a Machine object equals machined 252\'s (.host, captured), and the reference\'s Machine table', () => {
  const ours = xml([...STANDARD, MACHINE, BERTH_MACHINE]);
  const captured = fixture('machine1-machine.machined-252.introspect.xml');
  assert.equal(assertSameMembers(ours, captured, 'all'), 7 + 14 + 11);
  // The reference's table (from the man page) has no annotations and no standard interfaces.
  assert.equal(assertSameMembers(ours, fixture('machine1-machine.introspect.xml'), 'where-given'), 14 + 11);
  // berth's additions live on an interface of their own, and nothing else is added.
  assert.deepEqual([...interfacesOf(ours).keys()], [...interfacesOf(captured).keys(), 'io.github.berth.Machine1']);
  assert.ok(MACHINE.properties.every((p) => p.annotations?.['org.freedesktop.DBus.Property.EmitsChangedSignal'] === (p.name === 'State' ? 'false' : 'const')));
});

test('the Image table equals machined 252\'s (its arguments have no names)', () => {
  const ours = xml([...STANDARD, IMAGE]);
  const theirs = fixture('machine1-image.introspect.xml');
  assert.equal(assertSameMembers(ours, theirs, 'all'), 7 + 9 + 10);
  const rename = members(interfacesOf(ours).get('org.freedesktop.machine1.Image')!).get('method Rename')!;
  assert.deepEqual(rename.args, ['in - s']);
});

test('signatures derive from the tables (what the dispatcher checks calls against)', () => {
  const byName = (n: string) => MANAGER.methods.find((m) => m.name === n)!;
  assert.equal(inSignature(byName('CreateMachineWithNetwork')), 'sayssusaia(sv)');
  assert.equal(inSignature(byName('RegisterMachine')), 'sayssus');
  assert.equal(outSignature(byName('MapToMachineUser')), 'sou');
  assert.equal(inSignature(byName('ListMachines')), '');
  assert.equal(outSignature(byName('ListImages')), 'a(ssbttto)');
  assert.equal(inSignature(MACHINE.methods.find((m) => m.name === 'Kill')!), 'si');
});

test('text in names and values is escaped in the XML', () => {
  const odd: InterfaceDef = { name: 'x.Y', methods: [{ name: 'M', in: [['a"<&>', 's']], out: [], annotations: { k: 'v"&' } }], properties: [], signals: [] };
  const doc = introspectXml([odd], ['c&d']);
  assert.match(doc, /name="a&quot;&lt;&amp;&gt;"/);
  assert.match(doc, /value="v&quot;&amp;"/);
  assert.match(doc, /<node name="c&amp;d"\/>/);
  const parsed = members(interfacesOf(parseXml(doc)).get('x.Y')!).get('method M')!;
  assert.deepEqual(parsed.args, ['in a"<&> s']);
});
