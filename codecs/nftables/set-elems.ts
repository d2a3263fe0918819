/**
 * nf_tables set elements on the wire (linux/netfilter/nf_tables.h): NEWSETELEM / GETSETELEM /
 * DELSETELEM, written in the order nft 1.0.6 / libnftnl use (fixtures/nft/set-*.json), split
 * where nla_len requires, and read back in any order (kernel dumps leave NLA_F_NESTED off their
 * nests and number every element NFTA_LIST_ELEM). Split from set.ts, which re-exports all of it;
 * IPv4 list sets' elements may be packed (set-elems-packed.ts).
 */
import { decodeError, PktmarkError } from '../errors.js';
import { rawOf, writeRaw, type RawAttr } from '../netlink/raw.js';
import { attr, nestedReader, NLA_HDRLEN, align4, type Attribute, type AttributeWriter } from '../netlink/attributes.js';
import { writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { body, header, nftType } from './messages.js';
import { NFTA_DATA_VALUE } from './expr/types.js';
import { splitRuns } from './set-elem-runs.js';
import { collectPackedElems, isPacked, packedBytes, splitPacked, writePackedElems, type PackedCollector, type PackedPart, type PackedSetElems } from './set-elems-packed.js';

/** enum nf_tables_msg_types: the element messages */
export const NFT_MSG_NEWSETELEM = 12;
export const NFT_MSG_GETSETELEM = 13;
export const NFT_MSG_DELSETELEM = 14;

/** enum nft_set_elem_flags (NFTA_SET_ELEM_FLAGS, be32) */
export const NFT_SET_ELEM_INTERVAL_END = 0x1;
export const NFT_SET_ELEM_CATCHALL = 0x2;

const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_SET_ELEM_LIST_SET_ID = 4;

const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_FLAGS = 3;
const NFTA_SET_ELEM_TIMEOUT = 4;
const NFTA_SET_ELEM_EXPIRATION = 5;
const NFTA_SET_ELEM_USERDATA = 6;
const NFTA_SET_ELEM_KEY_END = 10;

export interface NftSetElem {
  /** the key bytes as the register holds them (addresses and ports big-endian) */
  readonly key: Uint8Array;
  /** NFTA_SET_ELEM_KEY_END: the last key of a range in a concatenated (pipapo) set */
  readonly keyEnd?: Uint8Array;
  /** NFT_SET_ELEM_* bits */
  readonly flags?: number;
  /** a map element's value (NFTA_SET_ELEM_DATA { NFTA_DATA_VALUE }) */
  readonly data?: Uint8Array;
  readonly timeout?: bigint;
  readonly expiration?: bigint;
  /** libnftnl element userdata TLVs; nft marks an interval open at the top of the key space here */
  readonly userdata?: Uint8Array;
  /** element attributes pktmark does not model (verdict data, expressions, objref), kept */
  readonly extra?: readonly RawAttr[];
}

/** One NEWSETELEM / DELSETELEM / GETSETELEM: the set (by name, and by id within a batch) and its elements. */
export interface NftSetElemList {
  readonly family: number;
  readonly table: string;
  readonly set: string;
  /** NFTA_SET_ELEM_LIST_SET_ID; nft sends it on NEWSETELEM (its set id), not on DELSETELEM */
  readonly setId?: number;
  readonly elements: readonly NftSetElem[];
}

/** What writeSetElems takes: an element list whose elements may be packed (an IPv4 list set's, set-elems-packed.ts). */
export interface NftSetElemWrite extends Omit<NftSetElemList, 'elements'> {
  readonly elements: readonly NftSetElem[] | PackedSetElems;
}

/** GETSETELEM dump of one set. nft writes SET before TABLE here (set-list-set.json), unlike NEWSETELEM. */
export function writeSetElemDump(w: AttributeWriter, flags: number, seq: number, family: number, table: string, set: string): void {
  writeMessage(w, nftType(NFT_MSG_GETSETELEM), flags, seq, (w) => {
    header(w, family);
    w.string(NFTA_SET_ELEM_LIST_SET, set);
    w.string(NFTA_SET_ELEM_LIST_TABLE, table);
  });
}

const attrLen = (payload: number): number => align4(NLA_HDRLEN + payload);
const dataValueLen = (n: number): number => attrLen(attrLen(n));

/** Bytes one element takes inside NFTA_SET_ELEM_LIST_ELEMENTS (its nest header included). */
export function setElemSize(e: NftSetElem): number {
  let n = NLA_HDRLEN;
  if (e.flags !== undefined) n += attrLen(4);
  if (e.timeout !== undefined) n += attrLen(8);
  if (e.expiration !== undefined) n += attrLen(8);
  if (!isCatchall(e)) n += dataValueLen(e.key.length);
  if (e.keyEnd !== undefined) n += dataValueLen(e.keyEnd.length);
  if (e.data !== undefined) n += dataValueLen(e.data.length);
  if (e.userdata !== undefined) n += attrLen(e.userdata.length);
  for (const x of e.extra ?? []) n += attrLen(x.data.length);
  return n;
}

/** A catch-all element (`*`) has no NFTA_SET_ELEM_KEY; pktmark holds it as an empty key. */
const isCatchall = (e: NftSetElem): boolean => e.key.length === 0 && ((e.flags ?? 0) & NFT_SET_ELEM_CATCHALL) !== 0;

/** The largest NFTA_SET_ELEM_LIST_ELEMENTS nest: nla_len is 16 bits. */
export const MAX_ELEMENTS_NEST = 0xffff;

/** One message's share of an element list, and the nest number of its first element. */
export interface SetElemPart {
  readonly elements: readonly NftSetElem[];
  /** libnftnl numbers element nests 1, 2, … across all parts of one command (see splitSetElems) */
  readonly firstIndex: number;
}

/**
 * Split an element list into as many messages as nla_len requires, as libnftnl does
 * (set-split-hash-v4.json): each part's NFTA_SET_ELEM_LIST_ELEMENTS stays ≤ 65,535 bytes; the
 * element nests are numbered 1, 2, … across the parts (the type is only a counter — the kernel
 * iterates the nest and ignores it), and at each split one number is skipped, because libnftnl
 * numbered the element that did not fit before moving it to the next message. An empty list is
 * one empty part. An element larger than a whole nest is an ENCODE error.
 */
export function splitSetElems(elements: readonly NftSetElem[], maxNest = MAX_ELEMENTS_NEST): SetElemPart[] {
  return splitRuns(elements.length, (i) => {
    const n = setElemSize(elements[i]);
    if (NLA_HDRLEN + n > maxNest) throw new PktmarkError('ENCODE', `set element ${i} (${n} bytes) does not fit one element list`, { field: 'elements' });
    return n;
  }, maxNest).map((r) => ({ elements: elements.slice(r.from, r.to), firstIndex: r.firstIndex }));
}


function writeElem(w: AttributeWriter, index: number, e: NftSetElem): void {
  // index is a u16 counter in libnftnl; past 0x3fff it runs into the flag bits, as nft's does
  w.nested(index & 0xffff, (w) => {
    if (e.flags !== undefined) w.u32(NFTA_SET_ELEM_FLAGS, e.flags, 'be');
    if (e.timeout !== undefined) w.u64(NFTA_SET_ELEM_TIMEOUT, e.timeout, 'be');
    if (e.expiration !== undefined) w.u64(NFTA_SET_ELEM_EXPIRATION, e.expiration, 'be');
    if (!isCatchall(e)) w.nested(NFTA_SET_ELEM_KEY, (w) => w.bytes(NFTA_DATA_VALUE, e.key));
    if (e.keyEnd !== undefined) { const k = e.keyEnd; w.nested(NFTA_SET_ELEM_KEY_END, (w) => w.bytes(NFTA_DATA_VALUE, k)); }
    if (e.data !== undefined) { const d = e.data; w.nested(NFTA_SET_ELEM_DATA, (w) => w.bytes(NFTA_DATA_VALUE, d)); }
    if (e.userdata !== undefined) w.bytes(NFTA_SET_ELEM_USERDATA, e.userdata);
    for (const x of e.extra ?? []) writeRaw(w, x);
  });
}

/**
 * NEWSETELEM / DELSETELEM / GETSETELEM, split into as many messages as the element list needs
 * (splitSetElems). Order as nft sends it: TABLE, SET, SET_ID, ELEMENTS; in each element FLAGS,
 * TIMEOUT, EXPIRATION, KEY, KEY_END, DATA, USERDATA. `seq`: a number puts it on every part, as
 * nft does; a function is called once per part (distinct numbers let a caller tell which part
 * the kernel refused). `lastFlags` is ORed into the last part's flags only (e.g. NLM_F_ACK, so a
 * batch gets one ack after all its parts). Packed elements (an IPv4 list set's) give the same
 * bytes as their objects would. Returns the number of messages written.
 */
export function writeSetElems(
  w: AttributeWriter, msg: number, flags: number, seq: number | (() => number), l: NftSetElemWrite, lastFlags = 0,
): number {
  const els = l.elements;
  const packed = isPacked(els);
  const parts = packed ? splitPacked(els, MAX_ELEMENTS_NEST) : splitSetElems(els);
  if (packed) w.makeRoom(packedBytes(els) + parts.length * (128 + l.table.length + l.set.length));
  parts.forEach((part, i) => {
    const f = i === parts.length - 1 ? flags | lastFlags : flags;
    writeMessage(w, nftType(msg), f, typeof seq === 'number' ? seq : seq(), (w) => {
      header(w, l.family);
      w.string(NFTA_SET_ELEM_LIST_TABLE, l.table);
      w.string(NFTA_SET_ELEM_LIST_SET, l.set);
      if (l.setId !== undefined) w.u32(NFTA_SET_ELEM_LIST_SET_ID, l.setId, 'be');
      w.nested(NFTA_SET_ELEM_LIST_ELEMENTS, (w) => {
        if (packed) writePackedElems(w, els, part as PackedPart);
        else { const p = part as SetElemPart; p.elements.forEach((e, j) => writeElem(w, p.firstIndex + j, e)); }
      });
    });
  });
  return parts.length;
}

/** One attribute of each type: a second one is a DECODE error (set.ts's decoder uses it too). */
export function once<T>(seen: Set<number>, a: Attribute, what: string, v: () => T): T {
  if (seen.has(a.type)) throw decodeError(`${what}: attribute ${a.type} twice`, a.offset);
  seen.add(a.type);
  return v();
}

function dataValue(a: Attribute, what: string): Uint8Array {
  let value: Uint8Array | undefined;
  for (const d of nestedReader(a)) {
    if (d.type !== NFTA_DATA_VALUE || value) throw decodeError(`${what}: data attribute ${d.type}`, d.offset);
    value = d.data.slice();
  }
  if (!value) throw decodeError(`${what}: empty data`, a.offset);
  return value;
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

function decodeElem(a: Attribute): NftSetElem {
  let key: Uint8Array | undefined;
  const e: Mutable<NftSetElem> = {};
  const extra: RawAttr[] = [];
  const seen = new Set<number>();
  for (const x of nestedReader(a)) {
    const one = <T>(v: () => T): T => once(seen, x, 'set element', v);
    switch (x.type) {
      case NFTA_SET_ELEM_KEY: key = one(() => dataValue(x, 'set element key')); break;
      case NFTA_SET_ELEM_KEY_END: e.keyEnd = one(() => dataValue(x, 'set element key end')); break;
      case NFTA_SET_ELEM_FLAGS: e.flags = one(() => attr.u32(x, 'be')); break;
      case NFTA_SET_ELEM_TIMEOUT: e.timeout = one(() => attr.u64(x, 'be')); break;
      case NFTA_SET_ELEM_EXPIRATION: e.expiration = one(() => attr.u64(x, 'be')); break;
      case NFTA_SET_ELEM_USERDATA: e.userdata = one(() => attr.bytes(x)); break;
      case NFTA_SET_ELEM_DATA: {
        // a verdict map's data (NFTA_DATA_VERDICT) is kept raw; a value is modeled
        const inner = [...nestedReader(x)];
        if (inner.length === 1 && inner[0].type === NFTA_DATA_VALUE && !seen.has(x.type)) { seen.add(x.type); e.data = inner[0].data.slice(); } else extra.push(rawOf(x));
        break;
      }
      default: extra.push(rawOf(x));
    }
  }
  // a catch-all element has no key; keep it as an empty key so nothing is dropped
  const out: NftSetElem = { key: key ?? new Uint8Array(0), ...e };
  return extra.length ? { ...out, extra } : out;
}

export function decodeSetElems(m: NetlinkMessage): NftSetElemList {
  const { family, attrs } = body(m, [NFT_MSG_NEWSETELEM, NFT_MSG_GETSETELEM, NFT_MSG_DELSETELEM], 'set element');
  let table: string | undefined;
  let set: string | undefined;
  let setId: number | undefined;
  let elements: NftSetElem[] = [];
  const seen = new Set<number>();
  for (const a of attrs) {
    const one = <T>(v: () => T): T => once(seen, a, 'set element list', v);
    switch (a.type) {
      case NFTA_SET_ELEM_LIST_TABLE: table = one(() => attr.string(a)); break;
      case NFTA_SET_ELEM_LIST_SET: set = one(() => attr.string(a)); break;
      case NFTA_SET_ELEM_LIST_SET_ID: setId = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_ELEM_LIST_ELEMENTS: elements = one(() => [...nestedReader(a)].map(decodeElem)); break;
      default: break; // nothing else is defined for element lists
    }
  }
  if (table === undefined || set === undefined) throw decodeError('set element list without table or set', m.offset);
  return setId === undefined ? { family, table, set, elements } : { family, table, set, setId, elements };
}

/**
 * decodeSetElems for a dump of an IPv4 list set, without an object per element: the elements
 * are appended to `into` (set-elems-packed.ts). false, with nothing appended, when the message
 * holds anything the packed form does not (then decode it with decodeSetElems).
 */
export function decodeSetElemsPacked(m: NetlinkMessage, into: PackedCollector): boolean {
  const { attrs } = body(m, [NFT_MSG_NEWSETELEM, NFT_MSG_GETSETELEM, NFT_MSG_DELSETELEM], 'set element');
  let table = false, set = false;
  let elements: Attribute | undefined;
  for (const a of attrs) {
    if (a.type === NFTA_SET_ELEM_LIST_TABLE && !table) table = true;
    else if (a.type === NFTA_SET_ELEM_LIST_SET && !set) set = true;
    else if (a.type === NFTA_SET_ELEM_LIST_ELEMENTS && !elements) elements = a;
    else if (a.type !== NFTA_SET_ELEM_LIST_SET_ID) return false;
  }
  return table && set && (!elements || collectPackedElems(elements.data, into));
}
