/**
 * Port matches beyond one port: ranges (`1024-65535`, iptables `1024:`), lists (multiport,
 * an nft anonymous set) and negation (`! --dport 1`). One plain port stays a number in the model
 * (`dport: 53`); everything else is a PortMatch in `dports`/`sports`, so each rule has exactly one
 * normalized form.
 */
import { fail } from './rule.js';

export interface PortRange { readonly from: number; readonly to: number }
export interface PortMatch {
  /** sorted by `from`, not overlapping; one element for a plain range */
  readonly ranges: readonly PortRange[];
  readonly negate: boolean;
}
export type PortInput = string | number | readonly (number | string)[] | { readonly from: number | string; readonly to: number | string; readonly negate?: boolean };

function port(v: unknown, field: string): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) return fail('INVALID_PORT', field, `${field} ${JSON.stringify(v)} is not a port number`);
  if (n < 0 || n > 65535) fail('INVALID_PORT', field, `${field} ${n} is outside 0..65535`);
  return n;
}

/** `N`, `A-B`, and iptables' `A:B`, `A:` (to 65535), `:B` (from 0). */
function parseRangeText(t: string, field: string): PortRange {
  const m = /^\s*(\d*)\s*([:-])\s*(\d*)\s*$/.exec(t);
  if (!m) { const p = port(t, field); return { from: p, to: p }; }
  if (m[1] === '' && m[3] === '' ) fail('INVALID_PORT', field, `${field} ${JSON.stringify(t)} is not a port range`);
  if (m[2] === '-' && (m[1] === '' || m[3] === '')) fail('INVALID_PORT', field, `${field} ${JSON.stringify(t)}: write both ends (A-B)`);
  const from = m[1] === '' ? 0 : port(m[1], field);
  const to = m[3] === '' ? 65535 : port(m[3], field);
  if (from > to) fail('INVALID_PORT', field, `${field} range ${JSON.stringify(t)} has its start above its end`);
  return { from, to };
}

const isList = (v: PortInput): v is readonly (number | string)[] => Array.isArray(v);

/** A port field as the model holds it: a number (one port) or a PortMatch. */
export function parsePortField(v: PortInput, field: string): number | PortMatch {
  if (typeof v === 'number') return port(v, field);
  // a list, as the library writes it: `[80, 443, '1000-2000']` (each item a port or a range)
  if (isList(v)) {
    if (v.length === 0) fail('INVALID_PORT', field, `${field} is an empty list`);
    return canonical(v.map((x: unknown) => (typeof x === 'number' ? { from: port(x, field), to: port(x, field) } : typeof x === 'string' ? parseRangeText(x, field) : port(x, field) as never)), false);
  }
  if (typeof v === 'object' && v !== null && !isList(v)) {
    const r = { from: port(v.from, field), to: port(v.to, field) };
    if (r.from > r.to) fail('INVALID_PORT', field, `${field} range ${r.from}-${r.to} has its start above its end`);
    return canonical([r], v.negate === true);
  }
  if (typeof v !== 'string') return fail('INVALID_PORT', field, `${field} ${JSON.stringify(v)} is not a port, range or list`);
  let t = v.trim();
  const negate = t.startsWith('!');
  if (negate) t = t.slice(1);
  const items = t.split(',');
  if (items.some((x) => x.trim() === '')) fail('INVALID_PORT', field, `${field} ${JSON.stringify(v)} has an empty list item`);
  return canonical(items.map((x) => parseRangeText(x, field)), negate);
}

/** Sort and merge ranges (nft merges a set's overlapping intervals the same way); one plain port → number. */
function canonical(ranges: readonly PortRange[], negate: boolean): number | PortMatch {
  const s = [...ranges].sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) out[out.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else out.push(r);
  }
  if (out.length === 1 && out[0].from === out[0].to && !negate) return out[0].from;
  return { ranges: out, negate };
}

/** As users write it: `1024-65535`, `!53`, `80,443,8000-8080`. */
export function formatPortMatch(p: number | PortMatch, sep = '-'): string {
  if (typeof p === 'number') return String(p);
  return (p.negate ? '!' : '') + p.ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}${sep}${r.to}`)).join(',');
}

/** How many multiport slots a match takes: a range counts 2 (libxt_multiport, XT_MULTI_PORTS = 15). */
export const portSlots = (p: PortMatch): number => p.ranges.reduce((n, r) => n + (r.from === r.to ? 1 : 2), 0);
