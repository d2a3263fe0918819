import { PktmarkError } from './errors.js';

export type Family = 'ip' | 'ip6';

/** An address or prefix, normalized: host bits below the prefix are cleared (as nft and iptables do). */
export interface Cidr {
  readonly family: Family;
  /** canonical text of the (masked) address: dotted quad, or RFC 5952 for IPv6 */
  readonly address: string;
  readonly prefix: number;
}

const bad = (field: string, text: string, why: string): PktmarkError =>
  new PktmarkError('INVALID_CIDR', `invalid address ${JSON.stringify(text)}: ${why}`, { field });

export function parseIPv4(text: string, field = 'address'): Uint8Array {
  const fast = quickIPv4(text);
  if (fast) return fast;
  const parts = text.split('.');
  if (parts.length !== 4) throw bad(field, text, 'an IPv4 address has four dotted parts');
  const out = new Uint8Array(4);
  parts.forEach((p, i) => {
    if (!/^\d{1,3}$/.test(p)) throw bad(field, text, `part ${i + 1} (${JSON.stringify(p)}) is not a number 0-255`);
    const n = Number(p);
    if (n > 255) throw bad(field, text, `part ${i + 1} (${p}) is above 255`);
    out[i] = n;
  });
  return out;
}

/**
 * Canonical dotted quads (what normalized rules hold) parsed by char codes: bulk encoding turns
 * 10,000 addresses into bytes, and split/regex would dominate it. Anything unusual → undefined,
 * and the careful parser above explains what is wrong.
 */
function quickIPv4(t: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0, n = 0, digits = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return undefined;
    } else if (c === 46 && digits > 0 && part < 3) {
      out[part++] = n; n = 0; digits = 0;
    } else {
      return undefined;
    }
  }
  if (part !== 3 || digits === 0) return undefined;
  out[3] = n;
  return out;
}

/** Where the last `canonicalQuadAt` stopped: the index of the first character after the quad. */
export const quadScan = { end: 0 };

/**
 * The canonical dotted quad at the start of `t` (four parts 0-255, no leading zeros), read by
 * char codes up to the first character that cannot continue it (its index in quadScan.end): its
 * big-endian u32, else -1. canonicalIPv4 wants nothing after it, an address list's `quad/len` a
 * prefix. `from`/`to` read a word inside a longer text (a restore file) without slicing it out.
 */
export function canonicalQuadAt(t: string, from = 0, to = t.length): number {
  let v = 0, part = 0, n = 0, digits = 0, lead = false, i = from;
  const len = to;
  for (; i < len; i++) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 0) lead = c === 48;
      else if (lead) return -1; // "010": not canonical
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return -1;
    } else if (c === 46 && digits > 0 && part < 3) {
      v = v * 256 + n; part++; n = 0; digits = 0;
    } else break;
  }
  if (part !== 3 || digits === 0) return -1;
  quadScan.end = i;
  return v * 256 + n;
}

/**
 * A canonical dotted quad ("10.0.0.1": four parts 0-255, no leading zeros, nothing else) as its
 * big-endian u32, else -1. The bulk paths ask this first: a 10,000-source add is mostly such
 * text, and it needs neither the careful parser's allocations nor its messages.
 */
export function canonicalIPv4(t: string): number {
  const len = t.length;
  if (len < 7 || len > 15) return -1;
  const v = canonicalQuadAt(t);
  return v >= 0 && quadScan.end === len ? v : -1;
}

