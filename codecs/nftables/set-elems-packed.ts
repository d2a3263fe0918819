/**
 * The elements of an IPv4 list set packed into two typed arrays (key, shape) and written
 * straight into the batch buffer: a 100,000-address set was 100,000 element objects, each with
 * its own key Uint8Array and four writer closures. The bytes, the split into messages and the
 * element numbering are exactly writeSetElems' for the same elements as objects (unpackSetElems
 * gives them; the unit test compares the two encodings).
 */
import { NLA_F_NESTED, NLA_HDRLEN, type AttributeWriter } from '../netlink/attributes.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';
import { NFTA_DATA_VALUE } from './expr/types.js';
import { INTERVAL_OPEN_USERDATA } from './set-userdata.js';
import type { V4Ranges } from './v4-ranges.js';
import type { ElemRun } from './set-elem-runs.js';

/** An element as nft sends it for an address: the key alone (a hash entry or an interval's start). */
export const SHAPE_KEY = 0;
/** The END element of an interval: NFTA_SET_ELEM_FLAGS = NFT_SET_ELEM_INTERVAL_END, then the key. */
export const SHAPE_END = 1;
/** An interval start that runs to 255.255.255.255: the key, then the INTERVAL_OPEN userdata. */
export const SHAPE_OPEN = 2;

/** IPv4 set elements: `keys[i]` (a host-order u32, written big-endian) of shape `shapes[i]`. */
export interface PackedSetElems {
  readonly packed: 'v4';
  readonly keys: Uint32Array;
  readonly shapes: Uint8Array;
  /** set when every element has this shape (a hash set's SHAPE_KEY): its split and size are arithmetic */
  readonly uniform?: number;
}

export const isPacked = (e: unknown): e is PackedSetElems => (e as PackedSetElems | undefined)?.packed === 'v4';

const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_FLAGS = 3;
const NFTA_SET_ELEM_USERDATA = 6;
const NFT_SET_ELEM_INTERVAL_END = 0x1;
const TOP = 0xffffffff;
const OPEN_LEN = NLA_HDRLEN + INTERVAL_OPEN_USERDATA.length;

/** Bytes of one element nest by shape: header 4, KEY { DATA_VALUE { 4 } } 12, FLAGS 8, USERDATA 4 + 6 → 12. */
const SIZE = [16, 24, 16 + ((NLA_HDRLEN + INTERVAL_OPEN_USERDATA.length + 3) & ~3)] as const;

/** A hash set's elements: one per key, in the order given. */
export function packedHashElems(keys: Uint32Array): PackedSetElems {
  return { packed: 'v4', keys, shapes: new Uint8Array(keys.length), uniform: SHAPE_KEY };
}

/** As intervalElements for merged ranges: the zero-key END first into an empty set, then start/END pairs. */
export function packedIntervalElems(r: V4Ranges, intoEmptySet: boolean): PackedSetElems {
  const n = r.first.length;
  const lead = intoEmptySet && n > 0 && r.first[0] !== 0 ? 1 : 0;
  const keys = new Uint32Array(lead + 2 * n);
  const shapes = new Uint8Array(keys.length);
  let k = 0;
  if (lead) { keys[k] = 0; shapes[k++] = SHAPE_END; }
  for (let i = 0; i < n; i++) {
    const last = r.last[i];
    keys[k] = r.first[i];
    if (last === TOP) { shapes[k++] = SHAPE_OPEN; continue; }
    shapes[k++] = SHAPE_KEY;
    keys[k] = last + 1; shapes[k++] = SHAPE_END;
  }
  return { packed: 'v4', keys: keys.subarray(0, k), shapes: shapes.subarray(0, k) };
}

/** One message's share: elements [from, to), numbered from `firstIndex` (see splitSetElems). */
export type PackedPart = ElemRun;

/** splitSetElems for packed elements: the same cuts and the same skipped number at each (as splitRuns, without a call per element). */
export function splitPacked(p: PackedSetElems, maxNest: number): PackedPart[] {
  const shapes = p.shapes;
  const parts: PackedPart[] = [];
  if (p.uniform !== undefined && SIZE[p.uniform] + NLA_HDRLEN <= maxNest) {
    // `per` elements fill a part; the next one overflows and its number is skipped
    const per = Math.floor((maxNest - NLA_HDRLEN) / SIZE[p.uniform]);
    const n = shapes.length;
    for (let k = 0; k === 0 || k * per < n; k++) parts.push({ from: k * per, to: Math.min(n, (k + 1) * per), firstIndex: 1 + k * (per + 1) });
    return parts;
  }
  let start = 0, index = 1, firstIndex = 1, size = NLA_HDRLEN;
  for (let i = 0; i < shapes.length; i++) {
    const n = SIZE[shapes[i]];
    if (size + n > maxNest) {
      parts.push({ from: start, to: i, firstIndex });
      start = i;
      index++; // the number libnftnl spent on the element that overflowed (see splitRuns)
      firstIndex = index;
      size = NLA_HDRLEN;
    }
    size += n;
    index++;
  }
  parts.push({ from: start, to: shapes.length, firstIndex });
  return parts;
}

