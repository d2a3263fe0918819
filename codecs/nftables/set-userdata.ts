/**
 * Set and element userdata: libnftnl keeps both as one-byte type / one-byte length TLVs
 * (libnftnl/udata.h); the kernel stores the blob untouched and nft reads it back to print the
 * set. Split from set.ts (the wire of sets and elements), which re-exports all of it.
 */
import { decodeError } from '../errors.js';
import { decodeUserdata as decodeUdata, encodeUserdata as encodeUdata, type Tlv as UdataTlv } from './userdata.js';

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

/** enum udata_set_type (libnftnl) */
export const NFTNL_UDATA_SET_KEYBYTEORDER = 0;
export const NFTNL_UDATA_SET_DATABYTEORDER = 1;
export const NFTNL_UDATA_SET_MERGE_ELEMENTS = 2;
export const NFTNL_UDATA_SET_KEY_TYPEOF = 3;
export const NFTNL_UDATA_SET_DATA_TYPEOF = 4;
export const NFTNL_UDATA_SET_COMMENT = 7;
/** enum udata_set_elem_type / nftnl_udata_set_elem_flags */
export const NFTNL_UDATA_SET_ELEM_COMMENT = 0;
export const NFTNL_UDATA_SET_ELEM_FLAGS = 1;
export const NFTNL_SET_ELEM_F_INTERVAL_OPEN = 0x1;

/** nft's enum byteorder, as written in NFTNL_UDATA_SET_KEYBYTEORDER (a host-order u32) */
export const NFT_BYTEORDER_HOST = 1;
export const NFT_BYTEORDER_BIG_ENDIAN = 2;

// Set and element userdata are the same one-byte TLVs as a rule's (userdata.ts), under set names.
export { decodeUdata, encodeUdata, type UdataTlv };

/** A u32 TLV value: libnftnl's nftnl_udata_put_u32 writes host order (little-endian here). */
export function udataU32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** nft's `typeof` record for a payload field (NFTNL_UDATA_SET_KEY_TYPEOF), e.g. tcp dport. */
export interface TypeofPayload {
  /** nft's proto_desc id: tcp 8, udp 6 (nftables include/proto.h, enum proto_desc_id) */
  readonly desc: number;
  /** the header field id in that protocol: tcp/udp sport 1, dport 2 */
  readonly field: number;
}
/** nft's expression type for payload (enum expr_types EXPR_PAYLOAD), in the typeof record */
const NFT_EXPR_PAYLOAD = 7;

export interface SetUserdata {
  /** NFT_BYTEORDER_BIG_ENDIAN for addresses and ports */
  readonly keyByteorder?: number;
  /** nft sets it on anonymous interval sets (it merged adjacent elements itself) */
  readonly mergeElements?: boolean;
  readonly keyTypeof?: TypeofPayload;
}

/**
 * The userdata blob nft writes on NEWSET, in its order (set-hash-v4: key byte order only;
 * set-anon-port-intervals: byte order, merge-elements, typeof { expr type, { desc, field } }).
 */
export function encodeSetUserdata(u: SetUserdata): Uint8Array {
  const tlvs: UdataTlv[] = [];
  if (u.keyByteorder !== undefined) tlvs.push({ type: NFTNL_UDATA_SET_KEYBYTEORDER, value: udataU32(u.keyByteorder) });
  if (u.mergeElements) tlvs.push({ type: NFTNL_UDATA_SET_MERGE_ELEMENTS, value: udataU32(1) });
  if (u.keyTypeof !== undefined) {
    const inner = encodeUdata([
      { type: 0, value: udataU32(u.keyTypeof.desc) },
      { type: 1, value: udataU32(u.keyTypeof.field) },
    ]);
    tlvs.push({
      type: NFTNL_UDATA_SET_KEY_TYPEOF,
      value: encodeUdata([{ type: 0, value: udataU32(NFT_EXPR_PAYLOAD) }, { type: 1, value: inner }]),
    });
  }
  return encodeUdata(tlvs);
}

const u32le = (v: Uint8Array, what: string, base: number): number => {
  if (v.length !== 4) throw decodeError(`${what}: u32 TLV has ${v.length} bytes`, base);
  return new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
};

/** The fields of SetUserdata, or undefined when the blob holds anything else (then keep it raw). */
export function decodeSetUserdata(b: Uint8Array, base = 0): SetUserdata | undefined {
  const u: Mutable<SetUserdata> = {};
  for (const t of decodeUdata(b, base)) {
    if (t.type === NFTNL_UDATA_SET_KEYBYTEORDER) u.keyByteorder = u32le(t.value, 'key byte order', base);
    else if (t.type === NFTNL_UDATA_SET_MERGE_ELEMENTS && u32le(t.value, 'merge elements', base) === 1) u.mergeElements = true;
    else if (t.type === NFTNL_UDATA_SET_KEY_TYPEOF) {
      const outer = decodeUdata(t.value, base);
      if (outer.length !== 2 || outer[0].type !== 0 || u32le(outer[0].value, 'typeof', base) !== NFT_EXPR_PAYLOAD || outer[1].type !== 1) return undefined;
      const inner = decodeUdata(outer[1].value, base);
      if (inner.length !== 2 || inner[0].type !== 0 || inner[1].type !== 1) return undefined;
      u.keyTypeof = { desc: u32le(inner[0].value, 'typeof desc', base), field: u32le(inner[1].value, 'typeof field', base) };
    } else return undefined;
  }
  return u;
}

/** Element userdata nft writes on the start of an interval that runs to the top of the key space. */
export const INTERVAL_OPEN_USERDATA: Uint8Array = encodeUdata([{ type: NFTNL_UDATA_SET_ELEM_FLAGS, value: udataU32(NFTNL_SET_ELEM_F_INTERVAL_OPEN) }]);
