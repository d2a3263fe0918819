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

/** enum nft_bitwise_ops: only the boolean form `(reg & mask) ^ xor` is modeled; shifts stay raw. */
export const NFT_BITWISE_BOOL = 0;

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
}

export const bitwise: ExprCodec<Bitwise> = {
  name: 'bitwise',
  // nft 1.0.6 order: SREG, DREG, [OP], LEN, MASK, XOR (the kernel dumps LEN before OP; order is free)
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_BITWISE_SREG, e.sreg, 'be');
    w.u32(NFTA_BITWISE_DREG, e.dreg, 'be');
    if (e.op !== undefined) w.u32(NFTA_BITWISE_OP, e.op, 'be');
    w.u32(NFTA_BITWISE_LEN, e.len, 'be');
    writeDataValue(w, NFTA_BITWISE_MASK, e.mask);
    writeDataValue(w, NFTA_BITWISE_XOR, e.xor);
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_BITWISE_SREG, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN, NFTA_BITWISE_MASK, NFTA_BITWISE_XOR, NFTA_BITWISE_OP], 'bitwise');
    const opAttr = m.get(NFTA_BITWISE_OP);
    const op = opAttr ? attr.u32(opAttr, 'be') : undefined;
    if (op !== undefined && op !== NFT_BITWISE_BOOL) throw new Unmodeled(`bitwise: op ${op}`);
    const out: Bitwise = {
      kind: 'bitwise',
      sreg: attr.u32(required(m, NFTA_BITWISE_SREG, 'bitwise'), 'be'),
      dreg: attr.u32(required(m, NFTA_BITWISE_DREG, 'bitwise'), 'be'),
      len: attr.u32(required(m, NFTA_BITWISE_LEN, 'bitwise'), 'be'),
      mask: readDataValue(required(m, NFTA_BITWISE_MASK, 'bitwise'), 'bitwise mask'),
      xor: readDataValue(required(m, NFTA_BITWISE_XOR, 'bitwise'), 'bitwise xor'),
    };
    return op === undefined ? out : { ...out, op };
  },
};
