/**
 * sock_diag for inet sockets (include/uapi/linux/inet_diag.h): a SOCK_DIAG_BY_FAMILY dump of
 * every TCP or UDP socket of one family, and each socket's mark. The kernel adds INET_DIAG_MARK
 * (the socket's SO_MARK) only when the requester has CAP_NET_ADMIN (inet_diag_msg_attrs_fill),
 * whatever the `ext` bits say; without it the attribute is simply absent.
 */
import { attr, AttributeReader, type AttributeWriter } from '../netlink/attributes.js';
import { NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { defineStruct, HOST_LITTLE_ENDIAN } from '../netlink/struct.js';
import { decodeError } from '../errors.js';

export const SOCK_DIAG_BY_FAMILY = 20;
export const INET_DIAG_MARK = 15;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** inet_diag_req_v2 head: family, protocol, ext, pad (u8), idiag_states (u32 bitmask of TCP states) */
interface ReqHead { family: number; protocol: number; ext: number; pad: number; states: number }
const reqHead = defineStruct<ReqHead>('inet_diag_req_v2', [
  { name: 'family', type: 'u8' }, { name: 'protocol', type: 'u8' }, { name: 'ext', type: 'u8' }, { name: 'pad', type: 'u8' },
  { name: 'states', type: 'u32', order: 'host' },
]);
/** struct inet_diag_sockid: sport, dport (be16), src[4], dst[4] (be32), if (u32), cookie[2] */
const SOCKID_SIZE = 48;

/** Every socket of `protocol` in `family`, in every state (states = all bits). */
export function encodeInetDiagDump(w: AttributeWriter, seq: number, family: number, protocol: number): void {
  writeMessage(w, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, () => {
    w.struct(reqHead, { family, protocol, ext: 0, pad: 0, states: 0xffffffff });
    w.reserve(SOCKID_SIZE);
  });
}

/** struct inet_diag_msg head: family, state, timer, retrans (u8) then the sockid, then expires, rqueue, wqueue, uid, inode (u32) */
const MSG_SIZE = 4 + SOCKID_SIZE + 20;

export interface InetDiagSocket {
  readonly family: number;
  readonly state: number;
  readonly sport: number;
  readonly dport: number;
  /** the addresses as 16 bytes (the first 4 for AF_INET) */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly uid: number;
  readonly inode: number;
  /** SO_MARK, when the kernel reported it (CAP_NET_ADMIN) */
  readonly mark?: number;
}

export function decodeInetDiag(m: NetlinkMessage): InetDiagSocket {
  const b = m.payload;
  if (b.length < MSG_SIZE) throw decodeError(`inet_diag_msg shorter than ${MSG_SIZE} bytes (${b.length})`, m.offset + NLMSG_HDRLEN);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const after = 4 + SOCKID_SIZE;
  let mark: number | undefined;
  for (const a of new AttributeReader(b.subarray(MSG_SIZE), m.offset + NLMSG_HDRLEN + MSG_SIZE)) {
    if (a.type === INET_DIAG_MARK) mark = attr.u32(a);
  }
  return {
    family: b[0]!, state: b[1]!, sport: v.getUint16(4, false), dport: v.getUint16(6, false),
    src: b.slice(8, 24), dst: b.slice(24, 40),
    uid: v.getUint32(after + 12, HOST_LITTLE_ENDIAN),
    inode: v.getUint32(after + 16, HOST_LITTLE_ENDIAN),
    ...(mark === undefined ? {} : { mark }),
  };
}
