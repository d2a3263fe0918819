import { decodeError, PktmarkError } from '../errors.js';

/**
 * libnftnl's userdata: a run of TLVs with a one-byte type and a one-byte length (no padding),
 * kept by the kernel as an opaque blob (NFTA_RULE_USERDATA, NFTA_TABLE_USERDATA). nft stores
 * comments as type 0 (NFTNL_UDATA_RULE_COMMENT / NFTNL_UDATA_TABLE_COMMENT), NUL included.
 */
export const NFTNL_UDATA_COMMENT = 0;

export interface Tlv { readonly type: number; readonly value: Uint8Array }

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeUserdata(tlvs: readonly Tlv[]): Uint8Array {
  const out = new Uint8Array(tlvs.reduce((n, t) => n + 2 + t.value.length, 0));
  let p = 0;
  for (const t of tlvs) {
    // libnftnl's TLV length is one byte
    if (t.value.length > 0xff) throw new PktmarkError('ENCODE', `userdata TLV ${t.type} longer than 255 bytes`, { field: 'userdata' });
    out[p] = t.type; out[p + 1] = t.value.length; out.set(t.value, p + 2); p += 2 + t.value.length;
  }
  return out;
}

/** A comment TLV value: UTF-8 and the NUL nft puts after it; at most 254 bytes fit the u8 length. */
export function commentTlv(comment: string): Tlv {
  const b = enc.encode(comment);
  const v = new Uint8Array(b.length + 1);
  v.set(b);
  return { type: NFTNL_UDATA_COMMENT, value: v };
}

/** `base` is the offset of the blob in the outer buffer, for error messages. */
export function decodeUserdata(b: Uint8Array, base = 0): Tlv[] {
  const out: Tlv[] = [];
  for (let p = 0; p < b.length;) {
    if (b.length - p < 2) throw decodeError('truncated userdata TLV', base + p);
    const len = b[p + 1];
    if (p + 2 + len > b.length) throw decodeError(`userdata TLV length ${len} runs past the end`, base + p);
    out.push({ type: b[p], value: b.slice(p + 2, p + 2 + len) });
    p += 2 + len;
  }
  return out;
}

/** The comment if the blob is exactly one comment TLV, else undefined (then keep the blob raw). */
export function onlyComment(tlvs: readonly Tlv[]): string | undefined {
  if (tlvs.length !== 1 || tlvs[0].type !== NFTNL_UDATA_COMMENT) return undefined;
  const v = tlvs[0].value;
  const z = v.indexOf(0);
  if (z !== v.length - 1) return undefined;
  return dec.decode(v.subarray(0, z));
}

/**
 * pktmark's own rule TLVs, after the comment TLV in the same blob. nft's rule userdata parser
 * (src/netlink.c parse_rule_udata_cb) skips types it does not know, so `nft list` still shows
 * the comment; libnftnl defines types 0 (comment) and 1 (ebtables policy) only. The values
 * 0x70/0x71 ('p', 'q') are far from both so a future libnftnl type is unlikely to collide.
 *   PKTMARK_UDATA_APPLY (0x70): one byte, version 1 — "apply made this rule and manages it"
 *   PKTMARK_UDATA_NAME  (0x71): the rule's name from the desired-state file, UTF-8 and a NUL
 */
export const PKTMARK_UDATA_APPLY = 0x70;
export const PKTMARK_UDATA_NAME = 0x71;
export const PKTMARK_APPLY_VERSION = 1;

export interface RuleUserdata {
  readonly comment?: string;
  /** made by apply */
  readonly apply?: boolean;
  readonly name?: string;
}

function nulString(v: Uint8Array): string | undefined {
  const z = v.indexOf(0);
  return z === v.length - 1 ? dec.decode(v.subarray(0, z)) : undefined;
}

export function encodeRuleUserdata(u: RuleUserdata): Uint8Array | undefined {
  const tlvs: Tlv[] = [];
  if (u.comment !== undefined) tlvs.push(commentTlv(u.comment));
  if (u.apply) tlvs.push({ type: PKTMARK_UDATA_APPLY, value: Uint8Array.of(PKTMARK_APPLY_VERSION) });
  if (u.name !== undefined) tlvs.push({ type: PKTMARK_UDATA_NAME, value: commentTlv(u.name).value });
  return tlvs.length ? encodeUserdata(tlvs) : undefined;
}

/** The comment, apply tag and name in a rule's userdata; other TLVs are ignored. Never throws: a foreign blob gives {}. */
export function decodeRuleUserdata(b: Uint8Array | undefined): RuleUserdata {
  if (b === undefined) return {};
  let tlvs: Tlv[];
  try { tlvs = decodeUserdata(b, 0); } catch { return {}; }
  const out: { comment?: string; apply?: boolean; name?: string } = {};
  for (const t of tlvs) {
    if (t.type === NFTNL_UDATA_COMMENT) { const c = nulString(t.value); if (c !== undefined) out.comment = c; }
    else if (t.type === PKTMARK_UDATA_APPLY && t.value.length >= 1) out.apply = true;
    else if (t.type === PKTMARK_UDATA_NAME) { const n = nulString(t.value); if (n !== undefined) out.name = n; }
  }
  return out;
}
