/**
 * Keys, ranges and the element lists nft sends for them — pure, no wire format (set.ts writes
 * the elements). Learned from fixtures/nft/set-*.json (nft 1.0.6):
 *
 * - A hash set gets one element per key (set-hash-v4).
 * - An interval set (NFT_SET_INTERVAL, the kernel's rbtree) gets, per range [first, last], a
 *   start element {key: first} and an END element {key: last + 1, flags: INTERVAL_END}
 *   (set-interval-v4: 10.0.0.0/24 → 10.0.0.0, END 10.0.1.0; a single address 10.1.2.3 →
 *   10.1.2.3, END 10.1.2.4). Elements go in ascending key order.
 * - A range that ends at the top of the key space has no END element; its start carries the
 *   element userdata NFTNL_UDATA_SET_ELEM_FLAGS = NFTNL_SET_ELEM_F_INTERVAL_OPEN
 *   (set-interval-v4-edges: 240.0.0.0/4; set-interval-v6: ff00::/8).
 * - A zero-key END element leads the list when the elements go into an empty set (a set created
 *   with them, an existing empty set, every anonymous set) and the lowest range does not start
 *   at 0 (nft's segtree_needs_first_segment). Adding to a set that already has elements sends no
 *   zero-key END (set-elem-add-interval), and a delete never includes it: it stays in the kernel.
 * - A delete repeats the stored start and END (set-elem-delete-interval), and for an open range
 *   the start with its userdata (set-elem-delete-open).
 *
 * Where pktmark differs from nft on purpose: it merges before sending. nft refuses overlapping
 * input ("conflicting intervals specified") and stores adjacent ranges as two pairs (END k and
 * start k both kept); pktmark sorts the ranges, merges overlaps and duplicates, and joins
 * adjacent ranges ([a, b] and [b + 1, c] become [a, c]) — kernels differ in their own overlap
 * checks (6.1 vs 6.18), and a merged list has one encoding. For merged input pktmark's elements
 * equal nft's byte for byte.
 */
import { PktmarkError } from '../errors.js';
import { parseIPv4, parseIPv6, prefixMask, formatAddress, type Family } from '../address.js';
import {
  INTERVAL_OPEN_USERDATA, NFT_DATATYPE, NFT_SET_ELEM_INTERVAL_END, type NftSetElem,
} from './set.js';

/** An inclusive range of keys of one width: an address range, a prefix, a port range, one key. */
export interface KeyRange { readonly first: bigint; readonly last: bigint }

/** Big-endian key bytes → number. */
export function keyValue(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Number → big-endian key bytes of `len` bytes (the register's byte order for addresses and ports). */
export function keyBytes(v: bigint, len: number): Uint8Array {
  if (v < 0n || v > maxKey(len)) throw new PktmarkError('ENCODE', `key ${v} does not fit ${len} bytes`, { field: 'key' });
  const b = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) { b[i] = Number(v & 0xffn); v >>= 8n; }
  return b;
}

export const maxKey = (len: number): bigint => (1n << BigInt(8 * len)) - 1n;

/**
 * Sort and merge: overlapping and duplicate ranges become one, and adjacent ranges are joined
 * ([1, 5] and [6, 9] → [1, 9]). The result covers exactly the union of the input, in ascending
 * order, with a gap of at least one key between ranges. A range with first > last is an error.
 */
export function mergeRanges(ranges: readonly KeyRange[]): KeyRange[] {
  for (const r of ranges) {
    if (r.first > r.last) throw new PktmarkError('INVALID_ARGUMENT', `range ${r.first}-${r.last} is reversed`, { field: 'elements' });
  }
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: { first: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top !== undefined && r.first <= top.last + 1n) {
      if (r.last > top.last) top.last = r.last;
    } else {
      out.push({ first: r.first, last: r.last });
    }
  }
  return out;
}

/**
 * `ranges` minus `remove`, merged: what a set should hold after a prefix is taken out of a
 * merged range. Removing 10.0.1.0/24 from a stored 10.0.0.0/16 leaves 10.0.0.0/24 and
 * 10.0.2.0–10.0.255.255; the caller deletes the stored pair and adds the remaining ones in the
 * same batch (intervalDeleteElements, then intervalElements with intoEmptySet false), so the
 * addresses that stay are never out of the set in between. Removing keys that are not in
 * `ranges` changes nothing.
 */
export function subtractRanges(ranges: readonly KeyRange[], remove: readonly KeyRange[]): KeyRange[] {
  const keep = mergeRanges(ranges);
  const cut = mergeRanges(remove);
  const out: KeyRange[] = [];
  let j = 0;
  for (const r of keep) {
    let first = r.first;
    while (j < cut.length && cut[j].last < first) j++;
    let k = j;
    while (k < cut.length && cut[k].first <= r.last) {
      if (cut[k].first > first) out.push({ first, last: cut[k].first - 1n });
      first = cut[k].last + 1n;
      if (cut[k].last >= r.last) break;
      k++;
    }
    if (first <= r.last) out.push({ first, last: r.last });
  }
  return out;
}

