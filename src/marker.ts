/**
 * The facade: one object a Node agent keeps open to add, list, delete and clear mark rules in
 * one network namespace. It validates input (normalizeRule), picks the backend by `via`, and
 * owns the netlink sockets, opened on first use inside the target namespace.
 */
import { PktmarkError } from './errors.js';
import { type MarkRuleInput, type Via } from './rule.js';
import { DEFAULT_TABLE, encode, explain, normalizeRules, splitByVia, validateTable } from './encode.js';
import type { AddOptions, Backend, BackendContext, ListUpdate, RuleRecord, UpdateResult } from './backends/backend.js';
import { BACKENDS, VIAS, isVia } from './backends/index.js';
import { NETLINK_NETFILTER, type NetlinkProtocol, type Transport, type WaitFor } from './transport/transport.js';
import type { BpfSys } from './transport/bpf.js';
import type { CgroupFs } from './transport/cgroup-fs.js';
import { resolveNetnsPath, withNetns, type NetnsTarget } from './transport/netns.js';
import type { ApplyOptions, ApplyResult, DesiredArg } from './apply/index.js';
import type { Agent, AgentOptions } from './agent/agent.js';
import type { VerifyOptions, VerifyReport } from './verify/index.js';
import type { ConflictReport, ScanOptions } from './conflicts/scan.js';

// the entry points without a kernel are encode.ts's; their importers still find them here
export { DEFAULT_TABLE, encode, encodePrograms, explain, normalizeRules, validateTable } from './encode.js';

export interface MarkerOptions {
  /** network namespace: a name (`ip netns add NAME`), a path, or a pid; default: the caller's */
  readonly netns?: NetnsTarget;
  /** the nftables table pktmark owns, family inet (default `pktmark`) */
  readonly table?: string;
  /** how long to wait for the kernel per request (default 5000 ms) */
  readonly timeoutMs?: number;
  /** inject transports (tests without root, recording); default: real netlink sockets */
  readonly transport?: (protocol: NetlinkProtocol) => Transport | Promise<Transport>;
  /** inject the bpf() syscall (pktmark/testing's FakeBpf); default: the kernel's, through koffi */
  readonly bpf?: BpfSys;
  /** inject the cgroup v2 tree: pktmark/testing's FakeCgroupFs, with FakeBpf; default: the real mount */
  readonly cgroupFs?: CgroupFs;
}

/** Marker.add's options: where the rules go, and whether to refuse marks live users rely on. */
export interface MarkerAddOptions extends AddOptions {
  /** scan first (Marker.conflicts) and refuse with MARK_CONFLICT, naming whom, when a mark overlaps a live user other than pktmark */
  readonly checkConflicts?: boolean;
}

/**
 * Whether any rule asks for an `auto` mark. A loop in a function of its own, not `some` with a
 * closure inside the async add: add runs once per call, too rarely to be optimised, and the
 * builtin's 10,000 calls of an unoptimised closure cost 1-2 ms of a 10,000-rule add.
 */
function hasAutoMark(list: readonly MarkRuleInput[]): boolean {
  for (let i = 0; i < list.length; i++) {
    const m = list[i]?.mark;
    if (typeof m === 'string' && /^\s*auto\b/i.test(m)) return true;
  }
  return false;
}

/** list/clear options: an unknown via must not quietly match no backend (and do nothing). */
function checkVia(opts: { via?: unknown }): void {
  if (opts === null || typeof opts !== 'object') throw new PktmarkError('INVALID_OPTION', 'options must be an object', { field: 'options' });
  if (opts.via !== undefined && !isVia(opts.via)) {
    throw new PktmarkError('INVALID_OPTION', `via ${JSON.stringify(opts.via)} is not one of ${VIAS.join(', ')}`, { field: 'via' });
  }
}

/** The backend an id belongs to: every id starts with its backend's via word. */
function idVia(id: unknown, field = 'id'): Via {
  if (typeof id === 'string') {
    const via = id.split(':', 1)[0];
    if (isVia(via)) return via;
  }
  throw new PktmarkError('INVALID_ID', `rule id ${JSON.stringify(id)} is not a pktmark id (${VIAS.map((v) => BACKENDS[v].idFormat).join(', ')})`, { field });
}

/** The BackendContext of each Marker, for pktmark's own modules (apply, agent) — not public API. */
const contexts = new WeakMap<Marker, BackendContext>();
export function backendContext(m: Marker): BackendContext {
  const c = contexts.get(m);
  if (!c) throw new PktmarkError('CLOSED', 'not a Marker');
  return c;
}

export class Marker {
  readonly table: string;
  readonly netns: NetnsTarget | undefined;
  private readonly transports = new Map<NetlinkProtocol, Promise<Transport>>();
  private closed = false;
  private readonly ctx: BackendContext;

