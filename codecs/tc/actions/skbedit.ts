import type { AttributeReader, AttributeWriter, StructPart } from '../../netlink/attributes.js';
import { AttributeDecoder, type Draft } from '../../netlink/attribute-decoder.js';
import { defineStruct, HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';
import { writeRaw, type RawAttr } from '../raw.js';
import type { ActionCodec, TcGen } from './types.js';

/** enum TCA_SKBEDIT_* (linux/tc_act/tc_skbedit.h) */
export const TCA_SKBEDIT_TM = 1;
export const TCA_SKBEDIT_PARMS = 2;
export const TCA_SKBEDIT_PRIORITY = 3;
export const TCA_SKBEDIT_QUEUE_MAPPING = 4;
export const TCA_SKBEDIT_MARK = 5;
export const TCA_SKBEDIT_PAD = 6;
export const TCA_SKBEDIT_PTYPE = 7;
export const TCA_SKBEDIT_MASK = 8;

/** struct tc_skbedit is just tc_gen: five 32-bit fields, host order. */
export const tcSkbedit = defineStruct<TcGen>('tc_skbedit', [
  { name: 'index', type: 'u32' },
  { name: 'capab', type: 'u32' },
  { name: 'action', type: 'i32' },
  { name: 'refcnt', type: 'i32' },
  { name: 'bindcnt', type: 'i32' },
]);

/**
 * tc_skbedit written in place: the bytes of tcSkbedit.write (tc-codec.test.ts checks that they
 * agree) without its generic field loop, once per filter of a bulk add.
 */
export class ParmsPart implements StructPart {
  readonly size = 20;
  constructor(private readonly p: TcGen) {}
  write(v: DataView, at: number): void {
    const p = this.p;
    v.setUint32(at, p.index >>> 0, HOST_LITTLE_ENDIAN);
    v.setUint32(at + 4, p.capab >>> 0, HOST_LITTLE_ENDIAN);
    v.setInt32(at + 8, p.action | 0, HOST_LITTLE_ENDIAN);
    v.setInt32(at + 12, p.refcnt | 0, HOST_LITTLE_ENDIAN);
    v.setInt32(at + 16, p.bindcnt | 0, HOST_LITTLE_ENDIAN);
  }
}

export interface SkbeditOptions {
  readonly kind: 'skbedit';
  readonly parms: TcGen;
  /** skb->mark = (skb->mark & ~mask) | mark (the kernel's tcf_skbedit_act); both host order u32 */
  readonly mark?: number;
  readonly mask?: number;
  /** attributes not modelled here (TM, PRIORITY, PTYPE …), in kernel order */
  readonly extra: readonly RawAttr[];
}

/**
 * Writes what iproute2's m_skbedit.c writes for `skbedit mark V[/M]`: PARMS first, then MARK,
 * then MASK — and the kernel needs PARMS even when only the mark is set.
 */
export const skbedit: ActionCodec<SkbeditOptions> = {
  kind: 'skbedit',
  encode(o: SkbeditOptions, w: AttributeWriter): void {
    w.structs(TCA_SKBEDIT_PARMS, [new ParmsPart(o.parms)]);
    if (o.mark !== undefined) w.u32(TCA_SKBEDIT_MARK, o.mark);
    if (o.mask !== undefined) w.u32(TCA_SKBEDIT_MASK, o.mask);
    for (const x of o.extra) writeRaw(w, x);
  },
  decode(r: AttributeReader): SkbeditOptions {
    const d = new AttributeDecoder(r);
    const o: Partial<Draft<SkbeditOptions>> = { kind: 'skbedit' };
    for (const type of d) {
      switch (type) {
        case TCA_SKBEDIT_PARMS: o.parms = d.struct(tcSkbedit); break;
        case TCA_SKBEDIT_MARK: o.mark = d.u32(); break;
        case TCA_SKBEDIT_MASK: o.mask = d.u32(); break;
        default: d.keep();
      }
    }
    d.require(o.parms, 'skbedit without TCA_SKBEDIT_PARMS');
    d.finish();
    o.extra = d.extra;
    return o as SkbeditOptions;
  },
};
