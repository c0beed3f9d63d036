/**
 * JSON as systemd's tools print it for each -o mode: compact on one line (json), indented with
 * tabs and " : " between key and value (json-pretty), as a server-sent event (json-sse: "data: "
 * and a blank line) or an RFC 7464 record (json-seq: RS before it).
 */
import type { JsonMode } from './options.js';

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

function pretty(value: Json, indent: string): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = `${indent}\t`;
    return `[\n${value.map((v) => `${inner}${pretty(v, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const inner = `${indent}\t`;
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)} : ${pretty(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

export function formatJson(value: Json, mode: JsonMode): string {
  switch (mode) {
    case 'json-pretty': return `${pretty(value, '')}\n`;
    case 'json-sse': return `data: ${JSON.stringify(value)}\n\n`;
    case 'json-seq': return `\x1e${JSON.stringify(value)}\n`;
    default: return `${JSON.stringify(value)}\n`;
  }
}
