import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, required, Unmodeled, type ExprCodec } from './types.js';

/** enum nft_ct_attributes */
const NFTA_CT_DREG = 1;
const NFTA_CT_KEY = 2;
const NFTA_CT_DIRECTION = 3;
const NFTA_CT_SREG = 4;

/** enum nft_ct_keys */
export const NFT_CT_STATE = 0;
export const NFT_CT_MARK = 3;

/**
 * `ct KEY` loads a conntrack field into `dreg`; `ct KEY set` stores from `sreg` (nft_ct.c). The
 * mark is host order like meta mark. Directional keys (saddr, …) carry NFTA_CT_DIRECTION.
 */
export type Ct =
  | { readonly kind: 'ct'; readonly key: number; readonly dreg: number; readonly sreg?: undefined; readonly direction?: number }
  | { readonly kind: 'ct'; readonly key: number; readonly sreg: number; readonly dreg?: undefined; readonly direction?: number };

export const ct: ExprCodec<Ct> = {
  name: 'ct',
  // libnftnl order (expr/ct.c): KEY, DREG, DIRECTION, SREG; registers and key be32, direction u8
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_CT_KEY, e.key, 'be');
    if (e.dreg !== undefined) w.u32(NFTA_CT_DREG, e.dreg, 'be');
    if (e.direction !== undefined) w.u8(NFTA_CT_DIRECTION, e.direction);
    if (e.sreg !== undefined) w.u32(NFTA_CT_SREG, e.sreg, 'be');
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_CT_DREG, NFTA_CT_KEY, NFTA_CT_DIRECTION, NFTA_CT_SREG], 'ct');
    const key = attr.u32(required(m, NFTA_CT_KEY, 'ct'), 'be');
    const dir = m.get(NFTA_CT_DIRECTION);
    const direction = dir ? { direction: attr.u8(dir) } : {};
    const d = m.get(NFTA_CT_DREG);
    const s = m.get(NFTA_CT_SREG);
    if (d && !s) return { kind: 'ct', key, dreg: attr.u32(d, 'be'), ...direction };
    if (s && !d) return { kind: 'ct', key, sreg: attr.u32(s, 'be'), ...direction };
    throw new Unmodeled('ct: needs exactly one of dreg, sreg');
  },
};
