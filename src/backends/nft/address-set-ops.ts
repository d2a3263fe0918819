/**
 * What list, delete and update do with address-list sets (address-sets.ts) against the kernel:
 * read the table's sets, join the family rules of a mixed list into one record, delete rules
 * with their sets, and send only the changed elements of an update — each one batch.
 */
import { BatchWriter } from '../../../codecs/nftables/batch.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REQUEST, type NetlinkMessage } from '../../../codecs/netlink/message.js';
import { decodeRule, NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_GETRULE, NFT_MSG_NEWRULE, nftType, writeRule, type NftRule } from '../../../codecs/nftables/messages.js';
import {
  decodeSet, decodeSetElems, decodeSetElemsPacked, NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, NFT_SET_ANONYMOUS,
  writeSet, writeSetDump, writeSetElemDump, writeSetElems, type NftSetElem,
} from '../../../codecs/nftables/set.js';
import { hashElements, intervalDeleteElements, intervalElements, intervalRanges, mergeRanges, parseAddressEntry, subtractRanges, type KeyRange } from '../../../codecs/nftables/set-intervals.js';
import { ENOENT } from '../../../codecs/errno.js';
import { isPacked, PackedCollector, type PackedSetElems } from '../../../codecs/nftables/set-elems-packed.js';
import { v4IntervalChange } from '../../../codecs/nftables/v4-interval-change.js';
import type { V4Ranges } from '../../../codecs/nftables/v4-ranges.js';
import type { Family } from '../../../codecs/address.js';
import { PktmarkError } from '../../errors.js';
import { dump, execute } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';
import type { RuleRecord } from '../backend.js';
import type { WrittenRule } from './template.js';
import { explainNft } from './explain.js';
import { joinFamilyRules, listSetInfo, lookedUpSets, parseSetName, setName, type ListField, type ListSetInfo } from './address-sets.js';
import { portListText } from './port-sets.js';

/** The table's sets as list and update need them: anonymous port lists, and pktmark's list sets by name. */
export interface TableSets {
  readonly ports: Map<string, string>;
  readonly lists: Map<string, ListSetInfo>;
  /** every list set's name and flags (elements not read), by name */
  readonly names: Map<string, number>;
}

async function setNames(t: Transport, table: string): Promise<{ name: string; flags: number }[]> {
  let msgs: NetlinkMessage[];
  try {
    msgs = await dump(t, `list sets of inet ${table}`, (w, seq) => writeSetDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO_INET, table));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return [];
    throw e;
  }
  return msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWSET)).map(decodeSet).filter((s) => s.table === table).map((s) => ({ name: s.name, flags: s.flags ?? 0 }));
}

async function setElements(t: Transport, table: string, name: string): Promise<NftSetElem[] | undefined>;
async function setElements(t: Transport, table: string, name: string, packed: true): Promise<NftSetElem[] | PackedSetElems | undefined>;
/**
 * One GETSETELEM dump. `packed`: an IPv4 list set's elements come back as typed arrays (no
 * object per element: a 100,000-element list set took 0.7 s to decode as objects), unless a
 * message holds anything else — then all of them are decoded as objects.
 */
async function setElements(t: Transport, table: string, name: string, packed = false): Promise<NftSetElem[] | PackedSetElems | undefined> {
  let msgs: NetlinkMessage[];
  try {
    msgs = await dump(t, `list elements of set ${name}`, (w, seq) => writeSetElemDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO_INET, table, name));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return undefined;
    throw e;
  }
  const mine = msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWSETELEM));
  if (packed) {
    const c = new PackedCollector();
    if (mine.every((m) => decodeSetElemsPacked(m, c))) return c.result();
  }
  return mine.flatMap((m) => decodeSetElems(m).elements);
}

/**
 * A GETSET dump for the names, then one GETSETELEM dump per set, as `nft list ruleset` reads
 * them. `elements: false` reads only the names (delete needs no more). A set gone meanwhile,
 * or holding anything else, is left out; a rule looking it up then lists raw.
 */