  private constructor(private readonly opts: MarkerOptions) {
    this.table = validateTable(opts.table ?? DEFAULT_TABLE);
    this.netns = opts.netns;
    this.ctx = {
      table: this.table,
      transport: (p) => this.transport(p),
      bpf: async () => {
        if (this.closed) throw new PktmarkError('CLOSED', 'this Marker is closed');
        return this.opts.bpf ?? (await import('./transport/bpf.js')).openBpf();
      },
      ...(this.netns !== undefined ? { netns: this.netns } : {}),
      ...(opts.cgroupFs ? { cgroupFs: opts.cgroupFs } : {}),
    };
    contexts.set(this, this.ctx);
  }

  /** Validates the options (and that the namespace exists) before anything is sent. */
  static async open(opts: MarkerOptions = {}): Promise<Marker> {
    if (opts === null || typeof opts !== 'object') throw new PktmarkError('INVALID_OPTION', 'options must be an object', { field: 'options' });
    if (opts.timeoutMs !== undefined && (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0)) {
      throw new PktmarkError('INVALID_OPTION', `timeoutMs ${opts.timeoutMs} must be a positive number`, { field: 'timeoutMs' });
    }
    if (opts.netns !== undefined) {
      resolveNetnsPath(opts.netns);
      if (!opts.transport) withNetns(opts.netns, () => undefined);
    }
    return new Marker(opts);
  }

