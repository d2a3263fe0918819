import type { AttributeWriter } from '../netlink/attributes.js';
import { defineStruct } from '../netlink/struct.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';

/**
 * struct tcmsg (linux/rtnetlink.h), the fixed header of every qdisc/class/filter message:
 * u8 family, 3 pad, s32 ifindex, u32 handle, u32 parent, u32 info — all host order. For filters
 * `info` packs two things: the priority in the upper 16 bits and the ethernet protocol in the
 * lower 16, and that protocol is stored in network order (tc does `TC_H_MAKE(prio<<16, htons(proto))`),
 * so on little-endian hosts ETH_P_IP 0x0800 appears as 0x0008.
 */
export interface TcMsg {
  family: number;
  ifindex: number;
  handle: number;
  parent: number;
  info: number;
}
export const tcmsg = defineStruct<TcMsg>('tcmsg', [
  { name: 'family', type: 'u8' },
  { name: 'pad', type: 'pad', size: 3 },
  { name: 'ifindex', type: 'i32' },
  { name: 'handle', type: 'u32' },
  { name: 'parent', type: 'u32' },
  { name: 'info', type: 'u32' },
]);
export const TCMSG_SIZE = tcmsg.size;

/**
 * The tcmsg of a family-0 request, written field by field: the same bytes as
 * `w.struct(tcmsg, …)`, without the generic field loop and the object per message (a 1,000-filter
 * add writes 1,000 of them). Family and padding are the reserved bytes' zeros.
 */
export function writeTcmsg(w: AttributeWriter, ifindex: number, handle: number, parent: number, info: number): void {
  const at = w.reserve(TCMSG_SIZE);
  w.patchU32(at + 4, ifindex);
  w.patchU32(at + 8, handle);
  w.patchU32(at + 12, parent);
  w.patchU32(at + 16, info);
}

const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);
/** htons / ntohs as the host applies them (a no-op on big-endian hosts). */
export const htons = (v: number): number => (HOST_LITTLE_ENDIAN ? swap16(v) : v & 0xffff);
export const ntohs = htons;

/** tcm_info of a filter: prio << 16 | htons(protocol). */
export function filterInfo(prio: number, protocol: number): number {
  return ((prio & 0xffff) << 16 | htons(protocol)) >>> 0;
}
export function splitFilterInfo(info: number): { prio: number; protocol: number } {
  return { prio: info >>> 16, protocol: ntohs(info & 0xffff) };
}

/** ETH_P_* ⇄ tc's protocol words. */
export function protocolWord(p: number): string {
  switch (p) {
    case 0x0003: return 'all';
    case 0x0800: return 'ip';
    case 0x86dd: return 'ipv6';
    case 0x0806: return 'arp';
    case 0x8100: return '802.1Q';
    default: return `0x${p.toString(16).padStart(4, '0')}`;
  }
}

/** A tc handle as `tc` prints it: `maj:min` in hex, `maj:` when min is 0. */
export function formatTcHandle(h: number): string {
  const maj = h >>> 16, min = h & 0xffff;
  if (h === 0xffffffff) return 'root';
  return min === 0 ? `${maj.toString(16)}:` : `${maj.toString(16)}:${min.toString(16)}`;
}
