import type { Transport, NetlinkProtocol } from '../transport/transport.js';
import type { MarkRule, Via } from '../rule.js';

/** Something the kernel holds that pktmark could not map onto a MarkRule field; kept, never dropped. */
export interface RawPart {
  /** the kernel's name: an nft expression name ("lookup"), a tc action kind ("gact") */
  readonly name: string;
  /** the attribute payload as the kernel sent it */
  readonly bytes: Uint8Array;
}

export interface RuleRecord {
  /** stable, printable: `nft:prerouting:7`, `tc:eth0:ingress:49152:800::800` */
  readonly id: string;
  readonly via: Via;
  /** the decoded rule; absent when the kernel's rule has parts pktmark does not model */
  readonly rule?: MarkRule;
  /** parts not understood (and, when `rule` is absent, the whole rule's parts in order) */
  readonly raw?: readonly RawPart[];
  readonly packets: number;
  readonly bytes: number;
  /** the equivalent nft/tc command line */
  readonly text: string;
}

/** Context a backend gets from the Marker. */
export interface BackendContext {
  /** the nftables table pktmark owns (family inet) */
  readonly table: string;
  /** a transport for `protocol`, opened on first use inside the Marker's netns */
  transport(protocol: NetlinkProtocol): Promise<Transport>;
}

/** What an encoder needs besides the rule, available without root (dry-run). */
export interface EncodeContext {
  readonly table: string;
  /** device name → ifindex; for dry-run the CLI's --ifindex or a lookup */
  ifindex?(dev: string): number;
  /** sequence numbers for the encoded messages (dry-run starts at 1) */
  nextSeq(): number;
}

/** Where `add` puts its rules. */
export interface AddOptions {
  /** insert before this rule (an id of the same backend and chain), keeping the input order; default: append */
  readonly before?: string;
  /** insert at the head of the chain (`nft insert rule`, `iptables -I CHAIN`), keeping the input order */
  readonly first?: boolean;
}

export interface Backend {
  readonly via: Via;
  /** Messages one `add` of these rules would send, in send order, each a whole netlink message. */
  encodeAdd(rules: readonly MarkRule[], ctx: EncodeContext, opts?: AddOptions): Uint8Array[];
  /** Apply all rules or none. Records come back in input order. */
  add(rules: readonly MarkRule[], ctx: BackendContext, opts?: AddOptions): Promise<RuleRecord[]>;
  list(ctx: BackendContext): Promise<RuleRecord[]>;
  /** Delete by id; NOT_FOUND if one does not exist (then nothing is deleted). */
  delete(ids: readonly string[], ctx: BackendContext): Promise<void>;
  /** Remove everything this backend made. */
  clear(ctx: BackendContext): Promise<void>;
  /** The equivalent command line(s) of the real tool (`nft add rule …`, `tc filter add …`). */
  /** `first`: the command that inserts at the head instead of appending (`nft insert rule`) */
  explain(rule: MarkRule, ctx: { readonly table: string; readonly first?: boolean }): string;
}
