/**
 * Policy-routing rules (`ip rule`, include/uapi/linux/fib_rules.h): RTM_GETRULE dumps and the
 * fwmark/mask each rule matches. Decode only what a mark scan needs; other attributes are skipped.
 */
import { attr, AttributeReader, type AttributeWriter } from '../netlink/attributes.js';
import { NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { defineStruct } from '../netlink/struct.js';
import { decodeError } from '../errors.js';

export const RTM_NEWRULE = 32;
export const RTM_GETRULE = 34;

/** struct fib_rule_hdr: all u8 but flags (host order) */
export interface FibRuleHdr { family: number; dstLen: number; srcLen: number; tos: number; table: number; res1: number; res2: number; action: number; flags: number }
export const fibRuleHdr = defineStruct<FibRuleHdr>('fib_rule_hdr', [
  { name: 'family', type: 'u8' }, { name: 'dstLen', type: 'u8' }, { name: 'srcLen', type: 'u8' }, { name: 'tos', type: 'u8' },
  { name: 'table', type: 'u8' }, { name: 'res1', type: 'u8' }, { name: 'res2', type: 'u8' }, { name: 'action', type: 'u8' },
  { name: 'flags', type: 'u32', order: 'host' },
]);

/** enum fib_rule attributes (FRA_*) */
export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
/** fib_rules.h: FIB_RULE_INVERT (`ip rule add not fwmark …`) */
export const FIB_RULE_INVERT = 0x2;

/** Dump the rules of one family (AF_INET 2, AF_INET6 10), as `ip -4 rule show` asks. */
export function encodeGetRules(w: AttributeWriter, seq: number, family: number): void {
  writeMessage(w, RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, seq, () => {
    w.struct(fibRuleHdr, { family, dstLen: 0, srcLen: 0, tos: 0, table: 0, res1: 0, res2: 0, action: 0, flags: 0 });
  });
}

export interface FibRule {
  readonly family: number;
  readonly priority: number;
  readonly table: number;
  readonly action: number;
  readonly invert: boolean;
  /** present when the rule matches a mark; the kernel reports mask 0xffffffff for a bare `fwmark V` */
  readonly fwmark?: number;
  readonly fwmask?: number;
}

export function decodeFibRule(m: NetlinkMessage): FibRule {
  if (m.payload.length < fibRuleHdr.size) throw decodeError(`rule message shorter than fib_rule_hdr (${m.payload.length} bytes)`, m.offset + NLMSG_HDRLEN);
  const h = fibRuleHdr.decode(m.payload);
  let priority = 0, table = h.table;
  let fwmark: number | undefined, fwmask: number | undefined;
  for (const a of new AttributeReader(m.payload.subarray(fibRuleHdr.size), m.offset + NLMSG_HDRLEN + fibRuleHdr.size)) {
    if (a.type === FRA_PRIORITY) priority = attr.u32(a);
    else if (a.type === FRA_TABLE) table = attr.u32(a);
    else if (a.type === FRA_FWMARK) fwmark = attr.u32(a);
    else if (a.type === FRA_FWMASK) fwmask = attr.u32(a);
  }
  return {
    family: h.family, priority, table, action: h.action, invert: (h.flags & FIB_RULE_INVERT) !== 0,
    ...(fwmark === undefined ? {} : { fwmark }), ...(fwmask === undefined ? {} : { fwmask }),
  };
}
