/**
 * IPVS virtual services (include/uapi/linux/ip_vs.h, generic netlink family "IPVS", version 1):
 * `ipvsadm -A -f MARK` makes a service that takes every packet whose mark equals MARK
 * (IPVS_SVC_ATTR_FWMARK, a whole-value match). Services by address and port carry no mark.
 */
import { attr, nestedReader, type AttributeWriter } from '../netlink/attributes.js';
import { NLM_F_DUMP, NLM_F_REQUEST, type NetlinkMessage } from '../netlink/message.js';
import { genlBody, writeGenl } from './genl.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;
export const IPVS_CMD_GET_SERVICE = 2;
export const IPVS_CMD_ATTR_SERVICE = 1;
export const IPVS_SVC_ATTR_AF = 1;
export const IPVS_SVC_ATTR_PROTOCOL = 2;
export const IPVS_SVC_ATTR_FWMARK = 5;
export const IPVS_SVC_ATTR_SCHED_NAME = 6;

export function encodeIpvsServiceDump(w: AttributeWriter, seq: number, familyId: number): void {
  writeGenl(w, familyId, NLM_F_REQUEST | NLM_F_DUMP, seq, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION);
}

export interface IpvsService { readonly af: number; readonly fwmark?: number; readonly scheduler?: string }

export function decodeIpvsService(m: NetlinkMessage): IpvsService | undefined {
  for (const a of genlBody(m).attrs) {
    if (a.type !== IPVS_CMD_ATTR_SERVICE) continue;
    let af = 0, fwmark: number | undefined, scheduler: string | undefined;
    for (const s of nestedReader(a)) {
      if (s.type === IPVS_SVC_ATTR_AF) af = attr.u16(s);
      else if (s.type === IPVS_SVC_ATTR_FWMARK) fwmark = attr.u32(s);
      else if (s.type === IPVS_SVC_ATTR_SCHED_NAME) scheduler = attr.string(s);
    }
    return { af, ...(fwmark ? { fwmark } : {}), ...(scheduler === undefined ? {} : { scheduler }) };
  }
  return undefined;
}
