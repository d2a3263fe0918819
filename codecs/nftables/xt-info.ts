/**
 * iptables-nft's compat expressions (`match` / `target`, net/netfilter/nft_compat.c) and the
 * xtables info structs pktmark reads out of them: what a MARK, CONNMARK, TPROXY, HMARK, mark,
 * connmark or socket extension does to mark bits. Decode only: pktmark never writes xt payloads
 * here. The info structs are the kernel's own (include/uapi/linux/netfilter/xt_*.h), host order.
 */
import { attr, AttributeReader } from '../netlink/attributes.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';
import { decodeError } from '../errors.js';

/** enum nft_match_attributes / nft_target_attributes: same numbers for both */
const NFTA_XT_NAME = 1;
const NFTA_XT_REV = 2;
const NFTA_XT_INFO = 3;

export interface XtExpr {
  readonly name: string;
  readonly rev: number;
  readonly info: Uint8Array;
}

/** The NFTA_EXPR_DATA payload of a `match` or `target` expression. */
export function decodeXtExpr(data: Uint8Array, base = 0): XtExpr {
  let name: string | undefined;
  let rev = 0;
  let info = new Uint8Array(0);
  for (const a of new AttributeReader(data, base)) {
    if (a.type === NFTA_XT_NAME) name = attr.string(a);
    else if (a.type === NFTA_XT_REV) rev = attr.u32(a, 'be');
    else if (a.type === NFTA_XT_INFO) info = a.data.slice();
  }
  if (name === undefined) throw decodeError('xt expression without a name', base);
  return { name, rev, info };
}

/** What one xt extension does to mark bits, in the kernel's terms. */
export type XtMarkUse =
  /** MARK: mark = (mark & ~mask) ^ value (xt_mark_tginfo2, --set-xmark; --set-mark V/M is value ⊆ mask) */
  | { readonly kind: 'mark-target'; readonly mark: number; readonly mask: number }
  /** CONNMARK (xt_connmark_tginfo1/2): set ct mark, save mark → ct mark, restore ct mark → mark */
  | { readonly kind: 'connmark-target'; readonly mode: 'set' | 'save' | 'restore'; readonly ctmark: number; readonly ctmask: number; readonly nfmask: number }
  /** `-m mark --mark V/M` / `-m connmark --mark V/M` (xt_mark_mtinfo1 / xt_connmark_mtinfo1) */
  | { readonly kind: 'mark-match' | 'connmark-match'; readonly mark: number; readonly mask: number; readonly invert: boolean }
  /** TPROXY --tproxy-mark V/M (xt_tproxy_target_info{,_v1}: mark_mask, mark_value first) */
  | { readonly kind: 'tproxy'; readonly mark: number; readonly mask: number }
  /** HMARK: mark = hash % modulus + offset, the whole mark (xt_hmark_info) */
  | { readonly kind: 'hmark'; readonly modulus: number; readonly offset: number }
  /** `-m socket --restore-skmark` (xt_socket_mtinfo3 flags): mark = the socket's sk_mark */
  | { readonly kind: 'socket-restore' };

const u32At = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, HOST_LITTLE_ENDIAN);

/** xt_connmark.h: enum { XT_CONNMARK_SET = 0, XT_CONNMARK_SAVE, XT_CONNMARK_RESTORE } */
const CONNMARK_MODES = ['set', 'save', 'restore'] as const;
/** xt_socket.h: XT_SOCKET_RESTORESKMARK */
const XT_SOCKET_RESTORESKMARK = 1 << 2;
/** xt_hmark.h: two nf_inet_addr masks (32), ports union (4), port_set (4), flags (4), proto_mask (2 + 2 pad), hashrnd (4) */
const HMARK_MODULUS_AT = 52;

/**
 * The mark use of a decoded xt expression, or undefined for extensions that do not touch marks
 * (or a revision whose layout this does not know). `what` is 'match' or 'target'.
 */
export function xtMarkUse(what: 'match' | 'target', x: XtExpr): XtMarkUse | undefined {
  const b = x.info;
  const has = (n: number): boolean => b.length >= n;
  if (what === 'target') {
    // MARK rev 2 (tginfo2: mark, mask); revs 0/1 carry an unsigned long and are legacy-only
    if (x.name === 'MARK' && x.rev === 2 && has(8)) return { kind: 'mark-target', mark: u32At(b, 0), mask: u32At(b, 4) };
    if (x.name === 'CONNMARK' && (x.rev === 1 || x.rev === 2) && has(13)) {
      // tginfo1: ctmark, ctmask, nfmask, u8 mode; tginfo2 adds u8 shift_dir, shift_bits before mode
      const mode = CONNMARK_MODES[b[x.rev === 1 ? 12 : 14] ?? 0xff];
      if (!mode || (x.rev === 2 && !has(15))) return undefined;
      return { kind: 'connmark-target', mode, ctmark: u32At(b, 0), ctmask: u32At(b, 4), nfmask: u32At(b, 8) };
    }
    if (x.name === 'TPROXY' && has(8)) return { kind: 'tproxy', mask: u32At(b, 0), mark: u32At(b, 4) };
    if (x.name === 'HMARK' && has(HMARK_MODULUS_AT + 8)) return { kind: 'hmark', modulus: u32At(b, HMARK_MODULUS_AT), offset: u32At(b, HMARK_MODULUS_AT + 4) };
    return undefined;
  }
  if ((x.name === 'mark' || x.name === 'connmark') && x.rev === 1 && has(9)) {
    return { kind: x.name === 'mark' ? 'mark-match' : 'connmark-match', mark: u32At(b, 0), mask: u32At(b, 4), invert: b[8] !== 0 };
  }
  if (x.name === 'socket' && x.rev >= 3 && has(1) && (b[0]! & XT_SOCKET_RESTORESKMARK)) return { kind: 'socket-restore' };
  return undefined;
}
