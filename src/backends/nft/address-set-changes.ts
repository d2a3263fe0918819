/**
 * What `Marker.update` sends to a list set (address-set-update.ts drives it): the elements to
 * delete and to add, computed from the stored ranges and the change, and the one batch that
 * carries them (DELSETELEMs, then NEWSETELEMs). IPv4 interval sets go through typed arrays and
 * packed elements (v4-interval-change.ts); hash sets and IPv6 ones through element objects.
 */
import { BatchWriter, type Batch, type SentKind } from '../../../codecs/nftables/batch.js';
import type { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST } from '../../../codecs/netlink/message.js';
import { NFPROTO_INET, NFT_MSG_NEWRULE, writeRule } from '../../../codecs/nftables/messages.js';
import { NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, writeSet, writeSetElems, type NftSetElem } from '../../../codecs/nftables/set.js';
import { hashElements, intervalDeleteElements, intervalElements, intervalRanges, mergeRanges, parseAddressEntry, subtractRanges, type KeyRange } from '../../../codecs/nftables/set-intervals.js';
import { isPacked, type PackedSetElems } from '../../../codecs/nftables/set-elems-packed.js';
import { v4IntervalChange } from '../../../codecs/nftables/v4-interval-change.js';
import type { V4Ranges } from '../../../codecs/nftables/v4-ranges.js';
import type { Family } from '../../../codecs/address.js';
import { PktmarkError } from '../../errors.js';
import type { WrittenRule } from './template.js';
import type { SetGrowth } from './address-set-grow.js';

/** One set's change: elements to delete and to add, in that order, in one batch. */
export interface SetChange {
  readonly set: string;
  /** packed for an IPv4 interval set (intervalChangeV4) */
  readonly del: readonly NftSetElem[] | PackedSetElems;
  readonly add: readonly NftSetElem[] | PackedSetElems;
  /** an interval set's ranges after the change (IPv4 ones as typed arrays) */
  readonly want?: readonly KeyRange[] | V4Ranges;
}

/** A change as element objects (hash sets, IPv6 interval sets). */
export interface ElemSetChange extends SetChange {
  readonly del: readonly NftSetElem[];
  readonly add: readonly NftSetElem[];
  readonly want?: readonly KeyRange[];
}

/** How many elements a change sends. */
export const elemCount = (e: readonly NftSetElem[] | PackedSetElems): number => (isPacked(e) ? e.keys.length : e.length);

/** KeyRanges of IPv4 keys as typed arrays. */
export function v4RangesOf(rs: readonly KeyRange[]): V4Ranges {
  return { first: Uint32Array.from(rs, (r) => Number(r.first)), last: Uint32Array.from(rs, (r) => Number(r.last)) };
}

/** intervalChange for an IPv4 set held as typed arrays: the same elements, packed (v4-interval-change.ts); `into` as there. */
export function intervalChangeV4(set: string, stored: V4Ranges, add: readonly KeyRange[], remove: readonly KeyRange[], into?: V4Ranges): SetChange & { readonly buffers: V4Ranges } {
  const c = v4IntervalChange(stored, v4RangesOf(add), v4RangesOf(remove), into);
  return { set, del: c.del, add: c.add, want: c.want, buffers: c.buffers };
}

const KEYLEN = { ip: 4, ip6: 16 } as const;
const sameRange = (a: KeyRange, b: KeyRange): boolean => a.first === b.first && a.last === b.last;

/**
 * The elements an update sends to one interval set: the ranges stored now, minus the ones that
 * stay exactly as they are, are deleted by their stored pairs; the new merged ranges not stored
 * yet are added. Taking 10.0.1.0/24 out of a stored 10.0.0.0/16 deletes the /16's pair and adds
 * 10.0.0.0/24 and 10.0.2.0–10.0.255.255, in one batch: addresses that stay never leave the set.
 * Removing what the set does not hold changes nothing.
 */
export function intervalChange(set: string, family: Family, stored: readonly KeyRange[], add: readonly KeyRange[], remove: readonly KeyRange[]): ElemSetChange {
  const len = KEYLEN[family];
  const sorted = isSorted(stored) ? stored : [...stored].sort(byFirst);
  const adds = mergeRanges(add);
  const cuts = mergeRanges(remove);
  // Only the stored ranges an add overlaps or touches, or a remove overlaps, can change: found by
  // binary search, so a 1% change of a 100,000-range set costs the change, not the set.
  const touched = new Set<number>();
  const mark = (lo: bigint, hi: bigint): void => {
    for (let i = firstEndingAtOrAfter(sorted, lo); i < sorted.length && sorted[i].first <= hi; i++) touched.add(i);
  };
  for (const a of adds) mark(a.first - 1n, a.last + 1n);
  for (const c of cuts) mark(c.first, c.last);
  const idx = [...touched].sort((x, y) => x - y);
  const old = idx.map((i) => sorted[i]);
  const local = subtractRanges(mergeRanges([...old, ...adds]), cuts);
  const del: KeyRange[] = [];
  const put: KeyRange[] = [];
  let i = 0;
  let j = 0;
  while (i < old.length || j < local.length) {
    const a = old[i];
    const b = local[j];
    if (a && b && sameRange(a, b)) { i++; j++; } else if (b === undefined || (a !== undefined && (a.first < b.first || (a.first === b.first && a.last < b.last)))) { del.push(a!); i++; } else { put.push(b); j++; }
  }
  // what the set holds afterwards: the untouched ranges with the new local ones in their places
  const want: KeyRange[] = [];
  let at = 0;
  for (const r of local) {
    const to = firstEndingAtOrAfter(sorted, r.first);
    for (; at < to; at++) if (!touched.has(at)) want.push(sorted[at]);
    want.push(r);
  }
  for (; at < sorted.length; at++) if (!touched.has(at)) want.push(sorted[at]);
  return { set, del: intervalDeleteElements(del, len), add: intervalElements(put, len, { intoEmptySet: false }), want };
}

