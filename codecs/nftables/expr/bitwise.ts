import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { readDataValue, writeDataValue } from './data.js';
import { attrTable, required, Unmodeled, type ExprCodec } from './types.js';

/** enum nft_bitwise_attributes */
const NFTA_BITWISE_SREG = 1;
const NFTA_BITWISE_DREG = 2;
const NFTA_BITWISE_LEN = 3;
const NFTA_BITWISE_MASK = 4;
const NFTA_BITWISE_XOR = 5;
const NFTA_BITWISE_OP = 6;
const NFTA_BITWISE_DATA = 7;
/** Linux 6.13+ (nft_bitwise.c, "add support for doing AND, OR and XOR directly") */
const NFTA_BITWISE_SREG2 = 8;

/** enum nft_bitwise_ops */
export const NFT_BITWISE_BOOL = 0;
export const NFT_BITWISE_LSHIFT = 1;
export const NFT_BITWISE_RSHIFT = 2;
/** dreg = sreg OP sreg2, Linux 6.13+ */
export const NFT_BITWISE_AND = 3;
export const NFT_BITWISE_OR = 4;
export const NFT_BITWISE_XOR = 5;

/**
 * dreg = (sreg & mask) ^ xor over `len` bytes. `op` records whether NFTA_BITWISE_OP was sent:
 * nft 1.0.6 sends it (= BOOL) for `meta mark set meta mark and … or …` but omits it for the
 * prefix mask of a non-byte-aligned address, and golden bytes must say which.
 */
export interface Bitwise {
  readonly kind: 'bitwise';
  readonly sreg: number;
  readonly dreg: number;
  readonly len: number;
  readonly mask: Uint8Array;
  readonly xor: Uint8Array;
  readonly op?: number;
  readonly sreg2?: undefined;
  readonly data?: undefined;
}

/**
 * The other forms: a shift (`data` = the bit count as a host-order u32, `reg << 8`), or, on
 * Linux 6.13+, dreg = sreg AND|OR|XOR sreg2 (two registers: what a masked copy of one mark
 * into another needs).
 */
export type BitwiseOp =
  | { readonly kind: 'bitwise'; readonly sreg: number; readonly dreg: number; readonly len: number; readonly op: typeof NFT_BITWISE_LSHIFT | typeof NFT_BITWISE_RSHIFT; readonly data: Uint8Array; readonly sreg2?: undefined; readonly mask?: undefined; readonly xor?: undefined }
  | { readonly kind: 'bitwise'; readonly sreg: number; readonly dreg: number; readonly len: number; readonly op: typeof NFT_BITWISE_AND | typeof NFT_BITWISE_OR | typeof NFT_BITWISE_XOR; readonly sreg2: number; readonly data?: undefined; readonly mask?: undefined; readonly xor?: undefined };

/** The boolean form `(reg & mask) ^ xor`. */
export const isBoolBitwise = (e: { readonly kind: string } | undefined): e is Bitwise => e?.kind === 'bitwise' && (e as Bitwise).mask !== undefined;

export const bitwise: ExprCodec<Bitwise | BitwiseOp> = {
  name: 'bitwise',
  // nft 1.0.6 order: SREG, DREG, [OP], LEN, MASK, XOR (the kernel dumps LEN before OP; order is free);
  // shifts end with DATA; libnftnl puts SREG2 after SREG
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_BITWISE_SREG, e.sreg, 'be');
    if (e.sreg2 !== undefined) w.u32(NFTA_BITWISE_SREG2, e.sreg2, 'be');
    w.u32(NFTA_BITWISE_DREG, e.dreg, 'be');
    if (e.op !== undefined) w.u32(NFTA_BITWISE_OP, e.op, 'be');
    w.u32(NFTA_BITWISE_LEN, e.len, 'be');
    if (e.mask !== undefined) {
      writeDataValue(w, NFTA_BITWISE_MASK, e.mask);
      writeDataValue(w, NFTA_BITWISE_XOR, e.xor);
    }
    if (e.data !== undefined) writeDataValue(w, NFTA_BITWISE_DATA, e.data);
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_BITWISE_SREG, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN, NFTA_BITWISE_MASK, NFTA_BITWISE_XOR, NFTA_BITWISE_OP, NFTA_BITWISE_DATA, NFTA_BITWISE_SREG2], 'bitwise');
    const opAttr = m.get(NFTA_BITWISE_OP);
    const op = opAttr ? attr.u32(opAttr, 'be') : undefined;
    const regs = {
      sreg: attr.u32(required(m, NFTA_BITWISE_SREG, 'bitwise'), 'be'),
      dreg: attr.u32(required(m, NFTA_BITWISE_DREG, 'bitwise'), 'be'),
      len: attr.u32(required(m, NFTA_BITWISE_LEN, 'bitwise'), 'be'),
    };
    const only = (...types: number[]): void => {
      for (const t of m.keys()) if (![NFTA_BITWISE_SREG, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN, NFTA_BITWISE_OP, ...types].includes(t)) throw new Unmodeled(`bitwise op ${op}: attribute ${t}`);
    };
    if (op === NFT_BITWISE_LSHIFT || op === NFT_BITWISE_RSHIFT) {
      only(NFTA_BITWISE_DATA);
      return { kind: 'bitwise', ...regs, op, data: readDataValue(required(m, NFTA_BITWISE_DATA, 'bitwise'), 'bitwise data') };
    }
    if (op === NFT_BITWISE_AND || op === NFT_BITWISE_OR || op === NFT_BITWISE_XOR) {
      only(NFTA_BITWISE_SREG2);
      return { kind: 'bitwise', ...regs, op, sreg2: attr.u32(required(m, NFTA_BITWISE_SREG2, 'bitwise'), 'be') };
    }
    if (op !== undefined && op !== NFT_BITWISE_BOOL) throw new Unmodeled(`bitwise: op ${op}`);
    only(NFTA_BITWISE_MASK, NFTA_BITWISE_XOR);
    const out: Bitwise = {
      kind: 'bitwise',
      ...regs,
      mask: readDataValue(required(m, NFTA_BITWISE_MASK, 'bitwise'), 'bitwise mask'),
      xor: readDataValue(required(m, NFTA_BITWISE_XOR, 'bitwise'), 'bitwise xor'),
    };
    return op === undefined ? out : { ...out, op };
  },
};