/** Bytes of all the elements' nests (the messages around them are extra). */
export function packedBytes(p: PackedSetElems): number {
  const shapes = p.shapes;
  if (p.uniform !== undefined) return shapes.length * SIZE[p.uniform];
  let bytes = 0;
  for (let i = 0; i < shapes.length; i++) bytes += SIZE[shapes[i]];
  return bytes;
}

/** One part's element bytes are assembled here, then copied into the batch (≤ one 65,535-byte nest). */
const scratch = new Uint8Array(0x10000);
const words = new Uint32Array(scratch.buffer);
const OPEN_UD = INTERVAL_OPEN_USERDATA;
const LO = HOST_LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;

// The constant words of an element on a little-endian host: an attribute header is its length
// (u16) then its type (u16), so the word is len | type << 16.
const W_KEY = 12 | ((NFTA_SET_ELEM_KEY | NLA_F_NESTED) << 16);
const W_VALUE = 8 | (NFTA_DATA_VALUE << 16);
const W_FLAGS = 8 | (NFTA_SET_ELEM_FLAGS << 16);
/** NFT_SET_ELEM_INTERVAL_END as a be32 (bytes 00 00 00 01), read as a little-endian word */
const W_END = NFT_SET_ELEM_INTERVAL_END << 24;
const W_UD = OPEN_LEN | (NFTA_SET_ELEM_USERDATA << 16);

/**
 * Elements [from, to) as writeElem writes them, inside an open NFTA_SET_ELEM_LIST_ELEMENTS nest.
 * Into a scratch buffer (every byte written, padding included), then one copy: DataView calls
 * through the writer cost several times more per element. On a little-endian host (every
 * machine pktmark is run on so far) each 4-byte field is one word store.
 */
export function writePackedElems(w: AttributeWriter, p: PackedSetElems, part: PackedPart): void {
  if (!HOST_LITTLE_ENDIAN) { writePackedBytes(w, p, part); return; }
  const keys = p.keys, shapes = p.shapes, ws = words;
  const base = part.firstIndex - part.from;
  let q = 0;
  if (p.uniform === SHAPE_KEY) {
    // a hash set: every element the 16 bytes of its nest header and key
    for (let i = part.from; i < part.to; i++, q += 4) {
      const k = keys[i];
      ws[q] = 16 | ((((base + i) & 0xffff) | NLA_F_NESTED) << 16);
      ws[q + 1] = W_KEY;
      ws[q + 2] = W_VALUE;
      ws[q + 3] = (k >>> 24) | ((k >>> 8) & 0xff00) | ((k & 0xff00) << 8) | (k << 24);
    }
    w.raw(scratch.subarray(0, q * 4));
    return;
  }
  for (let i = part.from; i < part.to; i++) {
    const shape = shapes[i];
    // index is a u16 counter in libnftnl; past 0x3fff it runs into the flag bits, as nft's does
    ws[q++] = SIZE[shape] | ((((base + i) & 0xffff) | NLA_F_NESTED) << 16);
    if (shape === SHAPE_END) { ws[q++] = W_FLAGS; ws[q++] = W_END; }
    const k = keys[i];
    ws[q++] = W_KEY;
    ws[q++] = W_VALUE;
    // the key big-endian: its bytes reversed in the little-endian word
    ws[q++] = (k >>> 24) | ((k >>> 8) & 0xff00) | ((k & 0xff00) << 8) | (k << 24);
    if (shape === SHAPE_OPEN) {
      ws[q++] = W_UD;
      const o = q * 4;
      for (let j = 0; j < 8; j++) scratch[o + j] = j < OPEN_UD.length ? OPEN_UD[j] : 0; // padded to 4
      q += 2;
    }
  }
  w.raw(scratch.subarray(0, q * 4));
}

