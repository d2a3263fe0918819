import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { readDataValue, writeDataValue } from './data.js';
import { attrTable, required, type ExprCodec } from './types.js';

/** enum nft_cmp_attributes */
const NFTA_CMP_SREG = 1;
const NFTA_CMP_OP = 2;
const NFTA_CMP_DATA = 3;

/** enum nft_cmp_ops */
export const NFT_CMP_EQ = 0;
export const NFT_CMP_NEQ = 1;
export const NFT_CMP_LT = 2;
export const NFT_CMP_LTE = 3;
export const NFT_CMP_GT = 4;
export const NFT_CMP_GTE = 5;

/** Compare `data.length` bytes of register `sreg` with `data` (bytes as the register holds them). */
export interface Cmp {
  readonly kind: 'cmp';
  readonly sreg: number;
  readonly op: number;
  readonly data: Uint8Array;
}

export const cmp: ExprCodec<Cmp> = {
  name: 'cmp',
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_CMP_SREG, e.sreg, 'be');
    w.u32(NFTA_CMP_OP, e.op, 'be');
    writeDataValue(w, NFTA_CMP_DATA, e.data);
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_CMP_SREG, NFTA_CMP_OP, NFTA_CMP_DATA], 'cmp');
    return {
      kind: 'cmp',
      sreg: attr.u32(required(m, NFTA_CMP_SREG, 'cmp'), 'be'),
      op: attr.u32(required(m, NFTA_CMP_OP, 'cmp'), 'be'),
      data: readDataValue(required(m, NFTA_CMP_DATA, 'cmp'), 'cmp'),
    };
  },
};
