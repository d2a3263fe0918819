/**
 * The rule model's value parsers: one field's input (a mark, a protocol, a port, an interface
 * name, a rate, a hook, …) checked and converted, or refused with the field's name and a
 * PktmarkError code. rule.ts's normalization composes them; the fronts and backends use them too.
 */
import type { Family } from '../codecs/address.js';
import { PktmarkError, type ErrorCode } from './errors.js';
import type { Direction, Hook, IfName, Mark, MarkRuleInput, MarkValueMatch, Mask, Rate, RateUnit } from './rule.js';

export const MAX_COMMENT_BYTES = 128;
export const IFNAMSIZ = 16;
export const FULL_MASK = 0xffffffff as Mask;

export function fail(code: ErrorCode, field: string, message: string, hint?: string): never {
  throw new PktmarkError(code, message, hint === undefined ? { field } : { field, hint });
}

/** A u32 written as decimal or 0x-hex (number or string). */
export function parseU32(v: unknown, field: string, code: ErrorCode = 'INVALID_MARK'): number {
  let n: number;
  if (typeof v === 'number') {
    n = v;
  } else if (typeof v === 'string' && /^\s*(0x[0-9a-f]+|\d+)\s*$/i.test(v)) {
    n = Number(v.trim());
  } else if (typeof v === 'bigint') {
    n = Number(v);
  } else {
    return fail(code, field, `${field} ${JSON.stringify(v)} is not a number (use decimal or 0x-hex)`);
  }
  if (!Number.isInteger(n)) fail(code, field, `${field} ${String(v)} is not an integer`);
  if (n < 0 || n > 0xffffffff) fail('MARK_RANGE', field, `${field} ${String(v)} is outside 0..0xffffffff`);
  return n;
}

const PROTOCOLS: Readonly<Record<string, number>> = {
  icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, 'ipv6-icmp': 58, sctp: 132, udplite: 136,
};
export const PORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 132, 136]);

export function protocolName(n: number): string {
  for (const [k, v] of Object.entries(PROTOCOLS)) if (v === n && k !== 'ipv6-icmp') return k;
  return String(n);
}

export function parseProto(v: string | number, field = 'proto'): number {
  if (typeof v === 'string') {
    const k = v.trim().toLowerCase();
    if (k in PROTOCOLS) return PROTOCOLS[k];
    if (!/^\d+$/.test(k)) return fail('INVALID_PROTO', field, `unknown protocol ${JSON.stringify(v)} (tcp, udp, icmp, icmpv6, sctp, udplite, or a number 0-255)`);
    v = Number(k);
  }
  if (!Number.isInteger(v) || v < 0 || v > 255) fail('INVALID_PROTO', field, `protocol ${String(v)} is outside 0..255`);
  return v;
}

export function parsePort(v: string | number, field: string): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) return fail('INVALID_PORT', field, `${field} ${JSON.stringify(v)} is not a port number`);
  if (n < 0 || n > 65535) fail('INVALID_PORT', field, `${field} ${n} is outside 0..65535`);
  return n;
}

const ifNameEncoder = new TextEncoder();
/** UTF-8 length; a short ASCII name (nearly every one) is its length: a bulk tc add checks one per rule */
function utf8Length(v: string): number {
  if (v.length >= IFNAMSIZ) return ifNameEncoder.encode(v).length;
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return ifNameEncoder.encode(v).length;
  return v.length;
}

/** Linux dev_valid_name(): 1-15 bytes, not "." or "..", no '/', ':' or whitespace. A trailing '+' is the iptables wildcard. */
export function parseIfName(v: unknown, field: string, allowWildcard = true): IfName {
  if (typeof v !== 'string' || v.length === 0) return fail('INVALID_IFNAME', field, `${field} must be an interface name`);
  const bytes = utf8Length(v);
  if (bytes >= IFNAMSIZ) fail('INVALID_IFNAME', field, `${field} ${JSON.stringify(v)} is ${bytes} bytes; interface names have at most ${IFNAMSIZ - 1}`);
  if (v === '.' || v === '..' || /[/:\s\0]/.test(v)) fail('INVALID_IFNAME', field, `${field} ${JSON.stringify(v)} is not a valid interface name`);
  if (v.includes('+') && !(allowWildcard && v.indexOf('+') === v.length - 1)) {
    fail('INVALID_IFNAME', field, `${field} ${JSON.stringify(v)}: '+' is allowed only at the end, as a wildcard`);
  }
  return v as IfName;
}

const UNITS: Readonly<Record<string, RateUnit>> = {
  s: 'second', sec: 'second', second: 'second', seconds: 'second',
  m: 'minute', min: 'minute', minute: 'minute', minutes: 'minute',
  h: 'hour', hour: 'hour', hours: 'hour',
  d: 'day', day: 'day', days: 'day',
};

