import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, required, type ExprCodec } from './types.js';

/** enum nft_lookup_attributes */
const NFTA_LOOKUP_SET = 1;
const NFTA_LOOKUP_SREG = 2;
const NFTA_LOOKUP_DREG = 3;
const NFTA_LOOKUP_SET_ID = 4;
const NFTA_LOOKUP_FLAGS = 5;

/** enum nft_lookup_flags: `!= @set` */
export const NFT_LOOKUP_F_INV = 0x1;

/**
 * Look the key in register `sreg` up in a set (`ip saddr @s4`, `tcp dport { 80, 443 }`).
 * nft sends both the set's name and its batch-local id, for named sets too (set-lookup.json):
 * the kernel looks the name up first and falls back to the id, which is how an anonymous set
 * created in the same batch ("__set%d", renamed by the kernel) is found.
 */
export interface Lookup {
  readonly kind: 'lookup';
  readonly sreg: number;
  readonly set: string;
  /** NFTA_LOOKUP_SET_ID; kernel dumps do not carry it */
  readonly setId?: number;
  /** maps only: where the looked-up value goes */
  readonly dreg?: number;
  /** NFT_LOOKUP_F_INV; nft writes the attribute only for `!=`, the kernel dumps it always */
  readonly flags?: number;
}

export const lookup: ExprCodec<Lookup> = {
  name: 'lookup',
  // order as nft 1.0.6 sends it (set-lookup-negated.json): SREG, SET, SET_ID, FLAGS; be32 numbers
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_LOOKUP_SREG, e.sreg, 'be');
    if (e.dreg !== undefined) w.u32(NFTA_LOOKUP_DREG, e.dreg, 'be');
    w.string(NFTA_LOOKUP_SET, e.set);
    if (e.setId !== undefined) w.u32(NFTA_LOOKUP_SET_ID, e.setId, 'be');
    if (e.flags !== undefined) w.u32(NFTA_LOOKUP_FLAGS, e.flags, 'be');
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_LOOKUP_SET, NFTA_LOOKUP_SREG, NFTA_LOOKUP_DREG, NFTA_LOOKUP_SET_ID, NFTA_LOOKUP_FLAGS], 'lookup');
    const out: { -readonly [K in keyof Lookup]: Lookup[K] } = {
      kind: 'lookup',
      sreg: attr.u32(required(m, NFTA_LOOKUP_SREG, 'lookup'), 'be'),
      set: attr.string(required(m, NFTA_LOOKUP_SET, 'lookup')),
    };
    const id = m.get(NFTA_LOOKUP_SET_ID);
    if (id) out.setId = attr.u32(id, 'be');
    const dreg = m.get(NFTA_LOOKUP_DREG);
    if (dreg) out.dreg = attr.u32(dreg, 'be');
    const flags = m.get(NFTA_LOOKUP_FLAGS);
    if (flags) out.flags = attr.u32(flags, 'be');
    return out;
  },
};
