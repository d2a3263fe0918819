/**
 * IPv4 address lists as two Uint32Arrays of keys (first and last of each range) instead of an
 * object and two bigints per entry. A 100,000-source list went through parse → bigint ranges →
 * element objects → bigint → text → parse again → element objects; a quarter of its second was
 * the garbage collector (issue 13). The planning here gives the same ranges as mergeRanges and
 * hashElements in set-intervals.ts (property-tested against them); IPv6 keeps that path.
 */
import { canonicalIPv4 } from '../address.js';
import { parseAddressEntry, type AddressEntry } from './set-intervals.js';

/** Ranges of IPv4 keys, ascending and disjoint: `first[i]` ≤ `last[i]` (equal for one address). */
export interface V4Ranges {
  readonly first: Uint32Array;
  readonly last: Uint32Array;
}

export const isV4Ranges = (r: unknown): r is V4Ranges => (r as V4Ranges).first instanceof Uint32Array;

/** An address list's entries parsed: the IPv4 ones packed, the IPv6 ones as entries (in input order). */
export interface ParsedEntries {
  /** per IPv4 entry, in input order; `count` of them are used */
  readonly v4First: Uint32Array;
  readonly v4Last: Uint32Array;
  readonly v4Count: number;
  /** every IPv4 entry is one address */
  readonly v4Single: boolean;
  readonly v6: readonly AddressEntry[];
}

/** `a.b.c.d/p` with p 0-32 written plainly (no sign, no space, 1-2 digits), as its prefix length; else -1. */
function plainPrefix(t: string, from: number): number {
  const n = t.length - from;
  if (n < 1 || n > 2) return -1;
  let p = 0;
  for (let i = from; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    p = p * 10 + (c - 48);
  }
  return p <= 32 ? p : -1;
}

/**
 * Parse every entry (errors name `field[i]`, the first bad entry's, as parseAddressEntry
 * words them). Canonical dotted quads and `quad/len` are read by char codes; anything else
 * (ranges, spaces, leading zeros, IPv6, mistakes) goes to parseAddressEntry.
 */
export function parseEntries(entries: readonly string[], field: string): ParsedEntries {
  const first = new Uint32Array(entries.length);
  const last = new Uint32Array(entries.length);
  const v6: AddressEntry[] = [];
  let n = 0;
  let single = true;
  for (let i = 0; i < entries.length; i++) {
    const t = entries[i];
    const slash = t.indexOf('/');
    if (slash < 0) {
      const v = canonicalIPv4(t);
      if (v >= 0) { first[n] = v; last[n] = v; n++; continue; }
    } else {
      const p = plainPrefix(t, slash + 1);
      const v = p >= 0 ? canonicalIPv4(t.slice(0, slash)) : -1;
      if (v >= 0) {
        // host bits below the prefix are cleared, as nft and iptables do
        const host = 2 ** (32 - p);
        const lo = v - (v % host);
        first[n] = lo; last[n] = lo + host - 1; n++;
        if (p !== 32) single = false;
        continue;
      }
    }
    const e = parseAddressEntry(t, `${field}[${i}]`);
    if (e.family === 'ip6') { v6.push(e); continue; }
    first[n] = Number(e.range.first); last[n] = Number(e.range.last); n++;
    if (!e.single) single = false;
  }
  return { v4First: first, v4Last: last, v4Count: n, v4Single: single, v6 };
}

/** Distinct addresses, ascending: what a hash set of these keys holds. */
export function distinctKeys(keys: Uint32Array): V4Ranges {
  const s = keys.slice().sort();
  let n = 0;
  for (let i = 0; i < s.length; i++) if (n === 0 || s[i] !== s[n - 1]) s[n++] = s[i];
  const out = s.slice(0, n);
  return { first: out, last: out };
}

// first × 2^20 + index is exact in a double (2^52 < 2^53) for up to 2^20 entries (MAX_LIST_ENTRIES
// is 1,000,000): one native Float64Array sort instead of a comparator called n log n times.
const INDEX_BITS = 2 ** 20;

/**
 * Sort and merge, as mergeRanges: overlapping, duplicate and adjacent ranges joined
 * ([a, b] and [b + 1, c] become [a, c]). `first[i]` ≤ `last[i]` for every i < count.
 */
export function mergeV4(first: Uint32Array, last: Uint32Array, count: number): V4Ranges {
  const order = new Uint32Array(count);
  if (count < INDEX_BITS) {
    const k = new Float64Array(count);
    for (let i = 0; i < count; i++) k[i] = first[i] * INDEX_BITS + i;
    k.sort();
    for (let i = 0; i < count; i++) order[i] = k[i] % INDEX_BITS;
  } else {
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => first[a] - first[b]);
  }
  const outFirst = new Uint32Array(count);
  const outLast = new Uint32Array(count);
  let n = 0;
  for (let j = 0; j < count; j++) {
    const i = order[j];
    const f = first[i], l = last[i];
    if (n > 0 && f <= outLast[n - 1] + 1) {
      if (l > outLast[n - 1]) outLast[n - 1] = l;
    } else {
      outFirst[n] = f; outLast[n] = l; n++;
    }
  }
  return { first: outFirst.slice(0, n), last: outLast.slice(0, n) };
}

/** The IPv4 part of a parsed list, as its set holds it: distinct addresses (hash) or merged ranges (interval). */
export function planV4(p: ParsedEntries): { readonly interval: boolean; readonly ranges: V4Ranges } {
  const interval = !p.v4Single;
  return interval
    ? { interval, ranges: mergeV4(p.v4First, p.v4Last, p.v4Count) }
    : { interval, ranges: distinctKeys(p.v4First.subarray(0, p.v4Count)) };
}

export const formatV4 = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/** As formatRange for IPv4: an address, a prefix when the range is one, else `first-last`. */
export function formatV4Range(first: number, last: number): string {
  const a = formatV4(first);
  if (first === last) return a;
  const size = last - first + 1;
  const host = Math.log2(size); // exact for powers of two
  if (Number.isInteger(host) && first % size === 0) return `${a}/${32 - host}`;
  return `${a}-${formatV4(last)}`;
}

/** Each range as text (the list's entries). */
export function formatV4Ranges(r: V4Ranges): string[] {
  const out = new Array<string>(r.first.length);
  for (let i = 0; i < r.first.length; i++) out[i] = formatV4Range(r.first[i], r.last[i]);
  return out;
}
