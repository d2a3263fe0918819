import type { NetlinkMessage } from '../../codecs/netlink/message.js';

/** Which protocol a socket speaks (linux/netlink.h). */
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
export type NetlinkProtocol = typeof NETLINK_ROUTE | typeof NETLINK_NETFILTER;

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
  /** Close after the exchanges already started have finished. */
  close(): void | Promise<void>;
}