const byFirst = (a: KeyRange, b: KeyRange): number => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0);
function isSorted(rs: readonly KeyRange[]): boolean {
  for (let i = 1; i < rs.length; i++) if (rs[i - 1].last >= rs[i].first) return false;
  return true;
}
/** The index of the first range whose last key is ≥ `key` (ranges sorted and disjoint, so `last` ascends too). */
function firstEndingAtOrAfter(rs: readonly KeyRange[], key: bigint): number {
  let lo = 0;
  let hi = rs.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (rs[mid].last < key) lo = mid + 1; else hi = mid; }
  return lo;
}

/** A hash set's change: every address given (the kernel keeps one copy; a removed address not there is NOT_FOUND). */
export function hashChange(set: string, family: Family, add: readonly KeyRange[], remove: readonly KeyRange[]): ElemSetChange {
  const len = KEYLEN[family];
  return { set, del: hashElements(remove.map((r) => r.first), len), add: hashElements(add.map((r) => r.first), len) };
}

/** Parse update entries (field `add[3]`), by family; a prefix into a hash set is refused. */
export function parseUpdateEntries(v: unknown, field: 'add' | 'remove'): { family: Family; range: KeyRange; single: boolean; i: number }[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new PktmarkError('INVALID_ARGUMENT', `${field} must be a list of addresses`, { field });
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new PktmarkError('INVALID_CIDR', `${field}[${i}] must be an address string`, { field: `${field}[${i}]` });
    const e = parseAddressEntry(x, `${field}[${i}]`);
    return { family: e.family, range: e.range, single: e.single, i };
  });
}

/**
 * One batch: DELSETELEMs then NEWSETELEMs of every change, then each growth (address-set-grow.ts:
 * NEWSET, its NEWSETELEMs, the NEWRULE replace, DELSET); NLM_F_ACK on the last message. Each
 * message's item is its change's index, a growth's is changes.length + its index, so a kernel
 * error (ENFILE: a set is full) names the set it hit.
 */
export function encodeSetChanges(table: string, changes: readonly SetChange[], nextSeq: () => number, growths: readonly SetGrowth[] = []): Batch<WrittenRule> | undefined {
  type Step = { what: SentKind; item: number; elements?: readonly NftSetElem[] | PackedSetElems; write: (w: AttributeWriter, seq: number, ack: number) => void };
  const steps: Step[] = [];
  const elems = (msg: number, flags: number, set: string, elements: readonly NftSetElem[] | PackedSetElems, setId?: number) => (w: AttributeWriter, seq: number, ack: number): void => {
    writeSetElems(w, msg, flags, seq, { family: NFPROTO_INET, table, set, ...(setId !== undefined ? { setId } : {}), elements }, ack);
  };
  changes.forEach((c, i) => { if (elemCount(c.del)) steps.push({ what: 'delete', item: i, elements: c.del, write: elems(NFT_MSG_DELSETELEM, NLM_F_REQUEST, c.set, c.del) }); });
  changes.forEach((c, i) => { if (elemCount(c.add)) steps.push({ what: 'element', item: i, elements: c.add, write: elems(NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, c.set, c.add) }); });
  growths.forEach((g, k) => {
    const item = changes.length + k;
    steps.push({ what: 'set', item, write: (w, seq, ack) => writeSet(w, NFT_MSG_NEWSET, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | ack, seq, g.set) });
    if (elemCount(g.elements)) steps.push({ what: 'element', item, elements: g.elements, write: elems(NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, g.set.name, g.elements, g.set.id) });
    steps.push({ what: 'rule', item, write: (w, seq, ack) => writeRule(w, NFT_MSG_NEWRULE, NLM_F_REQUEST | NLM_F_REPLACE | ack, seq, g.rule) });
    steps.push({ what: 'set', item, write: (w, seq, ack) => writeSet(w, NFT_MSG_DELSET, NLM_F_REQUEST | ack, seq, { family: NFPROTO_INET, table, name: g.old }) });
  });
  if (steps.length === 0) return undefined;
  const size = steps.reduce((n, s) => n + 512 + (s.elements ? elemCount(s.elements) * 48 : 0), 64);
  const b = new BatchWriter<WrittenRule>(size, nextSeq);
  let ackSeq = 0;
  steps.forEach((s, k) => {
    const last = k === steps.length - 1;
    // the parts of a split element list share the step's sequence number, as nft's do
    const seq = b.add(s.what, s.item, (w, seq) => s.write(w, seq, last ? NLM_F_ACK : 0));
    if (last) ackSeq = seq;
  });
  return b.finish(ackSeq);
}

/** The ranges a dumped interval set holds, as stored. */
export const storedRanges = (elements: readonly NftSetElem[], family: Family): KeyRange[] => intervalRanges(elements, KEYLEN[family]);

