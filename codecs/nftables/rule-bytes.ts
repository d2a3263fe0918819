/**
 * A rule's bytes as the kernel dumps them, for comparing a dumped rule with one we would send
 * without decoding either into expression objects (apply's read of an unchanged 10,000-rule
 * table decodes nothing it already knows: src/apply/known-rules.ts). Offsets, not subarrays:
 * a typed-array view costs more than reading the bytes it would cover.
 *
 * Three differences separate what we send from what a dump returns, and are dealt with here:
 *   - nf_tables' dump code nests with nla_nest_start_noflag(): no NLA_F_NESTED on any nest,
 *     where our writer (like libmnl's mnl_attr_nest_start) sets it on every nest;
 *   - the counter expression: we send it empty (or with carried values), a dump carries the live
 *     bytes and packets. Its element is found so that a comparison can leave it out;
 *   - a dump gives every rule but a chain's first NFTA_RULE_POSITION (the handle before it).
 * Everything else of the expression list is byte-for-byte what the kernel stored.
 */
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, align4 } from '../netlink/attributes.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';

import {
  NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS, NFTA_RULE_HANDLE, NFTA_RULE_POSITION, NFTA_RULE_TABLE, NFTA_RULE_USERDATA,
} from './messages.js';

/** linux/netfilter/nf_tables.h */
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;
/** nfgenmsg before a message's attributes */
const NFGENMSG_LEN = 4;

// "counter\0", the NFTA_EXPR_NAME payload of a counter element
const COUNTER_NAME = [0x63, 0x6f, 0x75, 0x6e, 0x74, 0x65, 0x72, 0x00];

/** The top-level parts of one NEWRULE payload, as [from, to) offsets into the buffer it is in. */
export interface RuleParts {
  tableFrom: number; tableTo: number;
  chainFrom: number; chainTo: number;
  exprsFrom: number; exprsTo: number;
  /** from = to when the rule has no userdata */
  udFrom: number; udTo: number;
  handle: bigint | undefined;
}

export const newRuleParts = (): RuleParts => ({ tableFrom: 0, tableTo: 0, chainFrom: 0, chainTo: 0, exprsFrom: 0, exprsTo: 0, udFrom: 0, udTo: 0, handle: undefined });

/**
 * Fill `out` with the parts of the NEWRULE payload at [from, to) of `b` (offsets in `out` are of
 * `b` too); false when it holds an attribute this shortcut does not know (an id,
 * NFTA_RULE_COMPAT…) or is malformed: the caller then decodes the message in full, which
 * reports malformed bytes properly. Table and chain exclude their NUL.
 */