export function parseRate(text: unknown, burst: unknown): Rate {
  if (typeof text !== 'string') return fail('INVALID_RATE', 'rate', `rate must be a string like "1/second"`);
  const m = /^\s*(\d+)\s*\/\s*([a-z]+)\s*$/i.exec(text);
  if (!m) return fail('INVALID_RATE', 'rate', `rate ${JSON.stringify(text)} is not N/second|minute|hour|day`);
  const unit = UNITS[m[2].toLowerCase()];
  if (!unit) fail('INVALID_RATE', 'rate', `rate unit ${JSON.stringify(m[2])} is not second, minute, hour or day`);
  const rate = Number(m[1]);
  if (rate < 1 || rate > 0xffffffff) fail('INVALID_RATE', 'rate', `rate ${m[1]} must be 1 or more per ${unit}`);
  let b = 5;
  if (burst !== undefined) {
    const n = typeof burst === 'string' && /^\s*-?\d+\s*$/.test(burst) ? Number(burst) : burst;
    if (typeof n !== 'number' || !Number.isInteger(n)) fail('INVALID_BURST', 'burst', `burst ${JSON.stringify(burst)} is not a whole number`);
    if (n < 1) fail('INVALID_BURST', 'burst', `burst ${n} must be at least 1`);
    if (n > 0xffffffff) fail('INVALID_BURST', 'burst', `burst ${n} is above 4294967295`);
    b = n;
  }
  return { rate, unit, burst: b };
}

export function parseFamily(v: MarkRuleInput['family']): Family | undefined {
  switch (v) {
    case undefined: case 'inet': return undefined;
    case 'ip': case 'ipv4': case '4': case 4: return 'ip';
    case 'ip6': case 'ipv6': case '6': case 6: return 'ip6';
    default: return fail('INVALID_FAMILY', 'family', `family ${JSON.stringify(v)} is not ip, ip6 or inet`);
  }
}

/** `V`, `V/M`, with an optional separate mask. */
export function parseMarkSpec(mark: unknown, mask: unknown, xor = false): { mark: Mark; mask: Mask; xor?: true } {
  let m: unknown = mark;
  let k: unknown = mask;
  // `auto[/MASK]` is resolved by a live scan (src/conflicts/) before a rule is normalized
  if (typeof mark === 'string' && /^\s*auto\b/i.test(mark)) {
    fail('INVALID_MARK', 'mark', `mark ${JSON.stringify(mark)} is picked by a live scan of this system's mark users, so it cannot be encoded offline`,
      'run without --dry-run (then a live scan picks it), or give the mark as V/M');
  }
  if (typeof mark === 'string' && mark.includes('/')) {
    if (mask !== undefined) fail('INVALID_MASK', 'mask', `give the mask either as mark "V/M" or as mask, not both`);
    const parts = mark.split('/');
    if (parts.length !== 2) fail('INVALID_MARK', 'mark', `mark ${JSON.stringify(mark)} is not V or V/M`);
    [m, k] = parts;
  }
  if (m === undefined || m === null || m === '') fail('INVALID_MARK', 'mark', 'mark is required');
  const value = parseU32(m, 'mark');
  const msk = k === undefined ? 0xffffffff : parseU32(k, 'mask', 'INVALID_MASK');
  if (!xor && (value & ~msk) >>> 0) {
    fail('MASK_MISMATCH', 'mark', `mark 0x${value.toString(16)} has bits outside mask 0x${msk.toString(16)} (bits 0x${((value & ~msk) >>> 0).toString(16)})`,
      'with --set-mark V/M only bits in M change; use xor semantics (--set-xmark) to toggle others');
  }
  return xor && (value & ~msk) >>> 0 ? { mark: value as Mark, mask: msk as Mask, xor: true } : { mark: value as Mark, mask: msk as Mask };
}

export function parseHook(v: unknown): Hook {
  if (v === undefined) return 'prerouting';
  if (typeof v === 'string') {
    const k = v.toLowerCase();
    if (k === 'prerouting' || k === 'output') return k;
  }
  return fail('INVALID_HOOK', 'hook', `hook ${JSON.stringify(v)} is not prerouting or output`);
}

/** `V`, `V/M`, `!V/M` (iptables `-m mark ! --mark V/M`); like xt_mark, a V outside M is taken (it never matches). */
export function parseMarkValueMatch(v: unknown, field: string): MarkValueMatch {
  if (typeof v !== 'string' && typeof v !== 'number') return fail('INVALID_MARK', field, `${field} must be V, V/M or !V/M`);
  let t = String(v).trim();
  const negate = t.startsWith('!');
  if (negate) t = t.slice(1).trim();
  const [a, b, extra] = t.split('/');
  if (extra !== undefined) fail('INVALID_MARK', field, `${field} ${JSON.stringify(v)} is not V[/M]`);
  const value = parseU32(a, field);
  const mask = b === undefined ? 0xffffffff : parseU32(b, field, 'INVALID_MASK');
  return { value, mask, negate };
}

/** Parse tc's and the bpf backends' `prio`: 1..65535. */
export function parsePrio(v: unknown): number {
  const p = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 0xffff) fail('INVALID_OPTION', 'prio', `prio ${JSON.stringify(v)} is outside 1..65535`);
  return p;
}

export function parseDirection(v: unknown): Direction {
  const d = v ?? 'ingress';
  if (d !== 'ingress' && d !== 'egress') fail('INVALID_OPTION', 'direction', `direction ${JSON.stringify(d)} is not ingress or egress`);
  return d;
}
