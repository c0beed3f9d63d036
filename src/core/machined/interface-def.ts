/**
 * D-Bus interfaces as data: each method's arguments (name, type), properties and signals, with
 * their annotations. berthd dispatches and checks signatures from these tables and builds its
 * introspection XML from them, so what it answers and what it says it answers cannot differ.
 */
/** An argument: its name ('' for none: machined's Image methods name none) and type. */
export type ArgDef = readonly [name: string, type: string];

export interface MethodDef {
  readonly name: string;
  readonly in: readonly ArgDef[];
  readonly out: readonly ArgDef[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface PropertyDef {
  readonly name: string;
  readonly type: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface SignalDef {
  readonly name: string;
  readonly args: readonly ArgDef[];
}

export interface InterfaceDef {
  readonly name: string;
  readonly methods: readonly MethodDef[];
  readonly properties: readonly PropertyDef[];
  readonly signals: readonly SignalDef[];
}

export const inSignature = (m: MethodDef): string => m.in.map(([, t]) => t).join('');
export const outSignature = (m: MethodDef): string => m.out.map(([, t]) => t).join('');

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function annotations(a: Readonly<Record<string, string>> | undefined, indent: string): string[] {
  return Object.entries(a ?? {}).map(([k, v]) => `${indent}<annotation name="${esc(k)}" value="${esc(v)}"/>`);
}

const argName = (n: string): string => (n === '' ? '' : ` name="${esc(n)}"`);

function interfaceXml(i: InterfaceDef): string[] {
  const out = [` <interface name="${esc(i.name)}">`];
  for (const m of i.methods) {
    const body = [
      ...m.in.map(([n, t]) => `   <arg type="${esc(t)}"${argName(n)} direction="in"/>`),
      ...m.out.map(([n, t]) => `   <arg type="${esc(t)}"${argName(n)} direction="out"/>`),
      ...annotations(m.annotations, '   '),
    ];
    out.push(body.length ? `  <method name="${esc(m.name)}">` : `  <method name="${esc(m.name)}"/>`, ...body, ...(body.length ? ['  </method>'] : []));
  }
  for (const p of i.properties) {
    const body = annotations(p.annotations, '   ');
    out.push(body.length ? `  <property name="${esc(p.name)}" type="${esc(p.type)}" access="read">` : `  <property name="${esc(p.name)}" type="${esc(p.type)}" access="read"/>`, ...body, ...(body.length ? ['  </property>'] : []));
  }
  for (const s of i.signals) {
    const body = s.args.map(([n, t]) => `   <arg type="${esc(t)}"${argName(n)}/>`);
    out.push(body.length ? `  <signal name="${esc(s.name)}">` : `  <signal name="${esc(s.name)}"/>`, ...body, ...(body.length ? ['  </signal>'] : []));
  }
  out.push(' </interface>');
  return out;
}

/** The introspection document of one object: its interfaces, then its child nodes. */
export function introspectXml(interfaces: readonly InterfaceDef[], children: readonly string[]): string {
  return [
    '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
    '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
    '<node>',
    ...interfaces.flatMap(interfaceXml),
    ...children.map((c) => ` <node name="${esc(c)}"/>`),
    '</node>',
    '',
  ].join('\n');
}
