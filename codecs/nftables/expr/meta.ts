import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, required, Unmodeled, type ExprCodec } from './types.js';

/** enum nft_meta_attributes */
const NFTA_META_DREG = 1;
const NFTA_META_KEY = 2;
const NFTA_META_SREG = 3;

/** enum nft_meta_keys (the ones pktmark reads or writes) */
export const NFT_META_MARK = 3;
export const NFT_META_IIFNAME = 6;
export const NFT_META_OIFNAME = 7;
export const NFT_META_NFPROTO = 15;
export const NFT_META_L4PROTO = 16;

/** `meta KEY` loads into `dreg`; `meta KEY set` stores from `sreg`. Exactly one of the two is present. */
export type Meta =
  | { readonly kind: 'meta'; readonly key: number; readonly dreg: number; readonly sreg?: undefined }
  | { readonly kind: 'meta'; readonly key: number; readonly sreg: number; readonly dreg?: undefined };

export const meta: ExprCodec<Meta> = {
  name: 'meta',
  // libnftnl order (and the kernel's dump order): KEY first, then the register; registers are be32
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_META_KEY, e.key, 'be');
    if (e.sreg !== undefined) w.u32(NFTA_META_SREG, e.sreg, 'be');
    else w.u32(NFTA_META_DREG, e.dreg, 'be');
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_META_DREG, NFTA_META_KEY, NFTA_META_SREG], 'meta');
    const key = attr.u32(required(m, NFTA_META_KEY, 'meta'), 'be');
    const d = m.get(NFTA_META_DREG);
    const s = m.get(NFTA_META_SREG);
    if (d && !s) return { kind: 'meta', key, dreg: attr.u32(d, 'be') };
    if (s && !d) return { kind: 'meta', key, sreg: attr.u32(s, 'be') };
    throw new Unmodeled('meta: needs exactly one of dreg, sreg');
  },
};
