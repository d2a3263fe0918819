import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, required, type ExprCodec } from './types.js';

/** enum nft_target_attributes (nft_compat.c) */
const NFTA_TARGET_NAME = 1;
const NFTA_TARGET_REV = 2;
const NFTA_TARGET_INFO = 3;

/**
 * `xt target NAME`: an x_tables target run through nft_compat, as iptables-nft sends it where
 * nft has no native statement. `info` is the target's own struct (e.g. xt_connmark_tginfo2),
 * in host order, as the xt module reads it; the kernel pads it to XT_ALIGN itself.
 */
export interface Target {
  readonly kind: 'target';
  readonly name: string;
  readonly rev: number;
  readonly info: Uint8Array;
}

export const target: ExprCodec<Target> = {
  name: 'target',
  // libnftnl order (expr/target.c): NAME (NUL-terminated), REV (be32), INFO (bytes)
  encode(e, w: AttributeWriter) {
    w.string(NFTA_TARGET_NAME, e.name);
    w.u32(NFTA_TARGET_REV, e.rev, 'be');
    w.bytes(NFTA_TARGET_INFO, e.info);
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_TARGET_NAME, NFTA_TARGET_REV, NFTA_TARGET_INFO], 'target');
    const info = m.get(NFTA_TARGET_INFO);
    return {
      kind: 'target',
      name: attr.string(required(m, NFTA_TARGET_NAME, 'target')),
      rev: attr.u32(required(m, NFTA_TARGET_REV, 'target'), 'be'),
      info: info ? info.data.slice() : new Uint8Array(0),
    };
  },
};