export interface IntervalOptions {
  /**
   * The elements go into an empty set: a set created in the same batch, an existing set with
   * no elements, or an anonymous set. Then nft leads with a zero-key END element (unless the
   * lowest range starts at 0); for a set that already has elements it does not.
   */
  readonly intoEmptySet: boolean;
}

function pairOf(r: KeyRange, len: number, top: bigint, out: NftSetElem[]): void {
  if (r.last === top) {
    out.push({ key: keyBytes(r.first, len), userdata: INTERVAL_OPEN_USERDATA.slice() });
  } else {
    out.push({ key: keyBytes(r.first, len) });
    out.push({ key: keyBytes(r.last + 1n, len), flags: NFT_SET_ELEM_INTERVAL_END });
  }
}

/** The elements nft sends to add `ranges` to an interval set (merged first; see the file comment). */
export function intervalElements(ranges: readonly KeyRange[], keyLen: number, opts: IntervalOptions): NftSetElem[] {
  const merged = mergeRanges(ranges);
  const top = maxKey(keyLen);
  const out: NftSetElem[] = [];
  if (merged.length === 0) return out;
  if (merged[merged.length - 1].last > top) throw new PktmarkError('ENCODE', `range beyond ${keyLen}-byte keys`, { field: 'elements' });
  if (opts.intoEmptySet && merged[0].first !== 0n) out.push({ key: new Uint8Array(keyLen), flags: NFT_SET_ELEM_INTERVAL_END });
  for (const r of merged) pairOf(r, keyLen, top, out);
  return out;
}

/**
 * The elements that delete stored ranges: each range's start and END exactly as stored (a
 * delete must repeat the stored pair; the kernel refuses a delete that does not match an
 * element). Not merged: pass the ranges as the set holds them (intervalRanges of a dump).
 */
export function intervalDeleteElements(stored: readonly KeyRange[], keyLen: number): NftSetElem[] {
  const top = maxKey(keyLen);
  const out: NftSetElem[] = [];
  for (const r of stored) {
    if (r.first > r.last || r.last > top) throw new PktmarkError('INVALID_ARGUMENT', `stored range ${r.first}-${r.last} is not a ${keyLen}-byte range`, { field: 'elements' });
    pairOf(r, keyLen, top, out);
  }
  return out;
}

/**
 * The ranges an interval set's elements describe, in any order (a kernel dump lists them in
 * descending order). The zero-key END and the END of each range are consumed; a start with no
 * END runs to the top of the key space. Adjacent stored ranges (nft keeps END k and start k)
 * come back as separate ranges, as stored — which is what intervalDeleteElements needs.
 */
export function intervalRanges(elements: readonly NftSetElem[], keyLen: number): KeyRange[] {
  const items = elements.map((e) => {
    if (e.key.length !== keyLen) throw new PktmarkError('DECODE', `set element key has ${e.key.length} bytes, the set ${keyLen}`, { field: 'elements' });
    return { key: keyValue(e.key), end: ((e.flags ?? 0) & NFT_SET_ELEM_INTERVAL_END) !== 0 };
  });
  // ascending; at one key an END (closing the range below) sorts before a start
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.end === b.end ? 0 : a.end ? -1 : 1));
  const out: KeyRange[] = [];
  let open: bigint | undefined;
  for (const it of items) {
    if (it.end) {
      if (open !== undefined) { out.push({ first: open, last: it.key - 1n }); open = undefined; }
      else if (it.key !== 0n && out.length > 0) throw new PktmarkError('DECODE', `interval END ${it.key} without a start`, { field: 'elements' });
    } else {
      if (open !== undefined) throw new PktmarkError('DECODE', `interval start ${it.key} inside the range from ${open}`, { field: 'elements' });
      open = it.key;
    }
  }
  if (open !== undefined) out.push({ first: open, last: maxKey(keyLen) });
  return out;
}

