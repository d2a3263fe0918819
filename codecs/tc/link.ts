import { AttributeReader, AttributeWriter, attr, nestedReader } from '../netlink/attributes.js';
import { decodeXdp, IFLA_XDP, type XdpState } from './xdp.js';
import { defineStruct } from '../netlink/struct.js';
import { writeMessage, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, type NetlinkMessage } from '../netlink/message.js';
import { decodeError } from '../errors.js';
import { RTM_GETLINK } from './constants.js';

/** struct ifinfomsg (linux/rtnetlink.h), 16 bytes, host order. */
export interface IfInfoMsg { family: number; type: number; index: number; flags: number; change: number }
export const ifinfomsg = defineStruct<IfInfoMsg>('ifinfomsg', [
  { name: 'family', type: 'u8' },
  { name: 'pad', type: 'pad', size: 1 },
  { name: 'type', type: 'u16' },
  { name: 'index', type: 'i32' },
  { name: 'flags', type: 'u32' },
  { name: 'change', type: 'u32' },
]);

export const IFLA_IFNAME = 3;
export const IFLA_LINKINFO = 18;
/** inside IFLA_LINKINFO: the driver kind of a virtual device ("veth", "dummy"); absent for hardware */
export const IFLA_INFO_KIND = 1;
export const IFLA_EXT_MASK = 29;
/** RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS — what iproute2 asks for (no per-VF info, no stats) */
export const RTEXT_FILTER_VF = 1;
export const RTEXT_FILTER_SKIP_STATS = 8;

/**
 * RTM_GETLINK for one device by name, as iproute2's ll_link_get sends it: a zeroed ifinfomsg,
 * IFLA_EXT_MASK, IFLA_IFNAME. iproute2 sends it with NLM_F_REQUEST only and reads the
 * RTM_NEWLINK answer; pktmark adds NLM_F_ACK so the transport can stop at the ack.
 */
export function encodeGetLinkByName(w: AttributeWriter, seq: number, name: string): void {
  writeMessage(w, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, () => {
    w.struct(ifinfomsg, { family: 0, type: 0, index: 0, flags: 0, change: 0 });
    w.u32(IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
    w.string(IFLA_IFNAME, name);
  });
}

/** Dump all links (names for ifindexes in `list`), as tc's ll_init_map does (ext mask RTEXT_FILTER_VF only). */
export function encodeGetLinks(w: AttributeWriter, seq: number): void {
  writeMessage(w, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, () => {
    w.struct(ifinfomsg, { family: 0, type: 0, index: 0, flags: 0, change: 0 });
    w.u32(IFLA_EXT_MASK, RTEXT_FILTER_VF);
  });
}

export interface Link {
  readonly index: number;
  readonly name: string;
  /** ARPHRD_* (linux/if_arp.h): 1 Ethernet, 772 loopback, 65534 none (tun, wireguard) */
  readonly type: number;
  /** IFLA_INFO_KIND of a virtual device */
  readonly kind?: string;
  /** IFLA_XDP as the kernel reports it */
  readonly xdp?: XdpState;
}

export function decodeLink(m: NetlinkMessage): Link {
  if (m.payload.length < ifinfomsg.size) throw decodeError(`link message shorter than ifinfomsg (${m.payload.length} bytes)`, m.offset + NLMSG_HDRLEN);
  const h = ifinfomsg.decode(m.payload);
  let name = '', kind: string | undefined, xdp: XdpState | undefined;
  for (const a of new AttributeReader(m.payload.subarray(ifinfomsg.size), m.offset + NLMSG_HDRLEN + ifinfomsg.size)) {
    if (a.type === IFLA_IFNAME) name = attr.string(a);
    else if (a.type === IFLA_XDP) xdp = decodeXdp(a);
    else if (a.type === IFLA_LINKINFO) {
      for (const i of nestedReader(a)) if (i.type === IFLA_INFO_KIND) kind = attr.string(i);
    }
  }
  return { index: h.index, name, type: h.type, ...(kind === undefined ? {} : { kind }), ...(xdp === undefined ? {} : { xdp }) };
}
