/**
 * The one way backends talk to the kernel (mdlayher/netlink's Conn.Execute): build a request,
 * send it, read until its ack (`execute`) or the end of its dump (`dump`), and turn a kernel
 * error into a PktmarkError naming the operation. Timeouts, ENOBUFS and NLM_F_DUMP_INTR are the
 * transport's (NetlinkSocket) and reach callers as PktmarkErrors; no backend writes a receive loop.
 */
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { decodeAck, kernelError, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR, type NetlinkAck, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { PktmarkError } from '../errors.js';
import { DUMP_RETRIES, streamOf, type Transport } from './transport.js';

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

/** How dumpStream turns messages into rows: `decode` (undefined skips a message), and each row's identity. */
export interface DumpRows<T> {
  decode(m: NetlinkMessage): T | undefined;
  /** unique per object in the dump (an nft rule's handle): a restarted dump skips the keys it already yielded */
  key(row: T): number | string;
}

/**
 * One dump read as it arrives, row by row, so memory stays bounded by one datagram plus the
 * keys yielded (a number per row). When the kernel flags NLM_F_DUMP_INTR (the object list
 * changed while being walked: the rest may not fit together) or the receive queue overflowed
 * (ENOBUFS), the dump is asked again from the start and the rows already yielded are skipped
 * by key: a row is never yielded twice. After DUMP_RETRIES restarts: BUSY.
 */
export async function* dumpStream<T>(t: Transport, op: string, fill: Fill, rows: DumpRows<T>): AsyncGenerator<T> {
  const seen = new Set<number | string>();
  for (let attempt = 0; ; attempt++) {
    const w = new AttributeWriter(256);
    const seq = t.nextSeq();
    fill(w, seq);
    let restart: string | undefined;
    try {
      dump: for await (const part of streamOf(t, w.finish(), { seq, until: 'done' })) {
        for (const m of part) {
          if (m.header.seq !== seq) continue;
          if (m.header.flags & NLM_F_DUMP_INTR) { restart = 'NLM_F_DUMP_INTR: it changed while being read'; break dump; }
          if (m.header.type === NLMSG_ERROR || m.header.type === NLMSG_DONE) {
            if (m.header.type === NLMSG_DONE && m.payload.length < 4) continue;
            const ack = decodeAck(m);
            if (ack.errno !== 0) throw kernelError(op, ack);
            continue;
          }
          const row = rows.decode(m);
          if (row === undefined) continue;
          const k = rows.key(row);
          if (seen.has(k)) continue;
          seen.add(k);
          yield row;
        }
      }
    } catch (e) {
      if (!(e instanceof PktmarkError) || e.code !== 'ENOBUFS') throw e;
      restart = 'ENOBUFS: replies were lost';
    }
    if (restart === undefined) return;
    if (attempt >= DUMP_RETRIES) {
      throw new PktmarkError('BUSY', `${op}: the dump was restarted ${attempt + 1} times (${restart})`, {
        hint: 'another program is changing the same table or device; try again',
      });
    }
  }
}