export function ruleParts(b: Uint8Array, view: DataView, from: number, to: number, out: RuleParts): boolean {
  let seen = 0;
  out.udFrom = out.udTo = 0;
  out.handle = undefined;
  for (let p = from + NFGENMSG_LEN; p < to;) {
    if (to - p < NLA_HDRLEN) return false;
    const len = view.getUint16(p, HOST_LITTLE_ENDIAN);
    if (len < NLA_HDRLEN || p + len > to) return false;
    const at = p + NLA_HDRLEN, end = p + len;
    switch (view.getUint16(p + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK) {
      case NFTA_RULE_TABLE: out.tableFrom = at; out.tableTo = b[end - 1] === 0 ? end - 1 : end; seen |= 1; break;
      case NFTA_RULE_CHAIN: out.chainFrom = at; out.chainTo = b[end - 1] === 0 ? end - 1 : end; seen |= 2; break;
      case NFTA_RULE_HANDLE: if (len !== NLA_HDRLEN + 8) return false; out.handle = view.getBigUint64(at, false); break;
      case NFTA_RULE_EXPRESSIONS: out.exprsFrom = at; out.exprsTo = end; seen |= 4; break;
      case NFTA_RULE_USERDATA: out.udFrom = at; out.udTo = end; break;
      case NFTA_RULE_POSITION: break;
      default: return false;
    }
    p += align4(len);
  }
  return seen === 7;
}

/** Clear NLA_F_NESTED on every nest of the attribute run [from, to), at every depth, in place: a request as the kernel would dump it. */
export function clearNestedFlags(view: DataView, from: number, to: number): boolean {
  for (let p = from; p < to;) {
    if (to - p < NLA_HDRLEN) return false;
    const len = view.getUint16(p, HOST_LITTLE_ENDIAN);
    if (len < NLA_HDRLEN || p + len > to) return false;
    const type = view.getUint16(p + 2, HOST_LITTLE_ENDIAN);
    if (type & NLA_F_NESTED) {
      view.setUint16(p + 2, type & ~NLA_F_NESTED, HOST_LITTLE_ENDIAN);
      if (!clearNestedFlags(view, p + NLA_HDRLEN, p + len)) return false;
    }
    p += align4(len);
  }
  return true;
}

/** Where an expression list's first counter element is, with its values (0 when it has none). */
export interface CounterSpan {
  /** the element is [from, to) (to includes its padding); from = to = the list's end when absent */
  from: number;
  to: number;
  packets: bigint;
  bytes: bigint;
}

export const newCounterSpan = (): CounterSpan => ({ from: 0, to: 0, packets: 0n, bytes: 0n });

/** Find the first counter element of the expression list [from, to) of `b`; false when malformed. */
export function findCounter(b: Uint8Array, view: DataView, from: number, to: number, out: CounterSpan): boolean {
  for (let p = from; p < to;) {
    if (to - p < NLA_HDRLEN) return false;
    const len = view.getUint16(p, HOST_LITTLE_ENDIAN);
    if (len < NLA_HDRLEN || p + len > to) return false;
    const next = Math.min(p + align4(len), to);
    if (isCounter(b, view, p + NLA_HDRLEN, p + len)) {
      out.from = p;
      out.to = next;
      return counterValues(view, p + NLA_HDRLEN, p + len, out);
    }
    p = next;
  }
  out.from = out.to = to;
  out.packets = out.bytes = 0n;
  return true;
}

/** Does the element at [from, to) begin with NFTA_EXPR_NAME "counter"? (the name is always first: nf_tables_fill_expr_info) */
function isCounter(b: Uint8Array, view: DataView, from: number, to: number): boolean {
  if (to - from < NLA_HDRLEN + COUNTER_NAME.length) return false;
  if (view.getUint16(from, HOST_LITTLE_ENDIAN) !== NLA_HDRLEN + COUNTER_NAME.length) return false;
  if ((view.getUint16(from + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK) !== NFTA_EXPR_NAME) return false;
  for (let i = 0; i < COUNTER_NAME.length; i++) if (b[from + NLA_HDRLEN + i] !== COUNTER_NAME[i]) return false;
  return true;
}

function counterValues(view: DataView, from: number, to: number, out: CounterSpan): boolean {
  out.packets = out.bytes = 0n;
  for (let p = from; p < to;) {
    const len = view.getUint16(p, HOST_LITTLE_ENDIAN);
    if (len < NLA_HDRLEN || p + len > to) return false;
    if ((view.getUint16(p + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK) === NFTA_EXPR_DATA) {
      for (let q = p + NLA_HDRLEN; q < p + len;) {
        const l = view.getUint16(q, HOST_LITTLE_ENDIAN);
        if (l < NLA_HDRLEN || q + l > p + len) return false;
        const t = view.getUint16(q + 2, HOST_LITTLE_ENDIAN) & NLA_TYPE_MASK;
        if (t === NFTA_COUNTER_BYTES || t === NFTA_COUNTER_PACKETS) {
          if (l !== NLA_HDRLEN + 8) return false;
          const v = view.getBigUint64(q + NLA_HDRLEN, false);
          if (t === NFTA_COUNTER_BYTES) out.bytes = v; else out.packets = v;
        }
        q += align4(l);
      }
    }
    p += align4(len);
  }
  return true;
}
