import type { Transport, NetlinkProtocol } from '../transport/transport.js';
import type { MarkRule, RuleFields, Via } from '../rule.js';
import type { Marker } from '../marker.js';
import type { BpfSys } from '../transport/bpf.js';
import type { NetnsTarget } from '../transport/netns.js';
import type { CgroupFs } from '../transport/cgroup-fs.js';

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
  /** set on rules `apply` made (tc, bpf, xdp, cgroup; nft keeps apply's tag in its userdata) */
  readonly applyTag?: ApplyTag;
}

/**
 * apply's ownership mark on a rule it made, stored with the rule in the kernel (tc: the action
 * cookie; bpf, xdp, cgroup: the config slot): the 32-bit FNV-1a hash of the rule's name, 0 for
 * an unnamed rule. A hash, not the name, because a tc cookie holds 16 bytes.
 */
export interface ApplyTag { readonly nameHash: number }

/** Context a backend gets from the Marker. */
export interface BackendContext {
  /** the nftables table pktmark owns (family inet) */
  readonly table: string;
  /** a transport for `protocol`, opened on first use inside the Marker's netns */
  transport(protocol: NetlinkProtocol): Promise<Transport>;
  /** the bpf() syscall (the real one, or MarkerOptions.bpf's fake); bpf objects belong to no netns */
  bpf(): Promise<BpfSys>;
  /** the Marker's network namespace target, absent for the caller's own (cgroup attachments are host-wide) */
  readonly netns?: NetnsTarget;
  /** the cgroup v2 tree: MarkerOptions.cgroupFs injects a fake; absent, the real mount */
  readonly cgroupFs?: CgroupFs;
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
  /**
   * ids of rules (this backend's) to delete in the same atomic batch, before the new rules go
   * in: iptables-restore's flush, so no other reader ever sees the chain empty or half-filled
   */
  readonly replace?: readonly string[];
  /** apply's tags, one per rule (by index); backends other than nft store them with the rule */
  readonly tags?: readonly (ApplyTag | undefined)[];
  /** nft, iptables-restore: user-defined chains (nft names, `mangle.FOO`) to create (idempotent) and to delete (after `replace`) in the same batch */
  readonly chains?: { readonly create?: readonly string[]; readonly delete?: readonly string[] };
  /** nft, iptables-restore -c: each rule's counter starts at these values (by index of the rules; undefined: zero) */
  readonly counters?: readonly ({ readonly packets: bigint; readonly bytes: bigint } | undefined)[];
  /**
   * nft: the ruleset generation the caller read before deciding `replace` (NFNL_BATCH_GENID). If
   * anyone commits after it, the kernel refuses the whole batch with ERESTART and nothing applies,
   * so the caller can read again and retry (iptables-restore's flush against racing writers).
   */
  readonly generation?: number;
}

/** One line of `pktmark doctor`. */
export interface Check { name: string; status: 'yes' | 'no' | 'unknown'; detail: string }

/** What a backend's probe gets: sockets in doctor's throwaway namespace (its loopback is ifindex 1). */
export interface ProbeContext {
  readonly route: Transport;
  readonly nf: Transport;
  /** a Marker on those sockets (table pktmark_doctor); everything vanishes with the namespace */
  readonly marker: Marker;
}
export interface ProbeResult {
  readonly checks: readonly Check[];
  /** whether this backend can mark packets here */
  readonly usable: boolean;
}

/**
 * A backend: a way to mark packets (nft rules, tc filters, …). Registered by its `via` word in
 * backends/index.ts; the facade and the CLI know backends only through this interface.
 */
export interface Backend<V extends Via = Via> extends RuleFields<V> {
  /** one line for help and doctor */
  readonly summary: string;
  /** the shape of its ids, for messages: `nft:CHAIN:HANDLE` (every id starts with `via:`) */
  readonly idFormat: string;
  /** where a rule sits, for list's MATCH column: `prerouting`, `eth0 ingress prio 3` */
  where(rule: MarkRule): string;
  /** what this kernel offers this backend (doctor) */
  probe(ctx: ProbeContext): Promise<ProbeResult>;
  /**
   * eBPF backends: the programs one `add` of these rules would load (instruction bytes, map fds
   * as the placeholder 0), for `--dry-run --hex`; encodeAdd's messages carry program fd 0 likewise.
   */
  encodePrograms?(rules: readonly MarkRule[]): { readonly name: string; readonly where: string; readonly insns: Uint8Array }[];
  /** Messages one `add` of these rules would send, in send order, each a whole netlink message. */
  encodeAdd(rules: readonly MarkRule[], ctx: EncodeContext, opts?: AddOptions): Uint8Array[];
  /**
   * encodeAdd for encode() of many rules, validating as it goes: `ruleAt(i)` normalizes input i
   * (it throws for bad input; undefined for a hole), so no rule need outlive its message. Returns
   * undefined for rules only encodeAdd handles; then the caller normalizes all and calls encodeAdd.
   */
  encodeAddStream?(count: number, ruleAt: (i: number) => MarkRule | undefined, ctx: EncodeContext): Uint8Array[] | undefined;
  /** Apply all rules or none. Records come back in input order. */
  add(rules: readonly MarkRule[], ctx: BackendContext, opts?: AddOptions): Promise<RuleRecord[]>;
  list(ctx: BackendContext): Promise<RuleRecord[]>;
  /**
   * The same rules as `list`, yielded while the kernel's dump is read, so memory stays bounded
   * (a 100,000-rule table). Optional: the facade falls back to `list` for a backend without it.
   */
  rules?(ctx: BackendContext): AsyncIterable<RuleRecord>;
  /**
   * Change the address list of a list rule (`src: [...]`) in place: only the changed elements
   * are sent, in one atomic batch. Optional: backends without sets have none.
   */
  update?(id: string, change: ListUpdate, ctx: BackendContext): Promise<UpdateResult>;
  /** Delete by id; NOT_FOUND if one does not exist (then nothing is deleted). */
  delete(ids: readonly string[], ctx: BackendContext): Promise<void>;
  /** Remove everything this backend made. */
  clear(ctx: BackendContext): Promise<void>;
  /** The equivalent command line(s) of the real tool (`nft add rule …`, `tc filter add …`). */
  /** `first`: the command that inserts at the head instead of appending (`nft insert rule`) */
  explain(rule: MarkRule, ctx: { readonly table: string; readonly first?: boolean }): string;
}

/** `Marker.update(id, { add, remove })`: entries to put into and take out of a rule's address list. */
export interface ListUpdate {
  readonly add?: readonly string[];
  readonly remove?: readonly string[];
  /** which list, when the rule has both a src and a dst list */
  readonly field?: 'src' | 'dst';
}

export interface UpdateResult {
  readonly id: string;
  /** set elements deleted and added (an interval range is two: its start and its END) */
  readonly deleted: number;
  readonly added: number;
}
