import { attr, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { attrTable, type ExprCodec } from './types.js';

/** enum nft_counter_attributes; be64 values, NFTA_COUNTER_PAD only aligns them. */
const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;
const NFTA_COUNTER_PAD = 3;

/**
 * `counter`. nft sends it with an empty NFTA_EXPR_DATA (start at zero); the kernel's dumps carry
 * the current bytes and packets. Encoding without values reproduces nft's empty nest.
 */
export interface Counter {
  readonly kind: 'counter';
  readonly bytes?: bigint;
  readonly packets?: bigint;
}

export const counter: ExprCodec<Counter> = {
  name: 'counter',
  encode(e, w: AttributeWriter) {
    if (e.bytes !== undefined) w.u64(NFTA_COUNTER_BYTES, e.bytes, 'be');
    if (e.packets !== undefined) w.u64(NFTA_COUNTER_PACKETS, e.packets, 'be');
  },
  decode(r: AttributeReader) {
    const m = attrTable(r, [NFTA_COUNTER_BYTES, NFTA_COUNTER_PACKETS, NFTA_COUNTER_PAD], 'counter');
    const b = m.get(NFTA_COUNTER_BYTES);
    const p = m.get(NFTA_COUNTER_PACKETS);
    return {
      kind: 'counter',
      ...(b ? { bytes: attr.u64(b, 'be') } : {}),
      ...(p ? { packets: attr.u64(p, 'be') } : {}),
    };
  },
};