export async function readTableSets(t: Transport, table: string, elements = true): Promise<TableSets> {
  const out: TableSets = { ports: new Map(), lists: new Map(), names: new Map() };
  for (const s of await setNames(t, table)) {
    const anon = (s.flags & NFT_SET_ANONYMOUS) !== 0;
    const list = !anon && parseSetName(s.name) !== undefined;
    if (list) out.names.set(s.name, s.flags);
    if (!elements || (!anon && !list)) continue;
    if (anon) {
      const els = await setElements(t, table, s.name);
      const text = els && portListText(els);
      if (text !== undefined) out.ports.set(s.name, text);
    } else {
      const els = await setElements(t, table, s.name, true);
      const info = els && listSetInfo(s.name, s.flags, els);
      if (info) out.lists.set(s.name, info);
    }
  }
  return out;
}

const tagOf = (r: NftRule): { tag: string; family: Family } | undefined => {
  const s = lookedUpSets(r.exprs);
  return s.length > 0 && s.every((x) => x.tag === s[0].tag && x.family === s[0].family) ? { tag: s[0].tag, family: s[0].family } : undefined;
};

/**
 * Records in dump order, the two family rules of one mixed list joined into one record (id:
 * the lower handle; counters summed). They are neighbours in the chain (one batch sent them
 * back to back); anything else is yielded as it is.
 */
export async function* joinFamilies(rules: AsyncIterable<NftRule>, record: (r: NftRule) => RuleRecord, sets: TableSets, table: string): AsyncGenerator<RuleRecord> {
  let held: { r: NftRule; rec: RuleRecord; tag: string; family: Family } | undefined;
  const mixed = (tag: string): boolean => {
    const fams = new Set([...sets.names.keys()].map(parseSetName).filter((p) => p?.tag === tag).map((p) => p!.family));
    return fams.size === 2;
  };
  for await (const r of rules) {
    const rec = record(r);
    const tg = rec.rule ? tagOf(r) : undefined;
    if (held) {
      const h = held;
      held = undefined;
      const near = r.handle !== undefined && h.r.handle !== undefined && (r.handle - h.r.handle === 1n || h.r.handle - r.handle === 1n);
      if (tg && tg.tag === h.tag && tg.family !== h.family && near && r.chain === h.r.chain) {
        const [a, b] = h.family === 'ip' ? [h.rec, rec] : [rec, h.rec];
        const joined = joinFamilyRules(a.rule!, b.rule!);
        if (joined) {
          const low = r.handle! < h.r.handle! ? rec : h.rec;
          yield { id: low.id, via: 'nft', rule: joined, packets: a.packets + b.packets, bytes: a.bytes + b.bytes, text: explainNft(joined, table) };
          continue;
        }
      }
      yield h.rec;
    }
    if (tg && mixed(tg.tag)) { held = { r, rec, tag: tg.tag, family: tg.family }; continue; }
    yield rec;
  }
  if (held) yield held.rec;
}

/** GETRULE of one rule by handle (not a dump): the rule, or undefined when it does not exist. */
export async function getRule(t: Transport, table: string, chain: string, handle: bigint): Promise<NftRule | undefined> {
  let replies: NetlinkMessage[];
  try {
    replies = await execute(t, `get rule ${chain} ${handle}`, (w, seq) => writeRule(w, NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_ACK, seq, { family: NFPROTO_INET, table, chain, handle, exprs: [] }));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return undefined;
    throw e;
  }
  const m = replies.find((x) => x.header.type === nftType(NFT_MSG_NEWRULE));
  return m ? decodeRule(m) : undefined;
}

/** A list rule's kernel parts: its family rules (handles) and the names of all its sets. */
export interface ListRuleParts { readonly tag: string; readonly handles: readonly bigint[]; readonly sets: readonly string[] }

/**
 * The kernel rules and sets behind the id `chain:handle`, when its rule looks up list sets:
 * the rule, its other-family neighbour (handle ± 1, checked to use the same tag), and every
 * set of the tag. undefined for a rule without list sets; NOT_FOUND when there is no rule.
 */
