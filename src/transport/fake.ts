/**
 * Transports for tests without root (the shape of mdlayher/netlink's nltest): FakeTransport
 * answers each exchange with a function of the request messages; RecordingTransport wraps a
 * real transport and keeps every exchange so it can be replayed later by FakeTransport.
 */
import { PktmarkError } from '../errors.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import {
  NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
  nlmsghdr, parseMessages, writeMessage, type NetlinkMessage,
} from '../../codecs/netlink/message.js';
import type { NetlinkProtocol, Transport, WaitFor } from './transport.js';

/**
 * The replies to one exchange, each entry one datagram (what one recvmsg returns). A PktmarkError
 * entry is thrown when the reader reaches it: `ENOBUFS` in the middle of a dump, say.
 */
export type FakeReply = Uint8Array | PktmarkError;
export type FakeHandler = (requests: NetlinkMessage[], wait: WaitFor) => FakeReply[] | Promise<FakeReply[]>;

export class FakeTransport implements Transport {
  /** every buffer passed to exchange, in order */
  readonly sent: Uint8Array[] = [];
  private seq = 0;
  private closed = false;

  constructor(readonly protocol: NetlinkProtocol, private readonly handler: FakeHandler) {}

  nextSeq(): number { return ++this.seq; }

  async exchange(bytes: Uint8Array, wait: WaitFor): Promise<NetlinkMessage[]> {
    if (this.closed) throw new PktmarkError('CLOSED', 'transport is closed');
    const replies = await this.handler(this.received(bytes), wait);
    return replies.flatMap((r) => { if (r instanceof PktmarkError) throw r; return parseMessages(r); });
  }

  /** Yields each datagram the handler returned as one part. */
  async *stream(bytes: Uint8Array, wait: WaitFor): AsyncGenerator<NetlinkMessage[]> {
    if (this.closed) throw new PktmarkError('CLOSED', 'transport is closed');
    for (const r of await this.handler(this.received(bytes), wait)) {
      if (r instanceof PktmarkError) throw r;
      yield parseMessages(r);
    }
  }

  /** The caller may reuse `bytes` once an exchange settles (Transport.exchange): handlers get a copy they may keep. */
  private received(bytes: Uint8Array): NetlinkMessage[] {
    const copy = bytes.slice();
    this.sent.push(copy);
    return parseMessages(copy);
  }

  close(): void { this.closed = true; }

  /** Replays a recording: the n-th exchange gets the n-th recorded replies. */
  static replay(protocol: NetlinkProtocol, recording: readonly RecordedExchange[]): FakeTransport {
    let i = 0;
    return new FakeTransport(protocol, () => {
      const r = recording[i++];
      if (!r) throw new PktmarkError('TIMEOUT', `replay: no recorded exchange #${i}`);
      return r.replies.map(fromHex);
    });
  }
}

/** An NLMSG_ERROR answering `request` (errno 0 = ack), capped, with ext-ack text/offset if given. */
export function ackFor(request: NetlinkMessage, errno = 0, extack?: { message?: string; offset?: number }): Uint8Array {
  const w = new AttributeWriter(64);
  const flags = NLM_F_CAPPED | (extack ? NLM_F_ACK_TLVS : 0);
  writeMessage(w, NLMSG_ERROR, flags, request.header.seq, (w) => {
    const at = w.reserve(4);
    w.patchU32(at, (-errno) >>> 0);
    w.struct(nlmsghdr, { ...request.header });
    if (extack?.message !== undefined) w.string(NLMSGERR_ATTR_MSG, extack.message);
    if (extack?.offset !== undefined) w.u32(NLMSGERR_ATTR_OFFS, extack.offset);
  });
  return w.finish();
}

/** The NLMSG_DONE that ends a dump. */
export function doneFor(seq: number): Uint8Array {
  const w = new AttributeWriter(32);
  writeMessage(w, NLMSG_DONE, 2 /* NLM_F_MULTI */, seq, (w) => { w.reserve(4); });
  return w.finish();
}

export interface RecordedExchange {
  readonly sent: string;
  readonly replies: readonly string[];
}

export class RecordingTransport implements Transport {
  readonly recording: RecordedExchange[] = [];
  constructor(private readonly inner: Transport) {}
  get protocol(): NetlinkProtocol { return this.inner.protocol; }
  nextSeq(): number { return this.inner.nextSeq(); }
  async exchange(bytes: Uint8Array, wait: WaitFor): Promise<NetlinkMessage[]> {
    const replies = await this.inner.exchange(bytes, wait);
    this.recording.push({ sent: toHex(bytes), replies: replies.map((m) => toHex(messageBytes(m))) });
    return replies;
  }
  close(): void { this.inner.close(); }
}

function messageBytes(m: NetlinkMessage): Uint8Array {
  const out = new Uint8Array(16 + m.payload.length);
  nlmsghdr.write(new DataView(out.buffer), 0, { ...m.header, len: out.length });
  out.set(m.payload, 16);
  return out;
}

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
export const fromHex = (h: string): Uint8Array => new Uint8Array((h.match(/../g) ?? []).map((x) => parseInt(x, 16)));
