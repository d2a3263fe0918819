/**
 * XDP on a link (IFLA_XDP, linux/if_link.h; net/core/rtnetlink.c do_setlink/rtnl_xdp_fill):
 * attaching, replacing and detaching a device's XDP program, and reading back what is attached.
 * Requests are written as iproute2 6.1's `ip link set dev D xdp… pinned P` writes them
 * (fixtures/tc/xdp-generic.json): RTM_NEWLINK with REQUEST|ACK, a zeroed ifinfomsg naming the
 * device, and IFLA_XDP without NLA_F_NESTED holding FD then FLAGS (then EXPECTED_FD, libbpf's order).
 */
import { attr, nestedReader, type Attribute, type AttributeWriter } from '../netlink/attributes.js';
import { writeMessage, NLM_F_ACK, NLM_F_REQUEST } from '../netlink/message.js';
import { RTM_NEWLINK } from './constants.js';
import { ifinfomsg } from './link.js';

export const IFLA_XDP = 43;
export const IFLA_XDP_FD = 1;
export const IFLA_XDP_ATTACHED = 2;
export const IFLA_XDP_FLAGS = 3;
export const IFLA_XDP_PROG_ID = 4;
export const IFLA_XDP_DRV_PROG_ID = 5;
export const IFLA_XDP_SKB_PROG_ID = 6;
export const IFLA_XDP_HW_PROG_ID = 7;
export const IFLA_XDP_EXPECTED_FD = 8;

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const XDP_FLAGS_REPLACE = 1 << 4;

/** IFLA_XDP_ATTACHED on dump (enum XDP_ATTACHED_*) */
export const XDP_ATTACHED_NONE = 0;
export const XDP_ATTACHED_DRV = 1;
export const XDP_ATTACHED_SKB = 2;
export const XDP_ATTACHED_HW = 3;
export const XDP_ATTACHED_MULTI = 4;

export interface XdpRequest {
  readonly ifindex: number;
  /** the program; -1 detaches */
  readonly fd: number;
  /** XDP_FLAGS_*: one mode, and UPDATE_IF_NOEXIST or REPLACE */
  readonly flags: number;
  /** with XDP_FLAGS_REPLACE: the program expected to be attached now (the kernel refuses with EEXIST otherwise) */
  readonly expectedFd?: number;
}

export function encodeSetXdp(w: AttributeWriter, seq: number, r: XdpRequest): void {
  writeMessage(w, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, () => {
    w.struct(ifinfomsg, { family: 0, type: 0, index: r.ifindex, flags: 0, change: 0 });
    w.nested(IFLA_XDP, () => {
      w.i32(IFLA_XDP_FD, r.fd);
      if (r.flags) w.u32(IFLA_XDP_FLAGS, r.flags);
      if (r.expectedFd !== undefined) w.i32(IFLA_XDP_EXPECTED_FD, r.expectedFd);
    }, false);
  });
}

/** What a link dump says about XDP. With one program, `progId` is it and `attached` its mode. */
export interface XdpState {
  readonly attached: number;
  readonly progId?: number;
  readonly drvProgId?: number;
  readonly skbProgId?: number;
  readonly hwProgId?: number;
}

export function decodeXdp(a: Attribute): XdpState {
  const s: { -readonly [K in keyof XdpState]: XdpState[K] } = { attached: XDP_ATTACHED_NONE };
  for (const x of nestedReader(a)) {
    switch (x.type) {
      case IFLA_XDP_ATTACHED: s.attached = attr.u8(x); break;
      case IFLA_XDP_PROG_ID: s.progId = attr.u32(x); break;
      case IFLA_XDP_DRV_PROG_ID: s.drvProgId = attr.u32(x); break;
      case IFLA_XDP_SKB_PROG_ID: s.skbProgId = attr.u32(x); break;
      case IFLA_XDP_HW_PROG_ID: s.hwProgId = attr.u32(x); break;
      default: break;
    }
  }
  return s;
}
