import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { readDataValue, writeDataValue } from './data.js';
import { attrTable, required, type ExprCodec } from './types.js';

/** enum nft_range_attributes */
const NFTA_RANGE_SREG = 1;
const NFTA_RANGE_OP = 2;
const NFTA_RANGE_FROM_DATA = 3;
const NFTA_RANGE_TO_DATA = 4;

/** enum nft_range_ops */
export const NFT_RANGE_EQ = 0;
export const NFT_RANGE_NEQ = 1;

/**
 * `from <= reg <= to` (or its negation), bytes compared as big-endian numbers (nft_range.c
 * uses memcmp). nft 1.0.6 sends it only for `!= a-b`; `== a-b` becomes cmp gte + cmp lte.
 */
export interface Range {
  readonly kind: 'range';
  readonly sreg: number;
  readonly op: number;
  readonly from: Uint8Array;
  readonly to: Uint8Array;
}

export const range: ExprCodec<Range> = {
  name: 'range',
  // libnftnl order: SREG, OP, FROM_DATA, TO_DATA; numbers be32
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_RANGE_SREG, e.sreg, 'be');
    w.u32(NFTA_RANGE_OP, e.op, 'be');
    writeDataValue(w, NFTA_RANGE_FROM_DATA, e.from);
    writeDataValue(w, NFTA_RANGE_TO_DATA, e.to);
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_RANGE_SREG, NFTA_RANGE_OP, NFTA_RANGE_FROM_DATA, NFTA_RANGE_TO_DATA], 'range');
    return {
      kind: 'range',
      sreg: attr.u32(required(m, NFTA_RANGE_SREG, 'range'), 'be'),
      op: attr.u32(required(m, NFTA_RANGE_OP, 'range'), 'be'),
      from: readDataValue(required(m, NFTA_RANGE_FROM_DATA, 'range'), 'range'),
      to: readDataValue(required(m, NFTA_RANGE_TO_DATA, 'range'), 'range'),
    };
  },
};
