/**
 * IPv4 address lists as two Uint32Arrays of keys (first and last of each range) instead of an
 * object and two bigints per entry. A 100,000-source list went through parse → bigint ranges →
 * element objects → bigint → text → parse again → element objects; a quarter of its second was
 * the garbage collector (issue 13). The planning here gives the same ranges as mergeRanges and
 * hashElements in set-intervals.ts (property-tested against them); IPv6 keeps that path.
 */
import { canonicalQuadAt, plainPrefix, quadScan } from '../address.js';
import { parseAddressEntry, type AddressEntry } from './set-intervals.js';
import { SHAPE_END, type PackedSetElems } from './set-elems-packed.js';

/** Ranges of IPv4 keys, ascending and disjoint: `first[i]` ≤ `last[i]` (equal for one address). */
export interface V4Ranges {
  readonly first: Uint32Array;
  readonly last: Uint32Array;
}

export const isV4Ranges = (r: unknown): r is V4Ranges => (r as V4Ranges).first instanceof Uint32Array;

/** An address list's entries parsed: the IPv4 ones packed, the IPv6 ones as entries (in input order). */
export interface ParsedEntries {
  /** per IPv4 entry, in input order; `count` of them are used (v4Last is v4First while every entry is one address) */
  readonly v4First: Uint32Array;
  readonly v4Last: Uint32Array;
  readonly v4Count: number;
  /**
   * per IPv4 entry: its index in the input (absent: the same index, no IPv6 entry came first),
   * and 1 when its text is a canonical dotted quad, its own formatV4 (absent: every one is).
   * Made only when needed: each of these arrays is fresh memory, ~10 µs a page here.
   */
  readonly v4Index?: Uint32Array;
  readonly v4Canonical?: Uint8Array;
  readonly texts: readonly string[];
  /** every IPv4 entry is one address */
  readonly v4Single: boolean;
  /** every entry is a canonical dotted quad, each above the one before (no sort, no duplicate, no other text) */
  readonly v4Ascending: boolean;
  readonly v6: readonly AddressEntry[];
}

/** The prefix length of the entry scanV4 read last (-1: none, a plain address). */
let scannedPrefix = -1;

/**
 * A canonical dotted quad (canonicalIPv4's rules), alone or followed by `/p` (plainPrefix's),
 * read in one pass by char codes: its u32, with the prefix in scannedPrefix; else -1. One scan
 * per entry, and no substring for a prefix: a 100,000-entry list is read in its first add, on a
 * cold JIT.
 */
function scanV4(t: string): number {
  const len = t.length;
  if (len < 7 || len > 18) return -1;
  const v = canonicalQuadAt(t);
  if (v < 0) return -1;
  const i = quadScan.end;
  if (i === len) { scannedPrefix = -1; return v; }
  if (t.charCodeAt(i) !== 47) return -1;
  const p = plainPrefix(t, i + 1);
  if (p < 0) return -1;
  scannedPrefix = p;
  return v;
}

/**
 * Parse every entry (errors name `field[i]`, the first bad entry's, as parseAddressEntry
 * words them). Canonical dotted quads and `quad/len` are read by char codes; anything else
 * (ranges, spaces, leading zeros, IPv6, mistakes) goes to parseAddressEntry. `check`, if given,
 * runs once, before the first entry that is anything else is parsed (the caller's whole-list
 * checks, whose errors come first): a list of plain addresses and prefixes is read in one pass.
 */
export function parseEntries(entries: readonly unknown[], field: string, check?: () => void): ParsedEntries {
  const size = entries.length;
  const first = new Uint32Array(size);
  let last: Uint32Array | undefined;
  let index: Uint32Array | undefined;
  let canonical: Uint8Array | undefined;
  const v6: AddressEntry[] = [];
  let n = 0;
  let ascending = true, checked = check === undefined;
  // the arrays made only once an entry needs them, filled as they would have been so far
  const needLast = (): Uint32Array => { if (!last) { last = new Uint32Array(size); last.set(first.subarray(0, n)); } return last; };
  const needCanonical = (): Uint8Array => { if (!canonical) { canonical = new Uint8Array(size); canonical.fill(1, 0, n); } return canonical; };
  for (let i = 0; i < size; i++) {
    const t = entries[i];
    const v = typeof t === 'string' ? scanV4(t) : -1;
    if (v >= 0) {
      if (scannedPrefix < 0) {
        if (n > 0 && first[n - 1] >= v) ascending = false;
        first[n] = v;
        if (last) last[n] = v;
        if (index) index[n] = i;
        if (canonical) canonical[n] = 1;
        n++;
        continue;
      }
      // host bits below the prefix are cleared, as nft and iptables do
      const host = 2 ** (32 - scannedPrefix);
      const lo = v - (v % host);
      ascending = false;
      if (scannedPrefix !== 32) needLast();
      needCanonical()[n] = 0;
      first[n] = lo;
      if (last) last[n] = lo + host - 1;
      if (index) index[n] = i;
      n++;
      continue;
    }
    if (!checked) { checked = true; check!(); }
    ascending = false;
    const e = parseAddressEntry(t as string, `${field}[${i}]`);
    if (e.family === 'ip6') {
      if (!index) { index = new Uint32Array(size); for (let k = 0; k < n; k++) index[k] = k; }
      v6.push(e);
      continue;
    }
    if (!e.single) needLast();
    needCanonical()[n] = 0;
    first[n] = Number(e.range.first);
    if (last) last[n] = Number(e.range.last);
    if (index) index[n] = i;
    n++;
  }
  return {
    v4First: first, v4Last: last ?? first, v4Count: n, ...(index ? { v4Index: index } : {}), ...(canonical ? { v4Canonical: canonical } : {}),
    texts: entries as readonly string[], v4Single: last === undefined, v4Ascending: ascending && n > 0, v6,
  };
}

