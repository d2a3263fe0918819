/**
 * The one way backends talk to the kernel (mdlayher/netlink's Conn.Execute): build a request,
 * send it, read until its ack (`execute`) or the end of its dump (`dump`), and turn a kernel
 * error into a PktmarkError naming the operation. Timeouts, ENOBUFS and NLM_F_DUMP_INTR are the
 * transport's (NetlinkSocket) and reach callers as PktmarkErrors; no backend writes a receive loop.
 */
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { decodeAck, kernelError, NLMSG_DONE, NLMSG_ERROR, type NetlinkAck, type NetlinkMessage } from '../../codecs/netlink/message.js';
import type { Transport } from './transport.js';

export type Fill = (w: AttributeWriter, seq: number) => void;

/** The kernel errors among replies: failed acks, and a failed dump's NLMSG_DONE (which carries an errno too). */
export function errorsOf(replies: readonly NetlinkMessage[]): NetlinkAck[] {
  const out: NetlinkAck[] = [];
  for (const m of replies) {
    if (m.header.type !== NLMSG_ERROR && m.header.type !== NLMSG_DONE) continue;
    if (m.header.type === NLMSG_DONE && m.payload.length < 4) continue;
    const a = decodeAck(m);
    if (a.errno !== 0) out.push(m.header.type === NLMSG_DONE ? { ...a, request: { ...a.request, seq: m.header.seq } } : a);
  }
  return out;
}

async function converse(t: Transport, op: string, until: 'ack' | 'done', fill: Fill): Promise<NetlinkMessage[]> {
  const w = new AttributeWriter(256);
  const seq = t.nextSeq();
  fill(w, seq);
  const replies = await t.exchange(w.finish(), { seq, until });
  const out: NetlinkMessage[] = [];
  for (const m of replies) {
    if (m.header.seq !== seq) continue;
    if (m.header.type === NLMSG_ERROR || (until === 'done' && m.header.type === NLMSG_DONE)) {
      if (m.header.type === NLMSG_DONE && m.payload.length < 4) continue;
      const ack = decodeAck(m);
      if (ack.errno !== 0) throw kernelError(op, ack);
    } else out.push(m);
  }
  return out;
}

/** One request (the writer gets its sequence number); resolves to the replies that are not the ack (echoes, a GET's answer). */
export const execute = (t: Transport, op: string, fill: Fill): Promise<NetlinkMessage[]> => converse(t, op, 'ack', fill);

/** One dump request; resolves to its entries. */
export const dump = (t: Transport, op: string, fill: Fill): Promise<NetlinkMessage[]> => converse(t, op, 'done', fill);
