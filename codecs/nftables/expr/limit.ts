import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, required, Unmodeled, type ExprCodec } from './types.js';

/** enum nft_limit_attributes; every value is big-endian (nft_limit.c uses be64/be32). */
const NFTA_LIMIT_RATE = 1;
const NFTA_LIMIT_UNIT = 2;
const NFTA_LIMIT_BURST = 3;
const NFTA_LIMIT_TYPE = 4;
const NFTA_LIMIT_FLAGS = 5;
const NFTA_LIMIT_PAD = 6;

const NFT_LIMIT_PKTS = 0;
const NFT_LIMIT_PKT_BYTES = 1;
const NFT_LIMIT_F_INV = 1;

/** `limit rate [over] RATE/UNIT burst BURST packets|bytes`; `unit` is the period in seconds. */
export interface Limit {
  readonly kind: 'limit';
  readonly rate: bigint;
  readonly unit: bigint;
  readonly burst: number;
  readonly type: 'packets' | 'bytes';
  readonly inverted: boolean;
}

export const limit: ExprCodec<Limit> = {
  name: 'limit',
  encode(e, w: AttributeWriter) {
    w.u64(NFTA_LIMIT_RATE, e.rate, 'be');
    w.u64(NFTA_LIMIT_UNIT, e.unit, 'be');
    w.u32(NFTA_LIMIT_BURST, e.burst, 'be');
    w.u32(NFTA_LIMIT_TYPE, e.type === 'bytes' ? NFT_LIMIT_PKT_BYTES : NFT_LIMIT_PKTS, 'be');
    w.u32(NFTA_LIMIT_FLAGS, e.inverted ? NFT_LIMIT_F_INV : 0, 'be');
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_LIMIT_RATE, NFTA_LIMIT_UNIT, NFTA_LIMIT_BURST, NFTA_LIMIT_TYPE, NFTA_LIMIT_FLAGS, NFTA_LIMIT_PAD], 'limit');
    const type = m.has(NFTA_LIMIT_TYPE) ? attr.u32(m.get(NFTA_LIMIT_TYPE)!, 'be') : NFT_LIMIT_PKTS;
    const flags = m.has(NFTA_LIMIT_FLAGS) ? attr.u32(m.get(NFTA_LIMIT_FLAGS)!, 'be') : 0;
    if (type !== NFT_LIMIT_PKTS && type !== NFT_LIMIT_PKT_BYTES) throw new Unmodeled(`limit: type ${type}`);
    if (flags & ~NFT_LIMIT_F_INV) throw new Unmodeled(`limit: flags 0x${flags.toString(16)}`);
    return {
      kind: 'limit',
      rate: attr.u64(required(m, NFTA_LIMIT_RATE, 'limit'), 'be'),
      unit: attr.u64(required(m, NFTA_LIMIT_UNIT, 'limit'), 'be'),
      burst: m.has(NFTA_LIMIT_BURST) ? attr.u32(m.get(NFTA_LIMIT_BURST)!, 'be') : 0,
      type: type === NFT_LIMIT_PKT_BYTES ? 'bytes' : 'packets',
      inverted: (flags & NFT_LIMIT_F_INV) !== 0,
    };
  },
};
