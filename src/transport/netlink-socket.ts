import { PktmarkError } from '../errors.js';
import {
  NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NLM_F_DUMP_INTR, parseMessages, decodeAck, nlmsghdr, type NetlinkMessage,
} from '../../codecs/netlink/message.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { DUMP_RETRIES, type NetlinkProtocol, type Transport, type WaitFor } from './transport.js';
import { withNetns, type NetnsTarget } from './netns.js';
import {
  AF_NETLINK, MSG_DONTWAIT, MSG_TRUNC, NETLINK_CAP_ACK, NETLINK_EXT_ACK, POLLIN,
  SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, SOL_NETLINK, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUF,
  SO_SNDBUFFORCE, getLibc, getIntOption, setIntOption, syscallError,
} from './syscalls.js';
import { EAGAIN, EINTR, EMSGSIZE, ENOBUFS } from '../../codecs/errno.js';

export interface NetlinkSocketOptions {
  readonly protocol: NetlinkProtocol;
  readonly netns?: NetnsTarget;
  /** how long one exchange may wait for the kernel (default 5000 ms) */
  readonly timeoutMs?: number;
  /** initial socket buffers; they grow on demand for large batches */
  readonly sendBufferBytes?: number;
  readonly receiveBufferBytes?: number;
}

const RECV_CHUNK = 256 * 1024;
/**
 * One receive buffer for every socket of the process: a datagram is copied out of it before
 * anything can await, so sockets never see each other's bytes. `pktmark add` opens five sockets
 * (its conflicts scan); a buffer each was five 256 KiB mappings, each faulting in its own pages.
 */
let recvChunk: Uint8Array | undefined;

/**
 * A netlink socket bound to a kernel-assigned port. Non-blocking: a receive that would block
 * waits in poll(2) on a koffi worker thread, so the event loop keeps running. nfnetlink and
 * rtnetlink answer inside sendmsg(2), so the usual exchange never waits at all.
 */
export class NetlinkSocket implements Transport {
  readonly protocol: NetlinkProtocol;
  readonly portId: number;
  private fd: number;
  private seq: number;
  private sndbuf: number;
  private rcvbuf: number;
  private readonly timeoutMs: number;
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(fd: number, protocol: NetlinkProtocol, portId: number, opts: NetlinkSocketOptions) {
    this.fd = fd;
    this.protocol = protocol;
    this.portId = portId;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    // Random start, so replies to an earlier process that reused this port are never mistaken for ours.
    this.seq = (Math.random() * 0x3fffffff) >>> 0 || 1;
    this.sndbuf = 0;
    this.rcvbuf = 0;
  }

