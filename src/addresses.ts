/**
 * Address matches as iptables takes them: `ADDR`, `ADDR/LEN`, `ADDR/DOTTED-MASK` and `!` in
 * front. A contiguous dotted mask is a prefix (`/255.0.0.0` → `/8`); a non-contiguous one
 * (`/255.0.255.0`) stays a mask, which nft says as `ip saddr & 255.0.255.0 == 10.0.12.0`. As in
 * iptables (xtables_ipparse_multiple), the address is stored with its host bits cleared.
 */
import { canonicalIPv4, canonicalIPv4Prefix, formatAddress, parseCidr, parseIPv4, parseIPv6, type Cidr, type Family } from '../codecs/address.js';
import { fail } from './rule.js';
import { formatRange, mergeRanges, type KeyRange } from '../codecs/nftables/set-intervals.js';
import { formatV4Range, isV4Ranges, parseEntries, planV4, type V4Ranges } from '../codecs/nftables/v4-ranges.js';
import { keepV4Keys } from './address-list-keys.js';

export interface AddressMatch extends Cidr {
  /** `! -s ADDR` in iptables, `ip saddr != ADDR` in nft */
  readonly negate: boolean;
  /**
   * A non-contiguous netmask, in address form (`255.0.255.0`); present only then. `prefix` is
   * then the family's full length and must not be read as the match's width.
   */
  readonly netmask?: string;
}

function prefixOf(mask: Uint8Array): number | undefined {
  let bits = 0;
  let ended = false;
  for (const b of mask) {
    for (let k = 7; k >= 0; k--) {
      const on = (b >> k) & 1;
      if (on && ended) return undefined;
      if (on) bits++; else ended = true;
    }
  }
  return bits;
}

export function parseAddressMatch(v: unknown, field: string): AddressMatch {
  if (typeof v !== 'string') return fail('INVALID_CIDR', field, `${field} must be an address string`);
  // bulk input is mostly plain dotted quads: parseCidr would return exactly this for them
  if (canonicalIPv4(v) >= 0) return { family: 'ip', address: v, prefix: 32, negate: false };
  const quick = canonicalIPv4Prefix(v);
  if (quick !== undefined) return { family: 'ip', address: quick.address, prefix: quick.prefix, negate: false };
  const t = v.trim();
  const negate = t.charCodeAt(0) === 33; // '!'
  const text = (negate ? t.slice(1) : t).trim();
  const slash = text.indexOf('/');
  const maskText = slash < 0 ? '' : text.slice(slash + 1);
  if (!/[.:]/.test(maskText)) {
    const c = parseCidr(text, field);
    return { family: c.family, address: c.address, prefix: c.prefix, negate };
  }
  const addrText = text.slice(0, slash);
  const family: Family = addrText.includes(':') ? 'ip6' : 'ip';
  const parse = family === 'ip' ? parseIPv4 : parseIPv6;
  const bytes = parse(addrText, field);
  if (maskText.includes(':') !== (family === 'ip6')) fail('INVALID_CIDR', field, `${field} ${JSON.stringify(v)}: the mask is not of the address's family`);
  const mask = parse(maskText, field);
  for (let i = 0; i < bytes.length; i++) bytes[i] &= mask[i];
  const prefix = prefixOf(mask);
  if (prefix !== undefined) {
    const c = parseCidr(`${formatAddress(bytes)}/${prefix}`, field);
    return { family: c.family, address: c.address, prefix: c.prefix, negate };
  }
  return { family, address: formatAddress(bytes), prefix: bytes.length * 8, negate, netmask: formatAddress(mask) };
}

/** The mask bytes of a match (from its netmask or its prefix). */
export function maskBytes(a: AddressMatch, prefixMask: (p: number, len: number) => Uint8Array): Uint8Array {
  const len = a.family === 'ip' ? 4 : 16;
  return a.netmask !== undefined ? (a.family === 'ip' ? parseIPv4(a.netmask) : parseIPv6(a.netmask)) : prefixMask(a.prefix, len);
}

/** `10.0.0.0/8`, `10.0.12.0/255.0.255.0`, `!1.2.3.4`. */
export function formatAddressMatch(a: AddressMatch): string {
  const full = a.family === 'ip' ? 32 : 128;
  const tail = a.netmask !== undefined ? `/${a.netmask}` : a.prefix === full ? '' : `/${a.prefix}`;
  return `${a.negate ? '!' : ''}${a.address}${tail}`;
}

// ---------------------------------------------------------------------------------------------
// Address lists: `src: ['10.0.0.1', '10.1.0.0/16', …]`, one rule with an nft set lookup.

