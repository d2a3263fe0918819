import { attr, nestedReader, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_VERDICT_CHAIN, NFTA_VERDICT_CODE, attrTable, required, Unmodeled, type ExprCodec } from './types.js';

/** enum nft_immediate_attributes */
const NFTA_IMMEDIATE_DREG = 1;
const NFTA_IMMEDIATE_DATA = 2;

/** Verdict codes (linux/netfilter.h NF_ACCEPT/NF_DROP, nf_tables.h NFT_CONTINUE…): a signed be32. */
export interface Verdict { readonly code: number; readonly chain?: string }

/** Load a constant into `dreg` (`value`, bytes as the register holds them) or set a verdict (dreg 0). */
export type Immediate =
  | { readonly kind: 'immediate'; readonly dreg: number; readonly value: Uint8Array; readonly verdict?: undefined }
  | { readonly kind: 'immediate'; readonly dreg: number; readonly verdict: Verdict; readonly value?: undefined };

export const immediate: ExprCodec<Immediate> = {
  name: 'immediate',
  encode(e, w: AttributeWriter) {
    w.u32(NFTA_IMMEDIATE_DREG, e.dreg, 'be');
    w.nested(NFTA_IMMEDIATE_DATA, (w) => {
      if (e.value !== undefined) { w.bytes(NFTA_DATA_VALUE, e.value); return; }
      const v = e.verdict;
      w.nested(NFTA_DATA_VERDICT, (w) => {
        w.i32(NFTA_VERDICT_CODE, v.code, 'be');
        if (v.chain !== undefined) w.string(NFTA_VERDICT_CHAIN, v.chain);
      });
    });
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_IMMEDIATE_DREG, NFTA_IMMEDIATE_DATA], 'immediate');
    const dreg = attr.u32(required(m, NFTA_IMMEDIATE_DREG, 'immediate'), 'be');
    const data = [...nestedReader(required(m, NFTA_IMMEDIATE_DATA, 'immediate'))];
    if (data.length !== 1) throw new Unmodeled('immediate: data must hold one value or verdict');
    const d = data[0];
    if (d.type === NFTA_DATA_VALUE) return { kind: 'immediate', dreg, value: d.data.slice() };
    if (d.type !== NFTA_DATA_VERDICT) throw new Unmodeled(`immediate: data attribute ${d.type}`);
    const v = attrTable(nestedReader(d), [NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN], 'verdict');
    const code = attr.i32(required(v, NFTA_VERDICT_CODE, 'verdict'), 'be');
    const chain = v.get(NFTA_VERDICT_CHAIN);
    return { kind: 'immediate', dreg, verdict: chain ? { code, chain: attr.string(chain) } : { code } };
  },
};