  static open(opts: NetlinkSocketOptions): NetlinkSocket {
    const c = getLibc();
    const fd = withNetns(opts.netns, () => c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, opts.protocol));
    if (fd < 0) throw syscallError('socket(AF_NETLINK)', c.errno());
    try {
      // Extended acks make the kernel say *why* (and where) a request failed; capped acks
      // keep error replies small instead of echoing a whole 2 MB batch back per error.
      setIntOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      setIntOption(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      const sa = new Uint8Array(12);
      new DataView(sa.buffer).setUint16(0, AF_NETLINK, HOST_LITTLE_ENDIAN);
      if (c.bind(fd, sa, 12) < 0) throw syscallError('bind(AF_NETLINK)', c.errno());
      const len = new Uint32Array([12]);
      if (c.getsockname(fd, sa, len) < 0) throw syscallError('getsockname', c.errno());
      const portId = new DataView(sa.buffer).getUint32(4, HOST_LITTLE_ENDIAN);
      const s = new NetlinkSocket(fd, opts.protocol, portId, opts);
      s.ensureBuffers(opts.sendBufferBytes ?? 1 << 20, opts.receiveBufferBytes ?? 4 << 20);
      return s;
    } catch (e) {
      c.close(fd);
      throw e;
    }
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  /**
   * Grow the socket buffers to hold `send` bytes in one sendmsg and `recv` bytes of queued
   * replies. The FORCE variants pass net.core.[rw]mem_max when we have CAP_NET_ADMIN.
   */
  ensureBuffers(send: number, recv: number): void {
    if (send > this.sndbuf) {
      if (setIntOption(this.fd, SOL_SOCKET, SO_SNDBUFFORCE, send) < 0) setIntOption(this.fd, SOL_SOCKET, SO_SNDBUF, send);
      // the kernel reports twice what it grants (bookkeeping overhead); keep what we really have,
      // so that a capped buffer is asked again next time rather than assumed
      this.sndbuf = getIntOption(this.fd, SOL_SOCKET, SO_SNDBUF)[1] >> 1;
    }
    if (recv > this.rcvbuf) {
      if (setIntOption(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, recv) < 0) setIntOption(this.fd, SOL_SOCKET, SO_RCVBUF, recv);
      this.rcvbuf = getIntOption(this.fd, SOL_SOCKET, SO_RCVBUF)[1] >> 1;
    }
  }

  exchange(bytes: Uint8Array, wait: WaitFor): Promise<NetlinkMessage[]> {
    if (this.closing) return Promise.reject(new PktmarkError('CLOSED', 'netlink socket is closed'));
    // One conversation at a time: replies are matched by sequence number, but a second
    // concurrent request would steal the first one's replies from the shared queue.
    const run = this.queue.then(() => retryInterruptedDump(() => this.exchangeNow(bytes, wait), wait));
    // the turn, not the replies: a queue holding the last result kept a 10,000-rule batch's echoes alive until the next request
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  private async exchangeNow(bytes: Uint8Array, wait: WaitFor): Promise<NetlinkMessage[]> {
    const firstSeq = this.sendRequest(bytes, wait);
    const out: NetlinkMessage[] = [];
    const deadline = Date.now() + this.timeoutMs;
    let sawError = false;
    for (;;) {
      // Everything a non-dump request provokes is queued before sendmsg returns; an empty
      // queue after an error means the kernel stopped early (e.g. a refused BATCH_BEGIN).
      const msgs = await this.receive(deadline, () => wait.until === 'ack' && sawError);
      if (!msgs) return out;
      for (const m of msgs) {
        if (!this.ours(m, firstSeq)) continue;
        out.push(m);
        if (m.header.type === NLMSG_ERROR && decodeAck(m).errno !== 0) sawError = true;
        if (ends(m, wait)) return out;
      }
    }
  }

  stream(bytes: Uint8Array, wait: WaitFor): AsyncIterable<NetlinkMessage[]> {
    return this.streamNow(bytes, wait);
  }

  private async *streamNow(bytes: Uint8Array, wait: WaitFor): AsyncGenerator<NetlinkMessage[]> {
    if (this.closing) throw new PktmarkError('CLOSED', 'netlink socket is closed');
    // Hold the one-conversation turn (see exchange) for the whole dump, however slowly it is read.
    const turn = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => { release = r; });
    let done = false;
    let firstSeq = wait.seq;
    try {
      await turn;
      firstSeq = this.sendRequest(bytes, wait);
      while (!done) {
        // the deadline is the kernel's answer time, not the reader's: it restarts per datagram
        const msgs = (await this.receive(Date.now() + this.timeoutMs, () => false))!;
        const part: NetlinkMessage[] = [];
        for (const m of msgs) {
          if (!this.ours(m, firstSeq)) continue;
          part.push(m);
          if (ends(m, wait)) { done = true; break; }
        }
        if (part.length) yield part;
      }
    } finally {
      // A reader that stopped early (or an error) leaves the dump's tail queued: read it away so
      // the next conversation starts on an empty queue. The kernel builds dump parts on demand.
      if (!done && this.fd >= 0) await this.drain(firstSeq, wait).catch(() => undefined);
      release();
    }
  }

  private async drain(firstSeq: number, wait: WaitFor): Promise<void> {
    for (;;) {
      const msgs = await this.receive(Date.now() + this.timeoutMs, () => true);
      if (!msgs) return;
      if (msgs.some((m) => m.header.seq === wait.seq && ends(m, wait))) return;
    }
  }

  /** Send one request or batch whole; returns its first sequence number (older replies are stale). */
  private sendRequest(bytes: Uint8Array, wait: WaitFor): number {
    if (this.fd < 0) throw new PktmarkError('CLOSED', 'netlink socket is closed');
    const c = getLibc();
    const firstSeq = bytes.length >= 16 ? nlmsghdr.decode(bytes).seq : wait.seq;
    // The whole batch must fit the send buffer in one sendmsg (else EMSGSIZE), and the
    // replies it asks for (echoes, acks) must fit the receive queue (else ENOBUFS).
    // The kernel charges each reply skb's whole truesize (~1-2 KiB even for a 36-byte ack) to the
    // receive queue: a 1,000-filter tc add (an echo and an ack each) needs ~3 MiB of room.
    this.ensureBuffers(bytes.length + 65536, Math.min(countMessages(bytes) * 4096 + bytes.length + (1 << 20), 256 << 20));
    for (;;) {
      const n = c.send(this.fd, bytes, bytes.length, 0);
      if (n >= 0) return firstSeq;
      const errno = c.errno();
      if (errno === EINTR) continue;
      if (errno === EMSGSIZE) throw syscallError(`sendmsg of ${bytes.length} bytes`, errno, { hint: 'the batch is larger than the socket send buffer allows (net.core.wmem_max)' });
      throw syscallError('sendmsg(netlink)', errno);
    }
  }

  /**
   * The messages of the next datagram, waiting for one until `deadline`; undefined when the queue
   * is empty and `stopWhenEmpty()` says not to wait.
   */
  private async receive(deadline: number, stopWhenEmpty: () => boolean): Promise<NetlinkMessage[] | undefined> {
    const c = getLibc();
    for (;;) {
      if (this.fd < 0) throw new PktmarkError('CLOSED', 'netlink socket is closed');
      const buf = (recvChunk ??= new Uint8Array(RECV_CHUNK));
      const n = c.recv(this.fd, buf, buf.length, MSG_DONTWAIT | MSG_TRUNC);
      if (n >= 0) {
        if (n > buf.length) throw new PktmarkError('DECODE', `netlink datagram of ${n} bytes exceeds the ${buf.length}-byte receive buffer`);
        return parseMessages(buf.slice(0, n));
      }
      const errno = c.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        if (stopWhenEmpty()) return undefined;
        const left = deadline - Date.now();
        if (left <= 0 || (await this.waitReadable(left)) === 0) {
          throw new PktmarkError('TIMEOUT', `no answer from the kernel within ${this.timeoutMs} ms`, { hint: 'raise timeoutMs' });
        }
        continue;
      }
      if (errno === ENOBUFS) {
        throw new PktmarkError('ENOBUFS', 'the kernel dropped replies: the socket receive queue overflowed', {
          errno, hint: 'the request may have been applied; list to see the state, or use a larger receive buffer',
        });
      }
      throw syscallError('recvmsg(netlink)', errno);
    }
  }

