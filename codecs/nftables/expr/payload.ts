import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, required, type ExprCodec } from './types.js';

/** enum nft_payload_attributes (load form; the set form with SREG/CSUM_* stays raw) */
const NFTA_PAYLOAD_DREG = 1;
const NFTA_PAYLOAD_BASE = 2;
const NFTA_PAYLOAD_OFFSET = 3;
const NFTA_PAYLOAD_LEN = 4;

/** enum nft_payload_bases */
export const NFT_PAYLOAD_LL_HEADER = 0;
export const NFT_PAYLOAD_NETWORK_HEADER = 1;
export const NFT_PAYLOAD_TRANSPORT_HEADER = 2;

/** Load `len` packet bytes at `offset` from header `base` into `dreg` (network byte order, as on the wire). */
export interface Payload {
  readonly kind: 'payload';
  readonly dreg: number;
  readonly base: number;
  readonly offset: number;
  readonly len: number;
}

export const payload: ExprCodec<Payload> = {
  name: 'payload',
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_PAYLOAD_DREG, e.dreg, 'be');
    w.u32(NFTA_PAYLOAD_BASE, e.base, 'be');
    w.u32(NFTA_PAYLOAD_OFFSET, e.offset, 'be');
    w.u32(NFTA_PAYLOAD_LEN, e.len, 'be');
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_BASE, NFTA_PAYLOAD_OFFSET, NFTA_PAYLOAD_LEN], 'payload');
    return {
      kind: 'payload',
      dreg: attr.u32(required(m, NFTA_PAYLOAD_DREG, 'payload'), 'be'),
      base: attr.u32(required(m, NFTA_PAYLOAD_BASE, 'payload'), 'be'),
      offset: attr.u32(required(m, NFTA_PAYLOAD_OFFSET, 'payload'), 'be'),
      len: attr.u32(required(m, NFTA_PAYLOAD_LEN, 'payload'), 'be'),
    };
  },
};
