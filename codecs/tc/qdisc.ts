import { AttributeReader, AttributeWriter, attr } from '../netlink/attributes.js';
import { writeMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_HDRLEN, type NetlinkMessage } from '../netlink/message.js';
import { decodeError } from '../errors.js';
import { INGRESS_QDISC_HANDLE, RTM_DELQDISC, RTM_GETQDISC, RTM_NEWQDISC, TC_H_INGRESS, TCA_KIND } from './constants.js';
import { tcmsg, TCMSG_SIZE } from './tcmsg.js';

export type IngressKind = 'ingress' | 'clsact';

export interface TcQdisc {
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  readonly kind: string;
}

/**
 * `tc qdisc add dev X clsact|ingress`: handle ffff:0 at parent ffff:fff1, flags
 * REQUEST|ACK|EXCL|CREATE — EXCL makes an existing one an EEXIST instead of a silent reuse, which
 * is how pktmark knows whether it created the qdisc.
 */
export function encodeNewIngressQdisc(w: AttributeWriter, seq: number, ifindex: number, kind: IngressKind): void {
  writeMessage(w, RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, seq, () => {
    w.struct(tcmsg, { family: 0, ifindex, handle: INGRESS_QDISC_HANDLE, parent: TC_H_INGRESS, info: 0 });
    w.string(TCA_KIND, kind);
  });
}

/** `tc qdisc del dev X clsact` (REQUEST|ACK, same tcmsg as add). */
export function encodeDelIngressQdisc(w: AttributeWriter, seq: number, ifindex: number, kind: IngressKind): void {
  writeMessage(w, RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, seq, () => {
    w.struct(tcmsg, { family: 0, ifindex, handle: INGRESS_QDISC_HANDLE, parent: TC_H_INGRESS, info: 0 });
    w.string(TCA_KIND, kind);
  });
}

/** Dump every qdisc (all devices; the kernel ignores tcm_ifindex in a qdisc dump). */
export function encodeGetQdiscs(w: AttributeWriter, seq: number): void {
  writeMessage(w, RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, seq, () => {
    w.struct(tcmsg, { family: 0, ifindex: 0, handle: 0, parent: 0, info: 0 });
  });
}

export function decodeQdisc(m: NetlinkMessage): TcQdisc {
  if (m.payload.length < TCMSG_SIZE) throw decodeError(`qdisc message shorter than tcmsg (${m.payload.length} bytes)`, m.offset + NLMSG_HDRLEN);
  const t = tcmsg.decode(m.payload);
  let kind = '';
  for (const a of new AttributeReader(m.payload.subarray(TCMSG_SIZE), m.offset + NLMSG_HDRLEN + TCMSG_SIZE)) {
    if (a.type === TCA_KIND) kind = attr.string(a);
  }
  return { ifindex: t.ifindex, handle: t.handle, parent: t.parent, kind };
}