  private transport(protocol: NetlinkProtocol): Promise<Transport> {
    if (this.closed) return Promise.reject(new PktmarkError('CLOSED', 'this Marker is closed'));
    let t = this.transports.get(protocol);
    if (!t) {
      t = (async () => {
        if (this.opts.transport) return this.opts.transport(protocol);
        const { NetlinkSocket } = await import('./transport/netlink-socket.js');
        return NetlinkSocket.open({ protocol, ...(this.netns !== undefined ? { netns: this.netns } : {}), ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}) });
      })();
      t.catch(() => this.transports.delete(protocol));
      // a transport that reports itself closed (its socket died) is dropped, so the next call
      // opens a new one instead of failing forever; the failed call reports CLOSED
      const dropIfClosed = async (tr: Transport, e: unknown): Promise<void> => {
        if (e instanceof PktmarkError && e.code === 'CLOSED' && !this.closed && this.transports.get(protocol) === cached) {
          this.transports.delete(protocol);
          try { await tr.close(); } catch { /* already dead */ }
        }
      };
      const cached = t.then((tr): Transport => ({
        protocol: tr.protocol,
        nextSeq: () => tr.nextSeq(),
        close: () => tr.close(),
        exchange: async (bytes, wait) => {
          try { return await tr.exchange(bytes, wait); } catch (e) { await dropIfClosed(tr, e); throw e; }
        },
        // passed on, so dumps stay streamed (without it a 10,000-rule dump was one array of every
        // message, all alive at once, through exchange)
        ...(tr.stream ? {
          stream: (bytes: Uint8Array, wait: WaitFor) => (async function* () {
            try { yield* tr.stream!(bytes, wait); } catch (e) { await dropIfClosed(tr, e); throw e; }
          })(),
        } : {}),
      }));
      cached.catch(() => undefined);
      t = cached;
      this.transports.set(protocol, t);
    }
    return t;
  }

  /**
   * Add one rule (→ its record) or several as one atomic batch (→ records in input order).
   * Appended to their chain, or with `{ before: id }` inserted just before that rule (nft;
   * `iptables -I`), in input order.
   */
  add(rule: MarkRuleInput, opts?: MarkerAddOptions): Promise<RuleRecord>;
  add(rules: readonly MarkRuleInput[], opts?: MarkerAddOptions): Promise<RuleRecord[]>;
  async add(input: MarkRuleInput | readonly MarkRuleInput[], opts: MarkerAddOptions = {}): Promise<RuleRecord | RuleRecord[]> {
    if (opts === null || typeof opts !== 'object') throw new PktmarkError('INVALID_OPTION', 'add options must be an object', { field: 'options' });
    const list: readonly MarkRuleInput[] = Array.isArray(input) ? input : [input as MarkRuleInput];
    // the live scan only when asked (checkConflicts) or needed (an auto mark): a plain add stays one batch
    if (opts.checkConflicts === true || hasAutoMark(list)) {
      const { checkAdd } = await import('./conflicts/add-check.js');
      const { conflictError } = await import('./conflicts/auto.js');
      const c = checkAdd(list, (await this.conflicts()).users);
      if (opts.checkConflicts === true && c.overlaps.length) {
        const o = c.overlaps[0]!;
        throw conflictError(o.users, o.mark, o.mask, list.length > 1 ? `[${o.index}].mark` : 'mark');
      }
      input = Array.isArray(input) ? c.inputs : c.inputs[0]!;
    }
    const rules = normalizeRules(input);
    if (rules.length === 0) return [];
    const backend = splitByVia(rules);
    if (opts.before !== undefined && idVia(opts.before, 'before') !== backend.via) {
      throw new PktmarkError('INVALID_OPTION', `before ${opts.before} is not a ${backend.via} rule, and these rules are`, { field: 'before' });
    }
    const records = await backend.add(rules, this.ctx, opts);
    return Array.isArray(input) ? records : records[0];
  }

  /**
   * Every rule pktmark owns in this namespace, decoded from the kernel with counters, yielded
   * while the kernel's dump is read: memory stays bounded however many rules there are. A dump
   * that the kernel interrupts (another writer) restarts without yielding a rule twice.
   */
  async *rules(opts: { via?: Via } = {}): AsyncGenerator<RuleRecord> {
    for (const b of Object.values<Backend>(BACKENDS)) {
      if (opts.via !== undefined && opts.via !== b.via) continue;
      if (b.rules) yield* b.rules(this.ctx);
      else yield* await b.list(this.ctx);
    }
  }

  /** `rules()` collected into an array. */
  async list(opts: { via?: Via } = {}): Promise<RuleRecord[]> {
    checkVia(opts);
    const out: RuleRecord[] = [];
    for await (const r of this.rules(opts)) out.push(r);
    return out;
  }

  /** Delete by id (all given ids of one backend at once; NOT_FOUND if one is missing). */
  async delete(...ids: (string | readonly string[])[]): Promise<void> {
    const flat = ids.flat();
    const by = new Map<Via, string[]>();
    for (const id of flat) {
      const via = idVia(id);
      const list = by.get(via);
      if (list) list.push(id); else by.set(via, [id]);
    }
    for (const [via, list] of by) await BACKENDS[via].delete(list, this.ctx);
  }

  /**
   * Change a list rule's addresses in place (`src: [...]` rules, nft): `{ add: [...], remove:
   * [...] }` sends only the changed set elements, in one atomic batch; packets from addresses
   * that stay in the list stay marked throughout. NOT_FOUND for an unknown id, NOT_A_SET_RULE
   * for a rule without a list.
   */
  async update(id: string, change: ListUpdate): Promise<UpdateResult> {
    const b = BACKENDS[idVia(id)];
    if (!b.update) throw new PktmarkError('NOT_A_SET_RULE', `via ${b.via} rules have no address lists to update`, { field: 'id' });
    return b.update(id, change, this.ctx);
  }

  /** Remove everything pktmark made in this namespace (its nft table, its tc filters). */
  async clear(opts: { via?: Via } = {}): Promise<void> {
    checkVia(opts);
    for (const b of Object.values<Backend>(BACKENDS)) {
      if (opts.via === undefined || opts.via === b.via) await b.clear(this.ctx);
    }
  }

  /**
   * Make pktmark's table hold exactly `desired` (src/apply/): one atomic nft batch, unchanged
   * rules keep handles and counters; `{ plan: true }` only computes what would change.
   */
  async apply(desired: DesiredArg, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const { apply } = await import('./apply/index.js');
    return apply(this.ctx, desired, opts);
  }

  /** A long-running loop around apply: file watch, resync, metrics (src/agent/). */
  async watch(opts: AgentOptions): Promise<Agent> {
    const { Agent } = await import('./agent/agent.js');
    const a = new Agent(this, opts);
    await a.start();
    return a;
  }

  /**
   * Watch real traffic (sending none) and report whether the mark rule `id` sets survives to
   * the later netfilter hooks, and which nft rules overwrite it where it does not (src/verify/).
   * Its observers live in an owner-flagged table on a socket of their own, gone when it returns.
   */
  async verify(id: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
    if (this.closed) throw new PktmarkError('CLOSED', 'this Marker is closed');
    const { verify } = await import('./verify/index.js');
    return verify(this, id, opts, async () => {
      if (this.opts.transport) return this.opts.transport(NETLINK_NETFILTER);
      const { NetlinkSocket } = await import('./transport/netlink-socket.js');
      return NetlinkSocket.open({ protocol: NETLINK_NETFILTER, ...(this.netns !== undefined ? { netns: this.netns } : {}), ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}) });
    });
  }

  /**
   * Who else uses which mark bits in this namespace, live (src/conflicts/): nft (iptables-nft
   * included), tc, ip rule, xfrm, IPVS, WireGuard and SO_MARK sockets, read and never changed,
   * within `timeoutMs` (default 3000). With `mark`, the fwmark registry's view of it as well.
   */
  async conflicts(opts: ScanOptions & { mark?: number | string } = {}): Promise<ConflictReport> {
    const { scan, registryHalf } = await import('./conflicts/scan.js');
    const r = await scan({ transport: (p) => this.transport(p), table: this.table }, opts);
    if (opts.mark === undefined) return r;
    const { parseMarkSpec } = await import('./rule.js');
    const { mark, mask } = parseMarkSpec(opts.mark, undefined, true);
    return { ...r, registry: registryHalf(mark, mask) };
  }

  encode(input: MarkRuleInput | readonly MarkRuleInput[]): Uint8Array[] { return encode(input, { table: this.table }); }
  explain(input: MarkRuleInput): string { return explain(input, { table: this.table }); }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.transports.values()) {
      try { await (await t).close(); } catch { /* a transport that never opened has nothing to close */ }
    }
    this.transports.clear();
  }
}