/** writePackedElems byte by byte, for a big-endian host (attribute headers are host order). */
function writePackedBytes(w: AttributeWriter, p: PackedSetElems, part: PackedPart): void {
  const b = scratch;
  const keys = p.keys, shapes = p.shapes;
  // an attribute header: length and type, host-order u16s
  const hdr = (at: number, len: number, type: number): void => {
    b[at + LO] = len & 0xff; b[at + HI] = len >>> 8; b[at + 2 + LO] = type & 0xff; b[at + 2 + HI] = type >>> 8;
  };
  let o = 0;
  for (let i = part.from; i < part.to; i++) {
    const shape = shapes[i];
    hdr(o, SIZE[shape], ((part.firstIndex + i - part.from) & 0xffff) | NLA_F_NESTED);
    o += 4;
    if (shape === SHAPE_END) {
      hdr(o, 8, NFTA_SET_ELEM_FLAGS);
      b[o + 4] = 0; b[o + 5] = 0; b[o + 6] = 0; b[o + 7] = NFT_SET_ELEM_INTERVAL_END; // be32
      o += 8;
    }
    const k = keys[i];
    hdr(o, 12, NFTA_SET_ELEM_KEY | NLA_F_NESTED);
    hdr(o + 4, 8, NFTA_DATA_VALUE);
    b[o + 8] = k >>> 24; b[o + 9] = (k >>> 16) & 0xff; b[o + 10] = (k >>> 8) & 0xff; b[o + 11] = k & 0xff;
    o += 12;
    if (shape === SHAPE_OPEN) {
      hdr(o, OPEN_LEN, NFTA_SET_ELEM_USERDATA);
      for (let j = 0; j < 8; j++) b[o + 4 + j] = j < OPEN_UD.length ? OPEN_UD[j] : 0; // padded to 4
      o += 12;
    }
  }
  w.raw(b.subarray(0, o));
}

/** The same elements as objects (what writeSetElems takes otherwise; tests compare the two). */
export function unpackSetElems(p: PackedSetElems): { key: Uint8Array; flags?: number; userdata?: Uint8Array }[] {
  return Array.from(p.keys, (k, i) => {
    const key = new Uint8Array([k >>> 24, (k >>> 16) & 255, (k >>> 8) & 255, k & 255]);
    const s = p.shapes[i];
    return s === SHAPE_END ? { key, flags: NFT_SET_ELEM_INTERVAL_END } : s === SHAPE_OPEN ? { key, userdata: INTERVAL_OPEN_USERDATA.slice() } : { key };
  });
}

// ---------------------------------------------------------------------------------------------
// decoding: a GETSETELEM dump of an IPv4 list set straight into typed arrays

/** Packed elements gathered across the messages of one dump. */
export class PackedCollector {
  private keys = new Uint32Array(4096);
  private shapes = new Uint8Array(4096);
  count = 0;

  push(key: number, shape: number): void {
    if (this.count === this.keys.length) {
      const k = new Uint32Array(this.count * 2); k.set(this.keys); this.keys = k;
      const s = new Uint8Array(this.count * 2); s.set(this.shapes); this.shapes = s;
    }
    this.keys[this.count] = key;
    this.shapes[this.count++] = shape;
  }

  result(): PackedSetElems { return { packed: 'v4', keys: this.keys.subarray(0, this.count), shapes: this.shapes.subarray(0, this.count) }; }
}

const NLA_TYPE = 0x3fff;

/**
 * Append the elements of one NFTA_SET_ELEM_LIST_ELEMENTS payload to `into`, when every one is an
 * IPv4 element of the three shapes pktmark writes (a 4-byte key, optionally FLAGS
 * INTERVAL_END or the INTERVAL_OPEN userdata). Anything else — another attribute, another key
 * length, a bad length — appends nothing and returns false: the caller decodes that dump with
 * decodeSetElems, which keeps every attribute and words the errors.
 */
export function collectPackedElems(data: Uint8Array, into: PackedCollector): boolean {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const start = into.count;
  const fail = (): boolean => { into.count = start; return false; };
  let p = 0;
  while (p < data.length) {
    if (data.length - p < NLA_HDRLEN) return fail();
    const len = v.getUint16(p, true);
    if (len < NLA_HDRLEN || p + len > data.length) return fail();
    let key = -1, flags = -1, open = false;
    for (let q = p + NLA_HDRLEN; q < p + len;) {
      if (p + len - q < NLA_HDRLEN) return fail();
      const alen = v.getUint16(q, true);
      const type = v.getUint16(q + 2, true) & NLA_TYPE;
      if (alen < NLA_HDRLEN || q + alen > p + len) return fail();
      if (type === NFTA_SET_ELEM_KEY && alen === 12 && key < 0 && v.getUint16(q + 4, true) === 8 && (v.getUint16(q + 6, true) & NLA_TYPE) === NFTA_DATA_VALUE) {
        key = v.getUint32(q + 8, false);
      } else if (type === NFTA_SET_ELEM_FLAGS && alen === 8 && flags < 0) {
        flags = v.getUint32(q + 4, false);
        if (flags !== 0 && flags !== NFT_SET_ELEM_INTERVAL_END) return fail();
      } else if (type === NFTA_SET_ELEM_USERDATA && alen === OPEN_LEN && !open && sameBytes(data, q + NLA_HDRLEN, INTERVAL_OPEN_USERDATA)) {
        open = true;
      } else {
        return fail();
      }
      q += (alen + 3) & ~3;
    }
    if (key < 0 || (open && flags > 0)) return fail();
    into.push(key, flags > 0 ? SHAPE_END : open ? SHAPE_OPEN : SHAPE_KEY);
    p += (len + 3) & ~3;
  }
  return true;
}

function sameBytes(a: Uint8Array, at: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}