export function parseIPv6(text: string, field = 'address'): Uint8Array {
  let s = text;
  const out = new Uint8Array(16);
  // an embedded IPv4 tail (::ffff:10.0.0.1) becomes two groups
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: Uint8Array | undefined;
  if (v4) { tail = parseIPv4(v4[2], field); s = `${v4[1]}0:0`; }
  const halves = s.split('::');
  if (halves.length > 2) throw bad(field, text, "'::' may appear only once");
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const total = head.length + rest.length;
  if (halves.length === 1 && total !== 8) throw bad(field, text, 'an IPv6 address has eight groups (or uses ::)');
  if (halves.length === 2 && total > 7) throw bad(field, text, 'too many groups around ::');
  const all = [...head, ...Array<string>(8 - total).fill('0'), ...rest];
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad(field, text, `group ${JSON.stringify(g)} is not 1-4 hex digits`);
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

export function formatIPv4(b: Uint8Array): string { return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`; }

/** RFC 5952: lowercase, no leading zeros, the longest run (≥2) of zero groups as ::. */
export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

export function formatAddress(b: Uint8Array): string { return b.length === 4 ? formatIPv4(b) : formatIPv6(b); }

export function addressBytes(c: Pick<Cidr, 'family' | 'address'>): Uint8Array {
  return c.family === 'ip' ? parseIPv4(c.address) : parseIPv6(c.address);
}

/** Mask bytes for a prefix length. */
export function prefixMask(prefix: number, length: number): Uint8Array {
  const m = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    m[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return m;
}

/** `a.b.c.d/p` with p 0-32 written plainly (no sign, no space, 1-2 digits), as its prefix length; else -1. The length is t[from, to). */
export function plainPrefix(t: string, from: number, to = t.length): number {
  const n = to - from;
  if (n < 1 || n > 2) return -1;
  let p = 0;
  for (let i = from; i < to; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    p = p * 10 + (c - 48);
  }
  return p <= 32 ? p : -1;
}

/**
 * A canonical `a.b.c.d/p` (canonicalQuadAt's quad, plainPrefix's length) as parseCidr reads it,
 * host bits cleared; undefined for anything else, which parseCidr's careful path then reads (7% of
 * a 10,000-line restore's parse of `-s a.b.c.d/32`, with its byte arrays).
 */
export function canonicalIPv4Prefix(t: string): Cidr | undefined {
  const q = canonicalQuadAt(t);
  const end = quadScan.end;
  if (q < 0 || end === t.length || t.charCodeAt(end) !== 47) return undefined;
  const prefix = plainPrefix(t, end + 1);
  if (prefix < 0) return undefined;
  if (prefix === 32) return { family: 'ip', address: t.slice(0, end), prefix };
  const v = prefix === 0 ? 0 : (q & (0xffffffff << (32 - prefix))) >>> 0;
  return { family: 'ip', address: formatIPv4(Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255)), prefix };
}

/** Parse `ADDR` or `ADDR/LEN`; the family comes from the text. */
export function parseCidr(text: string, field = 'address'): Cidr {
  if (typeof text === 'string') {
    const quick = canonicalIPv4Prefix(text);
    if (quick !== undefined) return quick;
  }
  if (typeof text !== 'string' || text.trim() === '') throw bad(field, String(text), 'empty');
  const t = text.trim();
  const slash = t.indexOf('/');
  const addrText = slash < 0 ? t : t.slice(0, slash);
  const family: Family = addrText.includes(':') ? 'ip6' : 'ip';
  const bytes = family === 'ip' ? parseIPv4(addrText, field) : parseIPv6(addrText, field);
  const max = bytes.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) throw bad(field, t, `prefix length ${JSON.stringify(p)} is not a number`);
    prefix = Number(p);
    if (prefix > max) throw bad(field, t, `prefix length ${prefix} is above ${max}`);
  }
  if (prefix < max) {
    const mask = prefixMask(prefix, bytes.length);
    for (let i = 0; i < bytes.length; i++) bytes[i] &= mask[i];
  }
  // bulk input is mostly canonical dotted quads already: keep the caller's string then
  const address = family === 'ip' && prefix === max && isCanonicalIPv4(addrText) ? addrText : formatAddress(bytes);
  return { family, address, prefix };
}

/** No leading zeros ("010"), so the text is what formatIPv4 would print. */
function isCanonicalIPv4(t: string): boolean {
  for (let i = 0; i < t.length - 1; i++) {
    if (t.charCodeAt(i) === 48 && (i === 0 || t.charCodeAt(i - 1) === 46) && t.charCodeAt(i + 1) !== 46) return false;
  }
  return true;
}

export function formatCidr(c: Cidr): string {
  return c.prefix === (c.family === 'ip' ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`;
}