/**
 * A normalized address list. `entries` is canonical (IPv4 first, then IPv6, each ascending), so
 * a list read back from the kernel equals the list that was added: a hash list holds its
 * distinct addresses; an interval list holds the merged ranges (overlapping, duplicate and
 * adjacent entries joined), each written as an address, a prefix, or `first-last`.
 */
export interface AddressList {
  readonly entries: readonly string[];
  /**
   * The families whose set is an interval set (`flags interval`, the kernel's rbtree): those
   * with a prefix or range among their entries. The others are hash sets (one address each).
   */
  readonly interval: readonly Family[];
  /** the families present, in the order ip, ip6 (one nft rule and set each) */
  readonly families: readonly Family[];
}

/** The most entries one list takes (a set of a million elements is a config error, not a use). */
export const MAX_LIST_ENTRIES = 1_000_000;

/**
 * Parse and merge an address list. Errors name the entry (`src[3]`); an empty list is an
 * error (it would match nothing, which is never what a mark rule means).
 */
export function parseAddressList(v: readonly unknown[], field: string): AddressList {
  if (v.length === 0) fail('INVALID_CIDR', field, `${field} is an empty list`, 'give at least one address or prefix');
  if (v.length > MAX_LIST_ENTRIES) fail('INVALID_CIDR', field, `${field} has ${v.length} entries; at most ${MAX_LIST_ENTRIES}`);
  // every entry's type and negation, before any entry's syntax; parseEntries runs this only when
  // an entry is not a plain address or prefix (which can be neither of those errors)
  const check = (): void => v.forEach((x, i) => {
    if (typeof x !== 'string') fail('INVALID_CIDR', `${field}[${i}]`, `${field}[${i}] must be an address string`);
    if (x.includes('!') && x.trim().startsWith('!')) fail('INVALID_CIDR', `${field}[${i}]`, `${field}[${i}] ${JSON.stringify(x)}: a list entry cannot be negated`);
  });
  const parsed = parseEntries(v, field, check);
  const parts: ListPart[] = [];
  let v4: V4Ranges | undefined;
  if (parsed.v4Count > 0) {
    const p = planV4(parsed);
    v4 = p.ranges;
    parts.push({ family: 'ip', interval: p.interval, ranges: v4, text: p.text });
  }
  if (parsed.v6.length > 0) {
    const interval = parsed.v6.some((e) => !e.single);
    // a hash list holds its distinct addresses (10.0.0.1 and 10.0.0.2 stay two), an interval list its merged ranges
    const ranges = interval ? mergeRanges(parsed.v6.map((e) => e.range)) : [...new Set(parsed.v6.map((e) => e.range.first))].map((k) => ({ first: k, last: k }));
    parts.push({ family: 'ip6', interval, ranges });
  }
  const list = listOfPlans(parts);
  if (v4) keepV4Keys(list, v4);
  return list;
}

/** One family's part of a list, as a set holds it (IPv4 ranges may come packed: v4-ranges.ts). */
export interface ListPart {
  readonly family: Family;
  readonly interval: boolean;
  readonly ranges: readonly KeyRange[] | V4Ranges;
  /** the ranges as text when the parser has it (an input's own string for a canonical address) */
  readonly text?: readonly string[];
}

/** A list from its per-family parts (the kernel's sets on decode, the planner on input). */
export function listOfPlans(parts: readonly ListPart[]): AddressList {
  // one family with its text ready (a parsed IPv4 list): that array is the entries
  const only = parts.length === 1 ? parts[0].text : undefined;
  const entries: string[] = only ? only.slice() : [];
  const families: Family[] = [];
  const interval: Family[] = [];
  for (const family of ['ip', 'ip6'] as const) {
    const p = parts.find((x) => x.family === family);
    if (!p) continue;
    families.push(family);
    if (p.interval) interval.push(family);
    if (only) continue;
    if (p.text) { for (const x of p.text) entries.push(x); continue; }
    if (isV4Ranges(p.ranges)) {
      // packed ranges are ascending already (distinct addresses, or merged)
      for (let i = 0; i < p.ranges.first.length; i++) entries.push(formatV4Range(p.ranges.first[i], p.ranges.last[i]));
      continue;
    }
    const sorted = p.interval ? p.ranges : [...p.ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    for (const r of sorted) entries.push(formatRange(r, family));
  }
  return { interval, entries, families };
}

/** The entries of one family (an entry's family is told by its ':'). */
export function listEntriesOf(l: AddressList, family: Family): string[] {
  return l.entries.filter((e) => e.includes(':') === (family === 'ip6'));
}
