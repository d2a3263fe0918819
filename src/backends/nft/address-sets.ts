/**
 * Address lists as nft named sets. `src: ['10.0.0.1', '10.1.0.0/16']` becomes, per family
 * present, one named set in pktmark's table and one rule that looks the address up in it
 * (`ip saddr @pm_<tag>_src4`), all in the add's one batch — so a failed add leaves no set.
 *
 * Naming: `pm_<tag>_<src|dst><4|6>`, `tag` 16 random hex digits drawn per rule at add time;
 * a set that replaced a full one (set-size.ts, address-set-grow.ts) adds its generation,
 * `pm_<tag>_src4_g1`, `_g2`, …. Everything list/delete/update need is in the names: the lookup in a rule names its set, the
 * set's name says which field and family it serves, and the sets of one rule share the tag
 * (a mixed v4/v6 list is two kernel rules, listed and deleted as one id). The two rules of a
 * mixed list are sent back to back after all the batch's sets, so their handles are H and
 * H + 1 (the table's handle counter, nf_tables_alloc_handle); the id is `nft:CHAIN:H`.
 *
 * Set type: a hash set when every entry of the family is one address (O(1) per packet), declared
 * with a size (set-size.ts: the kernel's fixed-size hash, 2–3× faster to fill), an interval set (NFT_SET_INTERVAL, the rbtree) when a prefix or range is present; entries are
 * merged before sending (set-intervals.ts) and the set is made with NLM_F_EXCL, so it never
 * joins a set of the same name that someone else made.
 */
import type { Family } from '../../../codecs/address.js';
import { NFT_REG_1 } from '../../../codecs/nftables/expr/types.js';
import type { Expr } from '../../../codecs/nftables/expr/index.js';
import { NFT_PAYLOAD_NETWORK_HEADER } from '../../../codecs/nftables/expr/payload.js';
import { NFPROTO_INET } from '../../../codecs/nftables/messages.js';
import {
  encodeSetUserdata, NFT_BYTEORDER_BIG_ENDIAN, NFT_DATATYPE, NFT_SET_ELEM_INTERVAL_END, NFT_SET_INTERVAL,
  type NftSet, type NftSetElem,
} from '../../../codecs/nftables/set.js';
import { hashElements, intervalElements, intervalRanges, keyValue, mergeRanges, parseAddressEntry, type KeyRange } from '../../../codecs/nftables/set-intervals.js';
import { listEntriesOf, listOfPlans, type AddressList, type ListPart } from '../../addresses.js';
import { PktmarkError } from '../../errors.js';
import { keptV4Keys } from '../../address-list-keys.js';
import { isPacked, packedHashElems, packedIntervalElems, type PackedSetElems } from '../../../codecs/nftables/set-elems-packed.js';
import { dumpedHashKeys, dumpedIntervalRanges, mergeV4, type V4Ranges } from '../../../codecs/nftables/v4-ranges.js';
import type { MarkRule } from '../../rule.js';
import type { PortSetIds } from './port-sets.js';
import { declaredSize } from './set-size.js';
import { elemCount } from './address-set-changes.js';

export type ListField = 'src' | 'dst';
/** A named set a rule's lookup refers to: its name and its batch-local NFTA_SET_ID. */
export interface SetRef { readonly name: string; readonly id: number }
/** The set ids and names one NEWRULE uses: anonymous port sets and named address sets. */
export type RuleSetIds = PortSetIds & Partial<Record<ListField, SetRef>>;

const NAME_RE = /^pm_([0-9a-f]{16})_(src|dst)(4|6)(?:_g([1-9][0-9]{0,8}))?$/;

/** A list set's name; `generation` 0 (the set add made) has no suffix, as before growth existed. */
export function setName(tag: string, field: ListField, family: Family, generation = 0): string {
  return `pm_${tag}_${field}${family === 'ip' ? 4 : 6}${generation > 0 ? `_g${generation}` : ''}`;
}

export interface SetNameParts { readonly tag: string; readonly field: ListField; readonly family: Family; readonly generation: number }
export function parseSetName(name: string): SetNameParts | undefined {
  const m = NAME_RE.exec(name);
  return m ? { tag: m[1], field: m[2] as ListField, family: m[3] === '4' ? 'ip' : 'ip6', generation: m[4] === undefined ? 0 : Number(m[4]) } : undefined;
}

/**
 * 16 random hex digits (64 bits: two adds never pick the same name; NLM_F_EXCL would refuse it
 * anyway), from node:crypto's own generator, loaded on first use: globalThis.crypto is Web Crypto,
 * whose first use loads its classes (1-9 ms of a fresh process's first add here), and a top-level
 * import of node:crypto put ~12 ms into every CLI command's start. process.getBuiltinModule is
 * Node >= 20.16; older releases take Web Crypto.
 */