  /** Replies to requests we gave up on earlier carry older sequence numbers: not ours. */
  private ours(m: NetlinkMessage, firstSeq: number): boolean {
    if (m.header.seq !== 0 && seqBefore(m.header.seq, firstSeq)) return false;
    if (m.header.type === NLMSG_OVERRUN) throw new PktmarkError('ENOBUFS', 'kernel reported NLMSG_OVERRUN');
    return true;
  }

  private async waitReadable(timeoutMs: number): Promise<number> {
    const pfd = new Uint8Array(8);
    const v = new DataView(pfd.buffer);
    v.setInt32(0, this.fd, HOST_LITTLE_ENDIAN);
    v.setInt16(4, POLLIN, HOST_LITTLE_ENDIAN);
    return getLibc().pollAsync(pfd, 1, Math.min(timeoutMs, 0x7fffffff));
  }

  /**
   * Close once the exchanges already queued have finished: closing under one would fail its
   * receive (EBADF), and with it any rollback that operation was about to send.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const fd = this.fd;
    this.closing = this.queue.then(() => {
      this.fd = -1;
      if (fd >= 0) getLibc().close(fd);
    });
    return this.closing;
  }
}

/** Whether `m` is the last reply `wait` asks for: the ack of `seq`, or the NLMSG_DONE of its dump. */
function ends(m: NetlinkMessage, wait: WaitFor): boolean {
  if (m.header.seq !== wait.seq) return false;
  return m.header.type === NLMSG_ERROR || (m.header.type === NLMSG_DONE && wait.until === 'done');
}

/** How many netlink messages a buffer holds (header walk only). */
function countMessages(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let n = 0;
  for (let p = 0; p + 16 <= b.length; n++) {
    const len = v.getUint32(p, HOST_LITTLE_ENDIAN);
    if (len < 16) break;
    p += (len + 3) & ~3;
  }
  return n;
}

export { DUMP_RETRIES };

/**
 * A dump that raced with a change is flagged NLM_F_DUMP_INTR on some message: its pieces may
 * not fit together. Every reply of it has been read by then, so asking again is safe; after
 * DUMP_RETRIES the table is changing too fast to get a consistent view, and we say so.
 */
export async function retryInterruptedDump(once: () => Promise<NetlinkMessage[]>, wait: WaitFor): Promise<NetlinkMessage[]> {
  for (let attempt = 0; ; attempt++) {
    const out = await once();
    if (wait.until !== 'done' || !out.some((m) => m.header.flags & NLM_F_DUMP_INTR)) return out;
    if (attempt >= DUMP_RETRIES) {
      throw new PktmarkError('BUSY', `the kernel interrupted the dump ${attempt + 1} times (NLM_F_DUMP_INTR: it changed while being read)`, {
        hint: 'another program is changing the same table or device; try again',
      });
    }
  }
}

/** a < b in sequence-number space (u32, wrapping) */
function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
