/**
 * WireGuard devices (include/uapi/linux/wireguard.h, generic netlink family "wireguard",
 * version 1). WG_CMD_GET_DEVICE is dump-only and names one device (ifindex or name); the
 * reply's WGDEVICE_A_FWMARK is the mark the device puts on its own encrypted packets (`wg set
 * wg0 fwmark 0xca6c`), which routing rules then match to keep them out of the tunnel.
 */
import { attr, type AttributeWriter } from '../netlink/attributes.js';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, type NetlinkMessage } from '../netlink/message.js';
import { genlBody, writeGenl } from './genl.js';

export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;
export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;
export const WGDEVICE_A_IFINDEX = 1;
export const WGDEVICE_A_IFNAME = 2;
export const WGDEVICE_A_LISTEN_PORT = 6;
export const WGDEVICE_A_FWMARK = 7;

export function encodeWgGetDevice(w: AttributeWriter, seq: number, familyId: number, ifindex: number): void {
  writeGenl(w, familyId, NLM_F_REQUEST | NLM_F_DUMP, seq, WG_CMD_GET_DEVICE, WG_GENL_VERSION, (w) => w.u32(WGDEVICE_A_IFINDEX, ifindex));
}

export interface WgDevice { readonly ifindex?: number; readonly ifname?: string; readonly listenPort?: number; readonly fwmark?: number }

/** One part of a (possibly multi-part, for many peers) device reply; only the first part carries the device attributes. */
export function decodeWgDevice(m: NetlinkMessage): WgDevice {
  const out: { -readonly [K in keyof WgDevice]?: WgDevice[K] } = {};
  for (const a of genlBody(m).attrs) {
    if (a.type === WGDEVICE_A_IFINDEX) out.ifindex = attr.u32(a);
    else if (a.type === WGDEVICE_A_IFNAME) out.ifname = attr.string(a);
    else if (a.type === WGDEVICE_A_LISTEN_PORT) out.listenPort = attr.u16(a);
    else if (a.type === WGDEVICE_A_FWMARK) out.fwmark = attr.u32(a);
  }
  return out;
}

/** `wg set DEV fwmark MARK` (WG_CMD_SET_DEVICE, NLM_F_ACK): only for tests that make a device to scan; pktmark never changes others' devices. */
export function encodeWgSetFwmark(w: AttributeWriter, seq: number, familyId: number, ifindex: number, fwmark: number): void {
  writeGenl(w, familyId, NLM_F_REQUEST | NLM_F_ACK, seq, WG_CMD_SET_DEVICE, WG_GENL_VERSION, (w) => {
    w.u32(WGDEVICE_A_IFINDEX, ifindex);
    w.u32(WGDEVICE_A_FWMARK, fwmark);
  });
}