export async function listRuleParts(t: Transport, table: string, chain: string, handle: bigint, names: ReadonlyMap<string, number>, id: string): Promise<ListRuleParts | undefined> {
  const r = await getRule(t, table, chain, handle);
  if (!r) throw new PktmarkError('NOT_FOUND', `rule ${id} does not exist`, { field: 'id' });
  const tg = tagOf(r);
  if (!tg) return undefined;
  const sets = [...names.keys()].filter((n) => parseSetName(n)?.tag === tg.tag);
  const handles = [handle];
  if (sets.some((n) => parseSetName(n)!.family !== tg.family)) {
    for (const h of [handle + 1n, handle - 1n]) {
      const p = h > 0n ? await getRule(t, table, chain, h) : undefined;
      const pt = p && tagOf(p);
      if (pt && pt.tag === tg.tag && pt.family !== tg.family) { handles.push(h); break; }
    }
  }
  return { tag: tg.tag, handles, sets };
}

/** DELRULE for each rule, then DELSET for each list set (a set still bound to a rule cannot go first). */
export function encodeDeleteWithSets(table: string, rules: readonly { chain: string; handle: bigint; i: number }[], sets: readonly { name: string; i: number }[], nextSeq: () => number): import('../../../codecs/nftables/batch.js').Batch<WrittenRule> {
  const b = new BatchWriter<WrittenRule>(64 + (rules.length + sets.length) * 64, nextSeq);
  const n = rules.length + sets.length;
  let k = 0;
  let ackSeq = 0;
  const flags = (): number => NLM_F_REQUEST | (++k === n ? NLM_F_ACK : 0);
  for (const u of rules) {
    const f = flags();
    const seq = b.add('delete', u.i, (w, seq) => writeRule(w, NFT_MSG_DELRULE, f, seq, { family: NFPROTO_INET, table, chain: u.chain, handle: u.handle, exprs: [] }));
    if (k === n) ackSeq = seq;
  }
  for (const s of sets) {
    const f = flags();
    const seq = b.add('set', s.i, (w, seq) => writeSet(w, NFT_MSG_DELSET, f, seq, { family: NFPROTO_INET, table, name: s.name }));
    if (k === n) ackSeq = seq;
  }
  return b.finish(ackSeq);
}

// ---------------------------------------------------------------------------------------------
// updates

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

/** DELSETELEMs then NEWSETELEMs of every change, one batch; NLM_F_ACK on the last message. */
export function encodeSetChanges(table: string, changes: readonly SetChange[], nextSeq: () => number): import('../../../codecs/nftables/batch.js').Batch<WrittenRule> | undefined {
  const steps: { msg: number; flags: number; set: string; elements: readonly NftSetElem[] | PackedSetElems; what: 'delete' | 'element' }[] = [];
  for (const c of changes) if (elemCount(c.del)) steps.push({ msg: NFT_MSG_DELSETELEM, flags: NLM_F_REQUEST, set: c.set, elements: c.del, what: 'delete' });
  for (const c of changes) if (elemCount(c.add)) steps.push({ msg: NFT_MSG_NEWSETELEM, flags: NLM_F_REQUEST | NLM_F_CREATE, set: c.set, elements: c.add, what: 'element' });
  if (steps.length === 0) return undefined;
  const size = steps.reduce((n, s) => n + 64 + elemCount(s.elements) * 48, 64);
  const b = new BatchWriter<WrittenRule>(size, nextSeq);
  let ackSeq = 0;
  steps.forEach((s, k) => {
    const last = k === steps.length - 1;
    // the parts of a split element list share the step's sequence number, as nft's do
    const seq = b.add(s.what, undefined, (w, seq) => {
      writeSetElems(w, s.msg, s.flags, seq, { family: NFPROTO_INET, table, set: s.set, elements: s.elements }, last ? NLM_F_ACK : 0);
    });
    if (last) ackSeq = seq;
  });
  return b.finish(ackSeq);
}

/** The ranges a dumped interval set holds, as stored. */
export const storedRanges = (elements: readonly NftSetElem[], family: Family): KeyRange[] => intervalRanges(elements, KEYLEN[family]);

export { setName, setElements };