/** Hash-set elements: one per key, duplicates dropped, first occurrence order kept (as nft sends its input). */
export function hashElements(keys: readonly bigint[], keyLen: number): NftSetElem[] {
  const seen = new Set<bigint>();
  const out: NftSetElem[] = [];
  for (const k of keys) {
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ key: keyBytes(k, keyLen) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Address lists: what `m.add({ src: [...] })` turns into a set.

/** One parsed entry of an address list: `10.0.0.1`, `10.0.0.0/24`, `10.0.0.5-10.0.0.9`. */
export interface AddressEntry {
  readonly family: Family;
  readonly range: KeyRange;
  /** one address (no prefix shorter than the address, no range wider than one) */
  readonly single: boolean;
}

const familyOf = (t: string): Family => (t.includes(':') ? 'ip6' : 'ip');
const bytesOf = (t: string, f: Family, field: string): Uint8Array => (f === 'ip' ? parseIPv4(t, field) : parseIPv6(t, field));

export function parseAddressEntry(text: string, field = 'address'): AddressEntry {
  const t = typeof text === 'string' ? text.trim() : '';
  if (t === '') throw new PktmarkError('INVALID_CIDR', `invalid address ${JSON.stringify(text)}: empty`, { field });
  const dash = t.indexOf('-');
  if (dash >= 0) {
    const a = t.slice(0, dash).trim();
    const b = t.slice(dash + 1).trim();
    const family = familyOf(a);
    if (familyOf(b) !== family) throw new PktmarkError('FAMILY_MISMATCH', `range ${JSON.stringify(t)} mixes IPv4 and IPv6`, { field });
    const first = keyValue(bytesOf(a, family, field));
    const last = keyValue(bytesOf(b, family, field));
    if (first > last) throw new PktmarkError('INVALID_CIDR', `invalid range ${JSON.stringify(t)}: the first address is above the last`, { field });
    return { family, range: { first, last }, single: first === last };
  }
  const slash = t.indexOf('/');
  const a = slash < 0 ? t : t.slice(0, slash);
  const family = familyOf(a);
  const bytes = bytesOf(a, family, field);
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) throw new PktmarkError('INVALID_CIDR', `invalid address ${JSON.stringify(t)}: prefix length ${JSON.stringify(p)} is not 0-${bits}`, { field });
    prefix = Number(p);
  }
  // host bits below the prefix are cleared, as nft and iptables do
  const mask = prefixMask(prefix, bytes.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] &= mask[i];
  const first = keyValue(bytes);
  const last = first | ((1n << BigInt(bits - prefix)) - 1n);
  return { family, range: { first, last }, single: prefix === bits };
}

/** One family's set: its key, whether it is an interval set, its ranges and the elements to send. */
export interface AddressSetPlan {
  readonly family: Family;
  /** NFT_DATATYPE.ipv4_addr or ipv6_addr */
  readonly keyType: number;
  readonly keyLen: 4 | 16;
  /** false: a hash set (every entry is one address); true: NFT_SET_INTERVAL */
  readonly interval: boolean;
  /** the keys the set holds, merged and ascending */
  readonly ranges: readonly KeyRange[];
  readonly elements: readonly NftSetElem[];
}

/**
 * Turn an address list into one set plan per family present (IPv4 first): a hash set when every
 * entry is a single address (duplicates dropped, input order kept), otherwise an interval set of
 * the merged ranges (see mergeRanges). `intoEmptySet` as for intervalElements.
 */
export function planAddressSet(entries: readonly string[], opts: IntervalOptions, field = 'address'): AddressSetPlan[] {
  const byFamily = new Map<Family, AddressEntry[]>();
  entries.forEach((text, i) => {
    const e = parseAddressEntry(text, `${field}[${i}]`);
    let list = byFamily.get(e.family);
    if (!list) { list = []; byFamily.set(e.family, list); }
    list.push(e);
  });
  const plans: AddressSetPlan[] = [];
  for (const family of ['ip', 'ip6'] as const) {
    const list = byFamily.get(family);
    if (!list) continue;
    const keyLen = family === 'ip' ? 4 : 16;
    const keyType = family === 'ip' ? NFT_DATATYPE.ipv4_addr : NFT_DATATYPE.ipv6_addr;
    const interval = list.some((e) => !e.single);
    const ranges = mergeRanges(list.map((e) => e.range));
    const elements = interval
      ? intervalElements(ranges, keyLen, opts)
      : hashElements(list.map((e) => e.range.first), keyLen);
    plans.push({ family, keyType, keyLen, interval, ranges, elements });
  }
  return plans;
}

/** A range as text: an address, a prefix when it is one, else `first-last`. */
export function formatRange(r: KeyRange, family: Family): string {
  const len = family === 'ip' ? 4 : 16;
  const bits = BigInt(len * 8);
  const a = formatAddress(keyBytes(r.first, len));
  if (r.first === r.last) return a;
  const size = r.last - r.first + 1n;
  if ((size & (size - 1n)) === 0n && (r.first & (size - 1n)) === 0n) {
    let host = 0n;
    while ((1n << host) < size) host++;
    return `${a}/${bits - host}`;
  }
  return `${a}-${formatAddress(keyBytes(r.last, len))}`;
}
