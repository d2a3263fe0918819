/**
 * Generic netlink (include/uapi/linux/genetlink.h): the genlmsghdr every message starts with, and
 * the controller's CTRL_CMD_GETFAMILY, which turns a family name ("IPVS", "wireguard") into the
 * message type its requests use. A family whose module is not loaded answers ENOENT.
 */
import { attr, AttributeReader, type AttributeWriter } from '../netlink/attributes.js';
import { NLM_F_ACK, NLM_F_REQUEST, NLMSG_HDRLEN, writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { defineStruct } from '../netlink/struct.js';
import { decodeError } from '../errors.js';

export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;

export interface GenlMsgHdr { cmd: number; version: number; reserved: number }
export const genlmsghdr = defineStruct<GenlMsgHdr>('genlmsghdr', [
  { name: 'cmd', type: 'u8' }, { name: 'version', type: 'u8' }, { name: 'reserved', type: 'u16', order: 'host' },
]);

/** One generic netlink request: header, then `fill`'s attributes. */
export function writeGenl(w: AttributeWriter, type: number, flags: number, seq: number, cmd: number, version: number, fill: (w: AttributeWriter) => void = () => undefined): void {
  writeMessage(w, type, flags, seq, () => {
    w.struct(genlmsghdr, { cmd, version, reserved: 0 });
    fill(w);
  });
}

export function encodeGetFamily(w: AttributeWriter, seq: number, name: string): void {
  writeGenl(w, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, 1, (w) => w.string(CTRL_ATTR_FAMILY_NAME, name));
}

/** A genl message's command and a reader over its attributes. */
export function genlBody(m: NetlinkMessage): { cmd: number; attrs: AttributeReader } {
  if (m.payload.length < genlmsghdr.size) throw decodeError('generic netlink message without genlmsghdr', m.offset + NLMSG_HDRLEN);
  const h = genlmsghdr.decode(m.payload);
  return { cmd: h.cmd, attrs: new AttributeReader(m.payload.subarray(genlmsghdr.size), m.offset + NLMSG_HDRLEN + genlmsghdr.size) };
}

/** The family id from CTRL_CMD_NEWFAMILY (the answer to GETFAMILY). */
export function decodeFamilyId(m: NetlinkMessage): number {
  for (const a of genlBody(m).attrs) if (a.type === CTRL_ATTR_FAMILY_ID) return attr.u16(a);
  throw decodeError('family reply without CTRL_ATTR_FAMILY_ID', m.offset);
}
