import { AttributeReader, AttributeWriter, nestedReader, type Attribute } from '../netlink/attributes.js';
import { AttributeDecoder } from '../netlink/attribute-decoder.js';
import { beginMessage, endMessage, writeMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_HDRLEN, type NetlinkMessage } from '../netlink/message.js';
import { decodeError } from '../errors.js';
import { RTM_DELTFILTER, RTM_GETTFILTER, RTM_NEWTFILTER, TCA_CHAIN, TCA_KIND, TCA_OPTIONS } from './constants.js';
import { classifierKind, decodeClassifier, encodeClassifier, type ClassifierOptions } from './classifiers/index.js';
import { filterInfo, splitFilterInfo, tcmsg, TCMSG_SIZE, writeTcmsg } from './tcmsg.js';
import { writeRaw, type RawAttr } from './raw.js';

/** A filter as RTM_NEWTFILTER carries it (request or dump entry). */
export interface TcFilter {
  readonly ifindex: number;
  /** ffff:fff2 ingress, ffff:fff3 egress, ffff:0 the classic ingress qdisc */
  readonly parent: number;
  readonly prio: number;
  /** ETH_P_* in host order (tcmsg.ts swaps it into tcm_info) */
  readonly protocol: number;
  readonly handle: number;
  readonly chain?: number;
  /** absent in a delete of a whole priority, or when the kernel reports a bare tcf_proto */
  readonly options?: ClassifierOptions;
  /** TCA_KIND when there are no options to name it */
  readonly kind?: string;
  readonly extra?: readonly RawAttr[];
}

export const filterKindOf = (f: TcFilter): string | undefined => (f.options ? classifierKind(f.options) : f.kind);

function writeFilterBody(w: AttributeWriter, f: TcFilter, withOptions: boolean, handle = f.handle): void {
  writeTcmsg(w, f.ifindex, handle, f.parent, filterInfo(f.prio, f.protocol));
  const kind = filterKindOf(f);
  if (f.chain !== undefined) w.u32(TCA_CHAIN, f.chain);
  if (kind !== undefined) w.string(TCA_KIND, kind);
  // rtnetlink: TCA_OPTIONS is a nest WITHOUT NLA_F_NESTED, as iproute2 writes it (addattr_l + tail fixup)
  if (withOptions && f.options) {
    const at = w.beginNested();
    encodeClassifier(f.options, w);
    w.endNested(at, TCA_OPTIONS, false);
  }
  for (const x of f.extra ?? []) writeRaw(w, x);
}

/**
 * RTM_NEWTFILTER with tc's flags for `tc filter add`: REQUEST|ACK|EXCL|CREATE. `echo` adds
 * NLM_F_ECHO so the kernel sends the created filter back (its priority and u32 handle).
 * `replace` gives `tc filter replace`'s REQUEST|ACK|CREATE (fixtures/tc/bpf-da.json): without
 * EXCL, tc_new_tfilter (net/sched/cls_api.c) hands the existing filter of that prio and handle
 * to the classifier's change(), which for cls_bpf swaps the program in one RCU update
 * (cls_bpf_change: list_replace_rcu) — no moment without a filter. (tc sends no NLM_F_REPLACE;
 * the filter path does not look at it.) `ack: false` drops NLM_F_ACK: a refusal is still answered
 * (netlink_rcv_skb acks when NLM_F_ACK is set or the handler failed), a success is not.
 * `handle`, when given, is sent instead of `f.handle` (a bulk add names each filter's u32 node
 * without copying the filter).
 */
export function encodeNewFilter(w: AttributeWriter, seq: number, f: TcFilter, opts: NewFilterOptions = NO_OPTIONS): void {
  const flags = NLM_F_REQUEST | (opts.ack === false ? 0 : NLM_F_ACK) | (opts.replace ? 0 : NLM_F_EXCL) | NLM_F_CREATE | (opts.echo ? NLM_F_ECHO : 0);
  // begin/end rather than writeMessage's closure: a bulk add encodes one message per rule
  const at = beginMessage(w);
  writeFilterBody(w, f, true, opts.handle ?? f.handle);
  endMessage(w, at, RTM_NEWTFILTER, flags, seq);
}
export interface NewFilterOptions { readonly echo?: boolean; readonly replace?: boolean; readonly ack?: boolean; readonly handle?: number }
const NO_OPTIONS: NewFilterOptions = {};

/** `tc filter del`: REQUEST|ACK; handle 0 (and no kind) removes the whole priority. */
export function encodeDelFilter(w: AttributeWriter, seq: number, f: TcFilter): void {
  writeMessage(w, RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK, seq, () => writeFilterBody(w, f, false));
}

/**
 * `tc filter get`: one filter by prio, protocol and handle (REQUEST|ACK; the answer is an
 * RTM_NEWTFILTER, then the ack). For u32, handle fff:: names the priority's root table, whose
 * answer carries its htid (u32_get maps TC_U32_ROOT to tp->root; u32_dump writes ht->handle).
 */
export function encodeGetFilter(w: AttributeWriter, seq: number, f: Omit<TcFilter, 'options'> & { kind: string }): void {
  writeMessage(w, RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_ACK, seq, () => writeFilterBody(w, f, false));
}

/** Dump the filters of one block: `tc filter show dev X ingress`. */
export function encodeGetFilters(w: AttributeWriter, seq: number, q: { ifindex: number; parent: number }): void {
  writeMessage(w, RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, seq, () => {
    w.struct(tcmsg, { family: 0, ifindex: q.ifindex, handle: 0, parent: q.parent, info: 0 });
  });
}

export interface DecodedFilter extends TcFilter {
  readonly type: number;
  readonly flags: number;
  readonly kind?: string;
}

export function decodeFilter(m: NetlinkMessage): DecodedFilter {
  if (m.payload.length < TCMSG_SIZE) throw decodeError(`tc filter message shorter than tcmsg (${m.payload.length} bytes)`, m.offset + NLMSG_HDRLEN);
  const t = tcmsg.decode(m.payload);
  const { prio, protocol } = splitFilterInfo(t.info);
  const d = new AttributeDecoder(new AttributeReader(m.payload.subarray(TCMSG_SIZE), m.offset + NLMSG_HDRLEN + TCMSG_SIZE));
  let kind: string | undefined, chain: number | undefined, optionsAttr: Attribute | undefined;
  for (const type of d) {
    switch (type) {
      case TCA_KIND: kind = d.string(); break;
      case TCA_CHAIN: chain = d.u32(); break;
      // decoded once the kind is known, wherever TCA_KIND sits
      case TCA_OPTIONS: optionsAttr = d.attribute; break;
      default: d.keep();
    }
  }
  d.finish();
  const options = kind !== undefined && optionsAttr ? decodeClassifier(kind, nestedReader(optionsAttr), optionsAttr.data) : undefined;
  const extra = d.extra;
  return {
    type: m.header.type, flags: m.header.flags,
    ifindex: t.ifindex, parent: t.parent, prio, protocol, handle: t.handle,
    ...(chain === undefined ? {} : { chain }),
    ...(kind === undefined ? {} : { kind }),
    ...(options === undefined ? {} : { options }),
    ...(extra.length ? { extra } : {}),
  };
}
