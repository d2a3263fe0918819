/**
 * IPsec states and policies (include/uapi/linux/xfrm.h) as far as marks go: a GETSA/GETPOLICY
 * dump, and each entry's XFRMA_MARK (the mark/mask it matches) and XFRMA_SET_MARK (+ mask, the
 * mark a state sets on its output, kernel 5.3+). The fixed structs are skipped by size.
 */
import { attr, AttributeReader, type AttributeWriter } from '../netlink/attributes.js';
import { NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';
import { decodeError } from '../errors.js';

export const XFRM_MSG_NEWSA = 0x10;
export const XFRM_MSG_GETSA = 0x12;
export const XFRM_MSG_NEWPOLICY = 0x13;
export const XFRM_MSG_GETPOLICY = 0x15;

export const XFRMA_MARK = 21;
export const XFRMA_SET_MARK = 32;
export const XFRMA_SET_MARK_MASK = 33;

/** sizeof(struct xfrm_usersa_info) and sizeof(struct xfrm_userpolicy_info) on Linux (64-bit lifetimes) */
export const XFRM_USERSA_INFO_SIZE = 224;
export const XFRM_USERPOLICY_INFO_SIZE = 168;
/** xfrm_userpolicy_info: priority, index (u32) and dir (u8) after the selector (56) and lifetimes (64 + 32) */
const POLICY_PRIORITY_AT = 152;
const POLICY_INDEX_AT = 156;
const POLICY_DIR_AT = 160;
/** xfrm_usersa_info: id = daddr (16), spi (be32), proto (u8) after the selector */
const SA_SPI_AT = 56 + 16;
const SA_PROTO_AT = 56 + 20;
const SA_FAMILY_AT = 56 + 24 + 16 + 64 + 32 + 12 + 4 + 4;

/** A dump needs no body: the kernel's xfrm_dump_sa/xfrm_dump_policy read only optional attributes. */
export function encodeXfrmDump(w: AttributeWriter, seq: number, msg: typeof XFRM_MSG_GETSA | typeof XFRM_MSG_GETPOLICY): void {
  writeMessage(w, msg, NLM_F_REQUEST | NLM_F_DUMP, seq, () => undefined);
}

export interface XfrmMarks {
  readonly what: 'state' | 'policy';
  /** state: spi and protocol (50 esp, 51 ah); policy: index, priority and direction (0 in, 1 out, 2 fwd) */
  readonly spi?: number;
  readonly proto?: number;
  readonly family?: number;
  readonly index?: number;
  readonly priority?: number;
  readonly dir?: number;
  /** XFRMA_MARK: packets whose mark & m == v use this entry */
  readonly mark?: { readonly value: number; readonly mask: number };
  /** XFRMA_SET_MARK (+ _MASK, default 0xffffffff): the mark the state sets */
  readonly setMark?: { readonly value: number; readonly mask: number };
}

export function decodeXfrm(m: NetlinkMessage): XfrmMarks | undefined {
  const t = m.header.type;
  const size = t === XFRM_MSG_NEWSA ? XFRM_USERSA_INFO_SIZE : t === XFRM_MSG_NEWPOLICY ? XFRM_USERPOLICY_INFO_SIZE : -1;
  if (size < 0) return undefined;
  const b = m.payload;
  if (b.length < size) throw decodeError(`xfrm message type ${t} shorter than its ${size}-byte struct (${b.length})`, m.offset + NLMSG_HDRLEN);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let mark: XfrmMarks['mark'], setValue: number | undefined, setMask: number | undefined;
  for (const a of new AttributeReader(b.subarray(size), m.offset + NLMSG_HDRLEN + size)) {
    if (a.type === XFRMA_MARK) {
      if (a.data.length < 8) throw decodeError('XFRMA_MARK shorter than struct xfrm_mark', a.offset);
      const d = new DataView(a.data.buffer, a.data.byteOffset, 8);
      mark = { value: d.getUint32(0, HOST_LITTLE_ENDIAN), mask: d.getUint32(4, HOST_LITTLE_ENDIAN) };
    } else if (a.type === XFRMA_SET_MARK) setValue = attr.u32(a);
    else if (a.type === XFRMA_SET_MARK_MASK) setMask = attr.u32(a);
  }
  const marks = {
    ...(mark ? { mark } : {}),
    ...(setValue === undefined ? {} : { setMark: { value: setValue, mask: setMask ?? 0xffffffff } }),
  };
  if (t === XFRM_MSG_NEWSA) {
    return { what: 'state', spi: v.getUint32(SA_SPI_AT, false), proto: b[SA_PROTO_AT]!, family: v.getUint16(SA_FAMILY_AT, HOST_LITTLE_ENDIAN), ...marks };
  }
  return { what: 'policy', priority: v.getUint32(POLICY_PRIORITY_AT, HOST_LITTLE_ENDIAN), index: v.getUint32(POLICY_INDEX_AT, HOST_LITTLE_ENDIAN), dir: b[POLICY_DIR_AT]!, ...marks };
}
