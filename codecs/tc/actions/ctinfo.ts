/**
 * act_ctinfo (include/uapi/linux/tc_act/tc_ctinfo.h), decode only: `action ctinfo cpmark MASK`
 * sets skb->mark = ct mark & MASK (the whole mark is written); `dscp MASK` reads ct mark bits
 * to set the DSCP. Read from a raw action's TCA_ACT_OPTIONS bytes.
 */
import { attr, AttributeReader } from '../../netlink/attributes.js';

export const TCA_CTINFO_ZONE = 4;
export const TCA_CTINFO_PARMS_DSCP_MASK = 5;
export const TCA_CTINFO_PARMS_CPMARK_MASK = 7;

export interface CtinfoAction { readonly kind: 'ctinfo'; readonly zone: number; readonly cpmarkMask?: number; readonly dscpMask?: number }

export function decodeCtinfoAction(data: Uint8Array, base = 0): CtinfoAction {
  let zone = 0, cpmarkMask: number | undefined, dscpMask: number | undefined;
  for (const a of new AttributeReader(data, base)) {
    if (a.type === TCA_CTINFO_ZONE) zone = attr.u16(a);
    else if (a.type === TCA_CTINFO_PARMS_CPMARK_MASK) cpmarkMask = attr.u32(a);
    else if (a.type === TCA_CTINFO_PARMS_DSCP_MASK) dscpMask = attr.u32(a);
  }
  return { kind: 'ctinfo', zone, ...(cpmarkMask === undefined ? {} : { cpmarkMask }), ...(dscpMask === undefined ? {} : { dscpMask }) };
}
