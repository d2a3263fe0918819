/**
 * act_connmark (include/uapi/linux/tc_act/tc_connmark.h), decode only: `action connmark` copies
 * the connection's whole mark into skb->mark (tcf_connmark_act). Its options are TCA_CONNMARK_PARMS,
 * struct tc_connmark { tc_gen; __u16 zone; }. Read from a raw action's TCA_ACT_OPTIONS bytes.
 */
import { AttributeReader } from '../../netlink/attributes.js';
import { HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';

export const TCA_CONNMARK_PARMS = 1;
const TC_GEN_SIZE = 20;

export interface ConnmarkAction { readonly kind: 'connmark'; readonly zone: number }

export function decodeConnmarkAction(data: Uint8Array, base = 0): ConnmarkAction {
  let zone = 0;
  for (const a of new AttributeReader(data, base)) {
    if (a.type === TCA_CONNMARK_PARMS && a.data.length >= TC_GEN_SIZE + 2) {
      zone = new DataView(a.data.buffer, a.data.byteOffset, a.data.length).getUint16(TC_GEN_SIZE, HOST_LITTLE_ENDIAN);
    }
  }
  return { kind: 'connmark', zone };
}
