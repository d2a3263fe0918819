import type { NetlinkMessage } from '../../codecs/netlink/message.js';

/** Which protocol a socket speaks (linux/netlink.h). */
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
/** read-only scans (src/conflicts/): socket diagnostics, IPsec, generic netlink (IPVS, WireGuard) */
export const NETLINK_SOCK_DIAG = 4;
export const NETLINK_XFRM = 6;
export const NETLINK_GENERIC = 16;
export type NetlinkProtocol =
  | typeof NETLINK_ROUTE | typeof NETLINK_NETFILTER | typeof NETLINK_SOCK_DIAG | typeof NETLINK_XFRM | typeof NETLINK_GENERIC;

/**
 * When `exchange` may stop reading: `ack` — the NLMSG_ERROR (ack or error) answering the message
 * with sequence number `seq`; `done` — the NLMSG_DONE (or an NLMSG_ERROR) ending the dump `seq`.
 */
export interface WaitFor {
  readonly seq: number;
  readonly until: 'ack' | 'done';
}

/**
 * One netlink conversation. The real one is NetlinkSocket (koffi); FakeTransport replays
 * scripted replies so facade tests run without root. Requests carry sequence numbers from
 * `nextSeq()`; the port id in requests is 0 (the kernel fills it in).
 */
export interface Transport {
  readonly protocol: NetlinkProtocol;
  nextSeq(): number;
  /**
   * Send `bytes` (one or more whole messages, e.g. an nftables batch) and return every reply
   * message received until `wait` is satisfied, in arrival order. Kernel errors are returned as
   * NLMSG_ERROR messages, not thrown: the caller maps them to the request that failed.
   * Throws PktmarkError TIMEOUT, ENOBUFS (replies were lost), CLOSED or SYSCALL.
   * `bytes` is borrowed: the caller may reuse the buffer once the promise settles (copy to keep it).
   */
  exchange(bytes: Uint8Array, wait: WaitFor): Promise<NetlinkMessage[]>;
  /**
   * A dump read as it arrives: send `bytes` (one dump request, `wait.until` = 'done') and yield
   * the messages of each datagram the kernel queues (a multi-part reply's parts, ~100 rules each),
   * the NLMSG_DONE included, so a 100,000-rule dump never sits in memory whole. Ending the
   * iteration early drains the rest of the dump. Messages flagged NLM_F_DUMP_INTR are yielded as
   * they came (the caller restarts, see execute.ts's dumpStream); ENOBUFS is thrown.
   * Optional: transports without it are read through `exchange` (streamOf below).
   */
  stream?(bytes: Uint8Array, wait: WaitFor): AsyncIterable<NetlinkMessage[]>;
  /** Close after the exchanges already started have finished. */
  close(): void | Promise<void>;
}

/** How often a dump that raced with a change (NLM_F_DUMP_INTR) or lost replies (ENOBUFS) is asked again. */
export const DUMP_RETRIES = 5;

/** `t.stream` when it has one, else the whole `exchange` as one piece. */
export function streamOf(t: Transport, bytes: Uint8Array, wait: WaitFor): AsyncIterable<NetlinkMessage[]> {
  if (t.stream) return t.stream(bytes, wait);
  return (async function* () { yield await t.exchange(bytes, wait); })();
}