let fill: ((b: Uint8Array) => void) | undefined;
export function randomTag(): string {
  if (fill === undefined) {
    const crypto = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:crypto') as { randomFillSync(b: Uint8Array): void } | undefined;
    fill = crypto ? (b) => crypto.randomFillSync(b) : (b) => { globalThis.crypto.getRandomValues(b); };
  }
  const b = new Uint8Array(8);
  fill(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Tags for encode-only paths (dry runs, golden tests): the same input gives the same bytes. */
export function sequentialTags(): () => string {
  let n = 0;
  return () => (++n).toString(16).padStart(16, '0');
}

export const hasList = (r: MarkRule): boolean => r.srcList !== undefined || r.dstList !== undefined;

const KEY = { ip: { len: 4, type: NFT_DATATYPE.ipv4_addr, src: 12, dst: 16 }, ip6: { len: 16, type: NFT_DATATYPE.ipv6_addr, src: 8, dst: 24 } } as const;

/** One family's set of a list: NEWSET and the elements that go into it (in the same batch). */
export interface PlannedSet { readonly field: ListField; readonly set: NftSet; readonly elements: readonly NftSetElem[] | PackedSetElems }

/**
 * The NEWSET of a list set: nft's attributes for `add set inet T N { type ipv4_addr; size S; }`
 * (a hash set of `count` elements, S from set-size.ts) or `{ type ipv4_addr; flags interval; }`.
 */
export function listSet(table: string, name: string, family: Family, interval: boolean, id: number, count: number): NftSet {
  const size = interval ? undefined : declaredSize(count);
  return {
    family: NFPROTO_INET, table, name, flags: interval ? NFT_SET_INTERVAL : 0,
    keyType: KEY[family].type, keyLen: KEY[family].len, id,
    ...(size !== undefined ? { desc: { size } } : {}),
    userdata: encodeSetUserdata({ keyByteorder: NFT_BYTEORDER_BIG_ENDIAN }),
  };
}

/** The ranges of one family's entries (already canonical: merged for interval lists). */
export function rangesOf(l: AddressList, family: Family): KeyRange[] {
  return listEntriesOf(l, family).map((e) => parseAddressEntry(e).range);
}

/** The elements that fill a new set with these ranges. */
export function fillElements(ranges: readonly KeyRange[], family: Family, interval: boolean): NftSetElem[] {
  const len = KEY[family].len;
  return interval ? intervalElements(ranges, len, { intoEmptySet: true }) : hashElements(ranges.map((r) => r.first), len);
}

/** The elements of one family's new set: packed from the keys parsing kept (IPv4), else from the entries. */
function newSetElements(l: AddressList, family: Family, interval: boolean): readonly NftSetElem[] | PackedSetElems {
  const kept = family === 'ip' ? keptV4Keys(l) : undefined;
  if (kept) return interval ? packedIntervalElems(kept, true) : packedHashElems(kept.first);
  return fillElements(rangesOf(l, family), family, interval);
}

/**
 * At most the bytes the list sets of these rules add to a batch, so the add sizes its buffer
 * once: sized for the rules alone, a 100,000-address set grew a heap buffer to 2.9 MB (a copy
 * per doubling, ~700 fresh pages) instead of taking one from the send pool. Per entry: an IPv4
 * key 16 bytes, an IPv4 range's pair 40, an IPv6 pair 80 (with room for the userdata).
 */
export function listBytes(rules: readonly MarkRule[]): number {
  let n = 0;
  const of = (l: AddressList): number => l.entries.length * (l.families.includes('ip6') ? 80 : l.interval.length > 0 ? 40 : 16) + 256;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r?.srcList) n += of(r.srcList);
    if (r?.dstList) n += of(r.dstList);
  }
  // each 64 KiB NEWSETELEM part repeats its message header, table and set name
  return n === 0 ? 0 : n + Math.ceil(n / 0xfe00) * 256;
}

/** One kernel rule of a list rule: the rule narrowed to one family, and the sets it looks up. */
export interface ListRulePart {
  /** `family` set, lists cut to that family */
  readonly rule: MarkRule;
  readonly sets: readonly PlannedSet[];
  readonly refs: Partial<Record<ListField, SetRef>>;
}

/** A list rule as its kernel rules, IPv4 first. `nextId` hands out batch-local set ids. */
export function planListRule(rule: MarkRule, table: string, tag: string, nextId: () => number): ListRulePart[] {
  const families = (rule.srcList ?? rule.dstList)!.families;
  return families.map((family) => {
    const sets: PlannedSet[] = [];
    const refs: { src?: SetRef; dst?: SetRef } = {};
    const narrowed: { -readonly [K in keyof MarkRule]: MarkRule[K] } = { ...rule, family };
    for (const field of ['src', 'dst'] as const) {
      const l = field === 'src' ? rule.srcList : rule.dstList;
      if (!l) continue;
      const interval = l.interval.includes(family);
      const name = setName(tag, field, family);
      const id = nextId();
      refs[field] = { name, id };
      const elements = newSetElements(l, family, interval);
      sets.push({ field, set: listSet(table, name, family, interval, id, elemCount(elements)), elements });
      narrowed[field === 'src' ? 'srcList' : 'dstList'] = narrowList(l, family);
    }
    return { rule: narrowed, sets, refs };
  });
}

