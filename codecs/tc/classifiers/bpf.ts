/**
 * cls_bpf filter options (enum TCA_BPF_* in linux/pkt_cls.h; net/sched/cls_bpf.c). A request
 * carries the program as an fd (TCA_BPF_FD) with a free-form name (TCA_BPF_NAME: iproute2 writes
 * the object file or pin path there; pktmark writes its owner name); a dump reports the name, the
 * flags, and the program's tag and id instead of an fd.
 *
 * Encode order follows iproute2 6.1's f_bpf.c + lib/bpf_legacy.c: the program (FD, NAME) as soon
 * as it is loaded while parsing the words, then FLAGS after the words (`da`). Fixture:
 * fixtures/tc/bpf-da.json.
 */
import { type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { decodeActions, encodeActions, type TcAction } from '../actions/index.js';
import { writeRaw, type RawAttr } from '../raw.js';
import { AttributeDecoder, type Draft } from '../../netlink/attribute-decoder.js';

export const TCA_BPF_ACT = 1;
export const TCA_BPF_POLICE = 2;
export const TCA_BPF_CLASSID = 3;
export const TCA_BPF_OPS_LEN = 4;
export const TCA_BPF_OPS = 5;
export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_FLAGS_GEN = 9;
export const TCA_BPF_TAG = 10;
export const TCA_BPF_ID = 11;

/** direct action: the program's return value is the tc verdict (`da`); no action list needed */
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

export interface BpfClsOptions {
  readonly kind: 'bpf';
  readonly classid?: number;
  /** request only: the loaded program */
  readonly fd?: number;
  readonly name?: string;
  readonly flags?: number;
  /** TCA_BPF_FLAGS_GEN (TCA_CLS_FLAGS_SKIP_HW …) */
  readonly flagsGen?: number;
  readonly actions?: readonly TcAction[];
  /** dump only: the program's 8-byte tag and id */
  readonly tag?: Uint8Array;
  readonly id?: number;
  readonly extra: readonly RawAttr[];
}

export const bpf = {
  kind: 'bpf' as const,
  encode(o: BpfClsOptions, w: AttributeWriter): void {
    if (o.classid !== undefined) w.u32(TCA_BPF_CLASSID, o.classid);
    if (o.fd !== undefined) w.u32(TCA_BPF_FD, o.fd);
    // addattrstrz: the NUL is part of the attribute
    if (o.name !== undefined) w.string(TCA_BPF_NAME, o.name);
    if (o.actions?.length) w.nested(TCA_BPF_ACT, () => encodeActions(w, o.actions!), false);
    if (o.flags !== undefined) w.u32(TCA_BPF_FLAGS, o.flags);
    if (o.flagsGen !== undefined) w.u32(TCA_BPF_FLAGS_GEN, o.flagsGen);
    // dump-only attributes, written so that a decoded dump entry encodes back (tests' fake kernel)
    if (o.tag !== undefined) w.bytes(TCA_BPF_TAG, o.tag);
    if (o.id !== undefined) w.u32(TCA_BPF_ID, o.id);
    for (const x of o.extra) writeRaw(w, x);
  },
  decode(r: AttributeReader): BpfClsOptions {
    const d = new AttributeDecoder(r);
    const o: Partial<Draft<BpfClsOptions>> = { kind: 'bpf' };
    for (const type of d) {
      switch (type) {
        case TCA_BPF_CLASSID: o.classid = d.u32(); break;
        case TCA_BPF_FD: o.fd = d.u32(); break;
        case TCA_BPF_NAME: o.name = d.string(); break;
        case TCA_BPF_FLAGS: o.flags = d.u32(); break;
        case TCA_BPF_FLAGS_GEN: o.flagsGen = d.u32(); break;
        case TCA_BPF_TAG: o.tag = d.bytes(); break;
        case TCA_BPF_ID: o.id = d.u32(); break;
        case TCA_BPF_ACT: o.actions = d.nested(decodeActions); break;
        default: d.keep();
      }
    }
    d.finish();
    o.extra = d.extra;
    return o as BpfClsOptions;
  },
};
