import type { AttributeReader, AttributeWriter, StructPart } from '../../netlink/attributes.js';
import { defineStruct, HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';
import { decodeError, PktmarkError } from '../../errors.js';
import { decodeActions, encodeActions, type TcAction } from '../actions/index.js';
import { writeRaw, type RawAttr } from '../raw.js';
import { AttributeDecoder, type Draft } from '../../netlink/attribute-decoder.js';

/** enum TCA_U32_* (linux/pkt_cls.h) */
export const TCA_U32_CLASSID = 1;
export const TCA_U32_HASH = 2;
export const TCA_U32_LINK = 3;
export const TCA_U32_DIVISOR = 4;
export const TCA_U32_SEL = 5;
export const TCA_U32_POLICE = 6;
export const TCA_U32_ACT = 7;
export const TCA_U32_INDEV = 8;
export const TCA_U32_PCNT = 9;
export const TCA_U32_MARK = 10;
export const TCA_U32_FLAGS = 11;

/** tc_u32_sel.flags: TC_U32_TERMINAL makes a match final — the kernel runs the actions only then. */
export const TC_U32_TERMINAL = 1;
export const TC_U32_OFFSET = 2;
export const TC_U32_VAROFFSET = 4;
export const TC_U32_EAT = 8;

/**
 * struct tc_u32_key: mask and val are compared against the packet's 32-bit word as it is in
 * memory, so they are network order ('be'); off and offmask are plain host-order ints.
 * Here mask/val are the numbers as written in `tc … match u32 VAL MASK at OFF`.
 */
export interface U32Key { mask: number; val: number; off: number; offmask: number }
export const tcU32Key = defineStruct<U32Key>('tc_u32_key', [
  { name: 'mask', type: 'u32', order: 'be' },
  { name: 'val', type: 'u32', order: 'be' },
  { name: 'off', type: 'i32' },
  { name: 'offmask', type: 'i32' },
]);

/** struct tc_u32_sel without its flexible key array (16 bytes); offmask and hmask are network order. */
export interface U32SelHead { flags: number; offshift: number; nkeys: number; offmask: number; off: number; offoff: number; hoff: number; hmask: number }
export const tcU32SelHead = defineStruct<U32SelHead>('tc_u32_sel', [
  { name: 'flags', type: 'u8' },
  { name: 'offshift', type: 'u8' },
  { name: 'nkeys', type: 'u8' },
  { name: 'pad', type: 'pad', size: 1 },
  { name: 'offmask', type: 'u16', order: 'be' },
  { name: 'off', type: 'u16' },
  { name: 'offoff', type: 'u16' },
  { name: 'hoff', type: 'u16' },
  { name: 'hmask', type: 'u32', order: 'be' },
]);

export interface U32Selector {
  readonly flags: number;
  readonly offshift: number;
  readonly offmask: number;
  readonly off: number;
  readonly offoff: number;
  readonly hoff: number;
  readonly hmask: number;
  readonly keys: readonly U32Key[];
}

export const selector = (keys: readonly U32Key[], flags = 0): U32Selector =>
  ({ flags, offshift: 0, offmask: 0, off: 0, offoff: 0, hoff: 0, hmask: 0, keys });

/**
 * tc_u32_sel then its keys, as one part of an attribute payload, written straight into the
 * message: the same bytes as tcU32SelHead then tcU32Key per key (tc-codec.test.ts checks that
 * they agree), without a head object and a part per key for every filter of a bulk add. Zero
 * fields are left as the writer's zeroed bytes.
 */
class SelectorPart implements StructPart {
  readonly size: number;
  constructor(private readonly s: U32Selector) {
    if (s.keys.length > 128) throw new PktmarkError('ENCODE', 'a u32 selector holds at most 128 keys (nkeys is a u8, the kernel caps it)');
    this.size = tcU32SelHead.size + tcU32Key.size * s.keys.length;
  }
  write(v: DataView, at: number): void {
    const s = this.s, keys = s.keys;
    v.setUint8(at, s.flags);
    v.setUint8(at + 1, s.offshift);
    v.setUint8(at + 2, keys.length);
    v.setUint16(at + 4, s.offmask, false);
    v.setUint16(at + 6, s.off, HOST_LITTLE_ENDIAN);
    v.setUint16(at + 8, s.offoff, HOST_LITTLE_ENDIAN);
    v.setUint16(at + 10, s.hoff, HOST_LITTLE_ENDIAN);
    v.setUint32(at + 12, s.hmask >>> 0, false);
    let p = at + tcU32SelHead.size;
    for (let i = 0; i < keys.length; i++, p += tcU32Key.size) {
      const k = keys[i];
      v.setUint32(p, k.mask >>> 0, false);
      v.setUint32(p + 4, k.val >>> 0, false);
      v.setInt32(p + 8, k.off | 0, HOST_LITTLE_ENDIAN);
      v.setInt32(p + 12, k.offmask | 0, HOST_LITTLE_ENDIAN);
    }
  }
}

export function encodeSelector(s: U32Selector): Uint8Array {
  const part = new SelectorPart(s);
  const out = new Uint8Array(part.size);
  part.write(new DataView(out.buffer), 0);
  return out;
}

export function decodeSelector(b: Uint8Array, at = 0): U32Selector {
  if (b.length < tcU32SelHead.size) throw decodeError(`tc_u32_sel needs ${tcU32SelHead.size} bytes, has ${b.length}`, at);
  const head = tcU32SelHead.decode(b);
  const need = tcU32SelHead.size + head.nkeys * tcU32Key.size;
  if (b.length < need) throw decodeError(`tc_u32_sel says ${head.nkeys} keys (${need} bytes), has ${b.length}`, at);
  const keys: U32Key[] = [];
  for (let i = 0; i < head.nkeys; i++) keys.push(tcU32Key.decode(b, tcU32SelHead.size + i * tcU32Key.size));
  const { flags, offshift, offmask, off, offoff, hoff, hmask } = head;
  return { flags, offshift, offmask, off, offoff, hoff, hmask, keys };
}

/**
 * u32 filter options. Attribute order on encode follows iproute2's f_u32.c for the words pktmark
 * uses: CLASSID/HASH/LINK/DIVISOR as given, the action list (TCA_U32_ACT), and the selector last
 * (f_u32.c appends TCA_U32_SEL after parsing every word).
 */
export interface U32Options {
  readonly kind: 'u32';
  readonly classid?: number;
  readonly divisor?: number;
  readonly hash?: number;
  readonly link?: number;
  readonly actions?: readonly TcAction[];
  readonly sel?: U32Selector;
  /** TCA_U32_PCNT and others a dump carries */
  readonly extra: readonly RawAttr[];
}

export const u32 = {
  kind: 'u32' as const,
  encode(o: U32Options, w: AttributeWriter): void {
    if (o.classid !== undefined) w.u32(TCA_U32_CLASSID, o.classid);
    if (o.divisor !== undefined) w.u32(TCA_U32_DIVISOR, o.divisor);
    if (o.hash !== undefined) w.u32(TCA_U32_HASH, o.hash);
    if (o.link !== undefined) w.u32(TCA_U32_LINK, o.link);
    if (o.actions?.length) {
      const at = w.beginNested();
      encodeActions(w, o.actions);
      w.endNested(at, TCA_U32_ACT, false);
    }
    if (o.sel) w.structs(TCA_U32_SEL, [new SelectorPart(o.sel)]);
    for (const x of o.extra) writeRaw(w, x);
  },
  decode(r: AttributeReader): U32Options {
    const d = new AttributeDecoder(r);
    const o: Partial<Draft<U32Options>> = { kind: 'u32' };
    for (const type of d) {
      switch (type) {
        case TCA_U32_CLASSID: o.classid = d.u32(); break;
        case TCA_U32_DIVISOR: o.divisor = d.u32(); break;
        case TCA_U32_HASH: o.hash = d.u32(); break;
        case TCA_U32_LINK: o.link = d.u32(); break;
        case TCA_U32_ACT: o.actions = d.nested(decodeActions); break;
        case TCA_U32_SEL: o.sel = d.payload(decodeSelector); break;
        default: d.keep();
      }
    }
    d.finish();
    o.extra = d.extra;
    return o as U32Options;
  },
};

/**
 * u32 handles are htid:hash:node — 12, 8 and 12 bits (TC_U32_HTID/HASH/NODE in pkt_cls.h).
 * The kernel numbers the root hash table 800: and the first filter in it 800::800.
 */
export function formatU32Handle(h: number): string {
  const htid = (h >>> 20) & 0xfff, hash = (h >>> 12) & 0xff, node = h & 0xfff;
  return `${htid.toString(16)}:${hash ? hash.toString(16) : ''}${node ? `:${node.toString(16)}` : ''}`;
}
export function parseU32Handle(s: string): number | undefined {
  const m = /^([0-9a-f]{1,3})?:([0-9a-f]{0,2})(?::([0-9a-f]{1,3}))?$/i.exec(s);
  if (!m) return undefined;
  const htid = parseInt(m[1] ?? '0', 16), hash = m[2] ? parseInt(m[2], 16) : 0, node = m[3] ? parseInt(m[3], 16) : 0;
  return ((htid << 20) | (hash << 12) | node) >>> 0;
}

/** Merge a key into the list the way iproute2's pack_key does: same offset and offmask → one key. */
export function packKey(keys: U32Key[], k: U32Key): void {
  let same: U32Key | undefined;
  for (let i = 0; i < keys.length && !same; i++) if (keys[i].off === k.off && keys[i].offmask === k.offmask) same = keys[i];
  if (!same) { keys.push({ mask: k.mask, val: (k.val & k.mask) >>> 0, off: k.off, offmask: k.offmask }); return; }
  if (((same.val ^ k.val) & same.mask & k.mask) !== 0) throw new PktmarkError('ENCODE', `u32 keys at offset ${k.off} ask for different values in the same bits`);
  same.val = (same.val | (k.val & k.mask)) >>> 0;
  same.mask = (same.mask | k.mask) >>> 0;
}
