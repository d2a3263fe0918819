/**
 * The shape of a live mark scan: who on this host (in this namespace) sets, masks, matches,
 * saves or restores which mark bits, and what the scan could not read. One scanner per source
 * (nft, tc, ip rule, xfrm, IPVS, WireGuard, sockets), each reading only: netlink dumps, and
 * /proc file reads for socket owners. Other software's rules are never changed.
 */
import type { NetlinkProtocol, Transport } from '../transport/transport.js';
import type { ScanSource } from './scanners.js';

/**
 * How a user touches the bits: `sets` writes them (values, where known), `masks` clears them,
 * `matches` reads them to decide, `saves` copies the packet mark into the connection's,
 * `restores` copies the connection's (or a socket's) mark into the packet's.
 */
export type MarkAction = 'sets' | 'masks' | 'matches' | 'saves' | 'restores';

export interface MarkUser {
  /** the scanner that found it (a key of SCANNERS) */
  readonly source: ScanSource;
  /** who: `pktmark` for pktmark's own rules, else the table, device, rule, socket's process … */
  readonly owner: string;
  /** the bits it touches (host-order u32) */
  readonly bits: number;
  /** the values it writes or compares, where known */
  readonly values?: readonly number[];
  readonly action: MarkAction;
  /** which mark: the packet's (skb->mark) or the connection's (ct mark) */
  readonly on: 'packet' | 'conntrack';
  /**
   * A whole-value write or compare (`meta mark set 0x10`, `fwmark 0x10`, SO_MARK): it touches all
   * 32 bits (`bits` 0xffffffff), but only the bits of its `values` carry meaning to it, and those
   * are the ones `--mark auto` avoids. Unknown values (a copy, a map without elements) block all.
   */
  readonly whole?: true;
  /** where exactly, in the kernel's words (`inet filter prerouting handle 4: meta mark set 0x10`) */
  readonly detail: string;
}

export interface Unreadable {
  readonly source: ScanSource;
  /** the object or request that could not be read */
  readonly what: string;
  /** why: `EPERM`, `EAFNOSUPPORT`, `absent` (module not loaded), `deadline` … */
  readonly reason: string;
  readonly message: string;
}

/** What a scanner is given: transports in the scanned namespace, pktmark's table name, the deadline. */
export interface ScanContext {
  transport(protocol: NetlinkProtocol): Promise<Transport>;
  /** pktmark's own nft table (family inet), reported as owner `pktmark` */
  readonly table: string;
  /** Date.now() value after which scanners should stop starting new requests */
  readonly deadline: number;
  /** the /proc reader used to find socket owners (tests inject one) */
  readonly proc: ProcReader;
  /** ScanOptions.skipOwn: pktmark's own table is not read */
  readonly skipOwn?: boolean;
  user(u: MarkUser): void;
  unreadable(u: Unreadable): void;
}

export interface Scanner {
  /** what the scan reads, for --help and the unreadable list */
  readonly reads: string;
  scan(ctx: ScanContext): Promise<void>;
}

/** File reads under /proc: the pid list, a process's fd links and its name. */
export interface ProcReader {
  pids(): string[];
  fdLinks(pid: string): string[];
  comm(pid: string): string | undefined;
}