/** The list cut to one family. */
export function narrowList(l: AddressList, family: Family): AddressList {
  // a list of one family is already narrow (and keeps its parsed keys: address-list-keys.ts)
  if (l.families.length === 1 && l.families[0] === family) return l;
  return { entries: listEntriesOf(l, family), families: [family], interval: l.interval.filter((f) => f === family) };
}

/** A rule narrowed to each family of its lists (explain's lines); a rule without lists is itself. */
export function familyParts(rule: MarkRule): MarkRule[] {
  const l = rule.srcList ?? rule.dstList;
  if (!l || l.families.length < 2) return [rule];
  return l.families.map((family) => ({
    ...rule, family,
    ...(rule.srcList ? { srcList: narrowList(rule.srcList, family) } : {}),
    ...(rule.dstList ? { dstList: narrowList(rule.dstList, family) } : {}),
  }));
}

/** `ip saddr @set`: the whole address loaded, looked up (set-lookup.json). */
export function lookupExprs(family: Family, field: ListField, ref: SetRef | undefined): Expr[] {
  if (!ref) throw new PktmarkError('ENCODE', `${field}: no set for the address list`, { field });
  return [
    { kind: 'payload', dreg: NFT_REG_1, base: NFT_PAYLOAD_NETWORK_HEADER, offset: KEY[family][field], len: KEY[family].len },
    { kind: 'lookup', sreg: NFT_REG_1, set: ref.name, setId: ref.id },
  ];
}

// ---------------------------------------------------------------------------------------------
// decoding

/** A pktmark list set as read back: which field and family, its type, what it holds. */
export interface ListSetInfo extends SetNameParts {
  readonly name: string;
  readonly interval: boolean;
  /** merged and ascending (interval), or one range per address (hash); IPv4 ones packed when the dump was */
  readonly ranges: readonly KeyRange[] | V4Ranges;
}

/** The list a dumped set holds, from its NEWSET flags and its GETSETELEM elements. */
export function listSetInfo(name: string, flags: number, elements: readonly NftSetElem[] | PackedSetElems): ListSetInfo | undefined {
  const p = parseSetName(name);
  if (!p) return undefined;
  const interval = (flags & NFT_SET_INTERVAL) !== 0;
  if (isPacked(elements)) {
    // 4-byte keys: only an IPv4 set holds them
    if (p.family !== 'ip') return undefined;
    const stored = interval ? dumpedIntervalRanges(elements) : dumpedHashKeys(elements);
    if (!stored) return undefined;
    return { ...p, name, interval, ranges: interval ? mergeV4(stored.first, stored.last, stored.first.length) : stored };
  }
  const len = KEY[p.family].len;
  if (elements.some((e) => e.key.length !== len)) return undefined;
  let ranges: KeyRange[];
  try {
    ranges = interval
      ? mergeRanges(intervalRanges(elements, len))
      : elements.filter((e) => ((e.flags ?? 0) & NFT_SET_ELEM_INTERVAL_END) === 0).map((e) => { const k = keyValue(e.key); return { first: k, last: k }; });
  } catch (e) {
    if (e instanceof PktmarkError) return undefined;
    throw e;
  }
  return { ...p, name, interval, ranges };
}

/** The AddressList of one family's set. */
export function listOfSet(info: ListSetInfo): AddressList {
  const part: ListPart = { family: info.family, interval: info.interval, ranges: info.ranges };
  return listOfPlans([part]);
}

/**
 * The two family rules of one mixed list as one rule: family dropped, each list's entries
 * joined (IPv4 first). undefined when they are not two halves of one rule.
 */
export function joinFamilyRules(a: MarkRule, b: MarkRule): MarkRule | undefined {
  const strip = (r: MarkRule): string => JSON.stringify({ ...r, family: undefined, srcList: undefined, dstList: undefined });
  if (a.family !== 'ip' || b.family !== 'ip6' || strip(a) !== strip(b)) return undefined;
  if ((a.srcList === undefined) !== (b.srcList === undefined) || (a.dstList === undefined) !== (b.dstList === undefined)) return undefined;
  const join = (x: AddressList | undefined, y: AddressList | undefined): AddressList | undefined =>
    (x && y ? { entries: [...x.entries, ...y.entries], families: ['ip', 'ip6'], interval: [...x.interval, ...y.interval] } : undefined);
  const { family: _f, srcList: _s, dstList: _d, ...rest } = a;
  const src = join(a.srcList, b.srcList);
  const dst = join(a.dstList, b.dstList);
  return { ...rest, ...(src ? { srcList: src } : {}), ...(dst ? { dstList: dst } : {}) } as MarkRule;
}

/** The list sets a rule's expressions look up (by name), in order. */
export function lookedUpSets(exprs: readonly Expr[]): SetNameParts[] {
  const out: SetNameParts[] = [];
  for (const e of exprs) {
    if (e.kind !== 'lookup') continue;
    const p = parseSetName(e.set);
    if (p) out.push(p);
  }
  return out;
}