// first × 2^20 + index is exact in a double (2^52 < 2^53) for up to 2^20 entries (MAX_LIST_ENTRIES
// is 1,000,000): one native Float64Array sort instead of a comparator called n log n times.
const INDEX_BITS = 2 ** 20;

/**
 * Sort and merge, as mergeRanges: overlapping, duplicate and adjacent ranges joined
 * ([a, b] and [b + 1, c] become [a, c]). `first[i]` ≤ `last[i]` for every i < count.
 */
export function mergeV4(first: Uint32Array, last: Uint32Array, count: number): V4Ranges {
  const order = orderBy(first, count);
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

/** Entry positions 0 … count − 1 ordered by `keys` (ties in position order). */
function orderBy(keys: Uint32Array, count: number): Uint32Array {
  const order = new Uint32Array(count);
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) sorted = keys[i - 1] <= keys[i];
  if (sorted) {
    // lists are often written (or generated) in order: no sort at all
    for (let i = 0; i < count; i++) order[i] = i;
  } else if (count < INDEX_BITS) {
    const k = new Float64Array(count);
    for (let i = 0; i < count; i++) k[i] = keys[i] * INDEX_BITS + i;
    k.sort();
    for (let i = 0; i < count; i++) order[i] = k[i] % INDEX_BITS;
  } else {
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => keys[a] - keys[b] || a - b);
  }
  return order;
}

/**
 * Distinct addresses ascending (what a hash set of them holds), with their text: the input's
 * own string where it was canonical (no second string per address), else formatted.
 */
export function distinctKeys(p: ParsedEntries): { readonly ranges: V4Ranges; readonly text: readonly string[] } {
  if (p.v4Ascending) {
    // every entry a canonical address, ascending, no duplicate (a generated or sorted list):
    // the keys parsing made and the input's own strings are the answer, with nothing reordered.
    // The text is the caller's array: listOfPlans copies it into the list's entries.
    const keys = p.v4First.length === p.v4Count ? p.v4First : p.v4First.slice(0, p.v4Count);
    return { ranges: { first: keys, last: keys }, text: p.texts };
  }
  const order = orderBy(p.v4First, p.v4Count);
  const keys = new Uint32Array(p.v4Count);
  const text: string[] = [];
  let n = 0;
  for (let j = 0; j < order.length; j++) {
    const i = order[j];
    const k = p.v4First[i];
    if (n > 0 && keys[n - 1] === k) continue;
    keys[n++] = k;
    text.push(!p.v4Canonical || p.v4Canonical[i] ? p.texts[p.v4Index ? p.v4Index[i] : i] : formatV4(k));
  }
  const out = keys.slice(0, n);
  return { ranges: { first: out, last: out }, text };
}

/** The IPv4 part of a parsed list, as its set holds it (distinct addresses, or merged ranges) and as text. */
export function planV4(p: ParsedEntries): { readonly interval: boolean; readonly ranges: V4Ranges; readonly text: readonly string[] } {
  if (p.v4Single) return { interval: false, ...distinctKeys(p) };
  const ranges = mergeV4(p.v4First, p.v4Last, p.v4Count);
  return { interval: true, ranges, text: formatV4Ranges(ranges) };
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

/** A hash set's dumped keys (END elements left out, as listSetInfo does), ascending. */
export function dumpedHashKeys(p: PackedSetElems): V4Ranges {
  const keys = new Uint32Array(p.keys.length);
  let n = 0;
  for (let i = 0; i < p.keys.length; i++) if (p.shapes[i] !== SHAPE_END) keys[n++] = p.keys[i];
  const out = keys.slice(0, n).sort();
  return { first: out, last: out };
}

/**
 * intervalRanges for packed IPv4 elements: the ranges as stored (adjacent stored pairs stay
 * separate), ascending; undefined where intervalRanges throws DECODE (a start inside a range,
 * an END without a start above the lowest range).
 */
export function dumpedIntervalRanges(p: PackedSetElems): V4Ranges | undefined {
  const n = p.keys.length;
  // key × 2 + (END ? 0 : 1): ascending keys, an END (closing the range below) before a start at one key
  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) order[i] = p.keys[i] * 2 + (p.shapes[i] === SHAPE_END ? 0 : 1);
  order.sort();
  const first = new Uint32Array(n), last = new Uint32Array(n);
  let m = 0;
  let open = -1;
  for (let i = 0; i < n; i++) {
    const key = Math.floor(order[i] / 2);
    if (order[i] % 2 === 0) {
      if (open >= 0) { first[m] = open; last[m++] = key - 1; open = -1; } else if (key !== 0 && m > 0) return undefined;
    } else {
      if (open >= 0) return undefined;
      open = key;
    }
  }
  if (open >= 0) { first[m] = open; last[m++] = 0xffffffff; }
  return { first: first.slice(0, m), last: last.slice(0, m) };
}
