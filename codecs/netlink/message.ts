import { decodeError, PktmarkError } from '../errors.js';
import { AttributeReader, AttributeWriter, attr, align4 } from './attributes.js';
import { defineStruct, HOST_LITTLE_ENDIAN } from './struct.js';
import { EBUSY, ENOBUFS, EPERM, ERRNO_NAMES } from '../errno.js';

/** linux/netlink.h */
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
// GET requests
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
// NEW requests
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
// flags of an NLMSG_ERROR ack
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** enum nlmsgerr_attrs */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_MISS_TYPE = 5;

export const NLMSG_HDRLEN = 16;

export interface NlMsgHdr { len: number; type: number; flags: number; seq: number; pid: number }
/** struct nlmsghdr — all host order */
export const nlmsghdr = defineStruct<NlMsgHdr>('nlmsghdr', [
  { name: 'len', type: 'u32' },
  { name: 'type', type: 'u16' },
  { name: 'flags', type: 'u16' },
  { name: 'seq', type: 'u32' },
  { name: 'pid', type: 'u32' },
]);

/**
 * Append one netlink message to `w`: header, then whatever `fill` writes (a fixed family header
 * such as nfgenmsg or tcmsg, then attributes). The length is patched when `fill` returns.
 */
export function writeMessage(w: AttributeWriter, type: number, flags: number, seq: number, fill: (w: AttributeWriter) => void): void {
  const at = beginMessage(w);
  fill(w);
  endMessage(w, at, type, flags, seq);
}

/**
 * writeMessage in two calls, for an encoder that runs once per message of a bulk batch: no
 * closure per message. `const at = beginMessage(w)`, write the body, `endMessage(w, at, …)`.
 */
export const beginMessage = (w: AttributeWriter): number => w.reserve(NLMSG_HDRLEN);
export function endMessage(w: AttributeWriter, at: number, type: number, flags: number, seq: number): void {
  w.patchU32(at, w.length - at);
  w.patchU16(at + 4, type);
  w.patchU16(at + 6, flags);
  w.patchU32(at + 8, seq);
  w.patchU32(at + 12, 0);
}

export interface NetlinkMessage {
  readonly header: Readonly<NlMsgHdr>;
  /** bytes after the 16-byte header */
  readonly payload: Uint8Array;
  /** offset of this message in the buffer it was parsed from */
  readonly offset: number;
}

/** Split a receive buffer (or a captured send buffer) into messages, bounds-checked. */
export function parseMessages(bytes: Uint8Array): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p < bytes.length) {
    if (bytes.length - p < NLMSG_HDRLEN) throw decodeError(`truncated netlink header (${bytes.length - p} bytes)`, p);
    const header = nlmsghdr.read(view, p);
    if (header.len < NLMSG_HDRLEN) throw decodeError(`netlink message length ${header.len} below header size`, p);
    if (p + header.len > bytes.length) throw decodeError(`netlink message length ${header.len} runs past the end (${bytes.length - p} left)`, p);
    out.push({ header, payload: bytes.subarray(p + NLMSG_HDRLEN, p + header.len), offset: p });
    p += align4(header.len);
  }
  return out;
}

export interface NetlinkAck {
  /** 0 for an ACK, a positive errno for an error */
  readonly errno: number;
  /** header of the request the kernel answers */
  readonly request: Readonly<NlMsgHdr>;
  readonly extack?: string;
  /** offset of the offending byte in the request, counted from the start of its nlmsghdr */
  readonly extackOffset?: number;
  readonly missingType?: number;
}

/**
 * Decode an NLMSG_ERROR payload: `int error; struct nlmsghdr msg; [payload unless CAPPED];
 * [ext-ack TLVs if ACK_TLVS]`. Also used for the NLMSG_DONE of a failed dump (an int then TLVs).
 */
export function decodeAck(m: NetlinkMessage): NetlinkAck {
  const p = m.payload;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length < 4) throw decodeError('NLMSG_ERROR shorter than its error code', m.offset + NLMSG_HDRLEN);
  const error = view.getInt32(0, HOST_LITTLE_ENDIAN);
  if (m.header.type === NLMSG_DONE) {
    return { errno: error === 0 ? 0 : -error, request: m.header, ...extackFrom(p.subarray(4), m.offset + NLMSG_HDRLEN + 4) };
  }
  if (p.length < 4 + NLMSG_HDRLEN) throw decodeError('NLMSG_ERROR without the request header', m.offset + NLMSG_HDRLEN);
  const request = nlmsghdr.read(view, 4);
  let tlvAt = 4 + NLMSG_HDRLEN;
  if (!(m.header.flags & NLM_F_CAPPED)) tlvAt = 4 + align4(Math.min(request.len, p.length - 4));
  const ext = (m.header.flags & NLM_F_ACK_TLVS) && tlvAt < p.length
    ? extackFrom(p.subarray(tlvAt), m.offset + NLMSG_HDRLEN + tlvAt)
    : {};
  return { errno: error === 0 ? 0 : -error, request, ...ext };
}

function extackFrom(bytes: Uint8Array, base: number): { extack?: string; extackOffset?: number; missingType?: number } {
  const out: { extack?: string; extackOffset?: number; missingType?: number } = {};
  for (const a of new AttributeReader(bytes, base)) {
    if (a.type === NLMSGERR_ATTR_MSG) out.extack = attr.string(a);
    else if (a.type === NLMSGERR_ATTR_OFFS && a.data.length === 4) out.extackOffset = attr.u32(a);
    else if (a.type === NLMSGERR_ATTR_MISS_TYPE && a.data.length === 4) out.missingType = attr.u32(a);
  }
  return out;
}

/** Turn a kernel error into a PktmarkError with a stable code. */
export function kernelError(op: string, ack: NetlinkAck, messageIndex?: number): PktmarkError {
  const name = ERRNO_NAMES[ack.errno] ?? `errno ${ack.errno}`;
  const code = ack.errno === EPERM ? 'EPERM' : ack.errno === ENOBUFS ? 'ENOBUFS' : ack.errno === EBUSY ? 'BUSY' : 'KERNEL';
  const msg = `${op}: ${name}${ack.extack ? ` (${ack.extack})` : ''}`;
  const details: ConstructorParameters<typeof PktmarkError>[2] = {
    errno: ack.errno,
    ...(ack.extack !== undefined ? { extack: ack.extack } : {}),
    ...(ack.extackOffset !== undefined ? { extackOffset: ack.extackOffset } : {}),
    ...(messageIndex !== undefined ? { messageIndex } : {}),
    ...(ack.errno === EPERM ? { hint: 'needs root or CAP_NET_ADMIN (try --dry-run)' } : {}),
  };
  return new PktmarkError(code, msg, details);
}
