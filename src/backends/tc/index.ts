/**
 * The tc backend: cls_u32 filters with act_skbedit (and act_police for rates) on a device's
 * clsact (or existing ingress) qdisc, over rtnetlink. A user operation is an ordered sequence
 * of requests, each acknowledged; if one fails, the ones before it are undone (filters deleted,
 * a qdisc pktmark created removed) before the error is reported.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { decodeAck, kernelError, NLMSG_ERROR, type NetlinkAck, type NetlinkMessage } from '../../../codecs/netlink/message.js';
import { RTM_NEWTFILTER } from '../../../codecs/tc/constants.js';
import { decodeFilter, encodeDelFilter, encodeNewFilter, type DecodedFilter, type TcFilter } from '../../../codecs/tc/filter.js';
import { encodeNewIngressQdisc, type IngressKind } from '../../../codecs/tc/qdisc.js';
import { formatU32Handle, parseU32Handle } from '../../../codecs/tc/classifiers/u32.js';
import { EEXIST } from '../../../codecs/errno.js';
import { PktmarkError } from '../../errors.js';
import { parseIfName, type MarkRule } from '../../rule.js';
import { execute } from '../../transport/execute.js';
import { NETLINK_ROUTE, type Transport } from '../../transport/transport.js';
import type { AddOptions, Backend, BackendContext, EncodeContext, RuleRecord } from '../backend.js';
import {
  directionsOf, filtersOf, ifindexOf, ingressQdiscs, linkNames, ownerOfFilter, prepareClsact, removeClsactIfUnused,
  type DevState, type Direction, type FilterOwner, type Undo,
} from '../clsact.js';
import { tcFields } from './fields.js';
import { probeTc } from './probe.js';
import { explainRule, filterToRule, ownerCookie, ruleToFilter, checkTcRule } from './rule.js';


/** the hint of ACTION_UNAVAILABLE: nft always; bpf too, since cls_bpf marks without any tc action (probed by doctor) */
export const ACTION_HINT = "this kernel lacks act_skbedit/act_police (modules not built or not loadable): use via: 'nft' (nftables meta mark set), or via: 'bpf' (a cls_bpf program that sets the mark itself, no tc action needed; `pktmark doctor` says whether cls_bpf works here)";

/** The owner cookie of a u32 filter (on any of its actions), if it is pktmark's (clsact.ts has the rule for every kind). */
function ownerOf(f: TcFilter): Extract<FilterOwner, { kind: 'u32' }> | undefined {
  const o = ownerOfFilter(f);
  return o?.kind === 'u32' ? o : undefined;
}
/** False for a pktmark node that a dump shows in the wrong block (same prio in the other direction; see tc-rule.ts). */
const belongs = (f: TcFilter, d: Direction): boolean => { const o = ownerOf(f); return !o || o.direction === d; };
/** u32 filter nodes (not the hash tables a u32 priority also lists). */
const isNode = (f: TcFilter): boolean => f.options?.kind === 'u32' && f.options.sel !== undefined;

// ---- ids -----------------------------------------------------------------------------------------

export function tcId(dev: string, direction: Direction, prio: number, handle: number): string {
  return `tc:${dev}:${direction}:${prio}:${formatU32Handle(handle)}`;
}
export interface TcId { readonly dev: string; readonly direction: Direction; readonly prio: number; readonly handle: number }
export function parseTcId(id: string): TcId {
  const bad = (): never => { throw new PktmarkError('INVALID_ID', `${JSON.stringify(id)} is not a tc rule id (tc:DEV:ingress|egress:PRIO:HANDLE, e.g. tc:eth0:ingress:49152:800::800)`, { field: 'id' }); };
  if (typeof id !== 'string') return bad();
  const parts = id.split(':');
  if (parts.length < 6 || parts[0] !== 'tc') return bad();
  const [, dev, direction, prioText] = parts;
  const handle = parseU32Handle(parts.slice(4).join(':'));
  if ((direction !== 'ingress' && direction !== 'egress') || !/^\d+$/.test(prioText) || handle === undefined) return bad();
  const prio = Number(prioText);
  if (prio < 1 || prio > 0xffff) return bad();
  try { parseIfName(dev, 'id', false); } catch { return bad(); }
  return { dev, direction, prio, handle };
}

// ---- errors ----------------------------------------------------------------------------------------

function addError(e: unknown, r: MarkRule): unknown {
  if (!(e instanceof PktmarkError)) return e;
  if (e.extack && /action module/i.test(e.extack)) {
    const which = r.rate ? 'skbedit or police' : 'skbedit';
    return new PktmarkError('ACTION_UNAVAILABLE', `tc action ${which} is not available in this kernel: ${e.extack}`, {
      field: r.rate ? 'rate' : 'mark', ...(e.errno !== undefined ? { errno: e.errno } : {}), extack: e.extack,
      ...(e.extackOffset !== undefined ? { extackOffset: e.extackOffset } : {}),
      ...(e.messageIndex !== undefined ? { messageIndex: e.messageIndex } : {}), hint: ACTION_HINT, cause: e,
    });
  }
  if (e.errno === EEXIST) {
    return new PktmarkError('BUSY', `a filter with ${r.prio === undefined ? 'that prio' : `prio ${r.prio}`} on ${r.dev} already exists: ${e.message}`, {
      field: 'prio', errno: EEXIST, ...(e.extack ? { extack: e.extack } : {}), ...(e.messageIndex !== undefined ? { messageIndex: e.messageIndex } : {}),
    });
  }
  return e;
}

// ---- the backend ---------------------------------------------------------------------------------

const prepareDevice = (t: Transport, dev: string, direction: Direction, undo: Undo): Promise<DevState> => prepareClsact(t, dev, direction, undo);

/** One rule's failure in a multi-rule add: its index in the input, and the typed error. */
export interface TcAddFailure { readonly index: number; readonly error: unknown }
/** What `addFilters` did: a record per rule that went in (undefined for the others), and each failure. */
export interface TcAddOutcome { readonly records: readonly (RuleRecord | undefined)[]; readonly failures: readonly TcAddFailure[] }

async function addAll(rules: readonly MarkRule[], ctx: BackendContext, tags?: AddOptions['tags']): Promise<RuleRecord[]> {
  const o = await addFilters(rules, ctx, { force: false, ...(tags ? { tags } : {}) });
  if (o.failures.length) throw o.failures[0].error;
  return o.records as RuleRecord[];
}

/**
 * Add every rule's filter in one pipelined exchange. Atomic (force false): the first refusal undoes
 * every filter and qdisc this call made and is the one failure reported. With force (`tc -force
 * -batch`): each rule that the kernel (or the device lookup) refuses is reported by its index and
 * the others stay; only a clsact qdisc made for a device none of whose filters went in is removed
 * again, so nothing is left that no pktmark filter owns. A failed exchange (timeout, lost replies)
 * undoes everything in both modes and throws.
 */
export async function addFilters(rules: readonly MarkRule[], ctx: BackendContext, opts: { readonly force: boolean; readonly tags?: AddOptions['tags'] }): Promise<TcAddOutcome> {
  const failures: TcAddFailure[] = [];
  const records: (RuleRecord | undefined)[] = rules.map(() => undefined);
  const fail = (index: number, error: unknown): TcAddOutcome => { failures.push({ index, error }); return { records: rules.map(() => undefined), failures }; };
  for (const [i, r] of rules.entries()) {
    try { checkTcRule(r); } catch (e) { if (!opts.force) return fail(i, e); failures.push({ index: i, error: e }); }
  }
  const t = await ctx.transport(NETLINK_ROUTE);
  // per device, so that with force a qdisc made for a device whose filters all failed can be removed alone
  const undo: (() => Promise<void>)[] = [];
  const devUndo = new Map<string, (() => Promise<void>)[]>();
  const devices = new Map<string, DevState>();
  const rollback = async (): Promise<void> => {
    for (const u of [...[...devUndo.values()].flat(), ...undo].reverse()) {
      try { await u(); } catch { /* best effort: report the original error */ }
    }
  };
  const skipped = new Set(failures.map((f) => f.index));
  try {
    // Devices first (look up, reuse or create the qdisc), in rule order.
    const planned: { index: number; r: MarkRule; dev: string; direction: Direction; ifindex: number; filter: TcFilter }[] = [];
    for (const [index, r] of rules.entries()) {
      if (skipped.has(index)) continue;
      const dev = r.dev!, direction = r.direction ?? 'ingress';
      try {
        const du = devUndo.get(dev) ?? [];
        devUndo.set(dev, du);
        let st = devices.get(dev);
        if (!st) { st = await prepareDevice(t, dev, direction, du); devices.set(dev, st); }
        else if (st.qdisc === 'ingress' && direction === 'egress') await prepareDevice(t, dev, direction, du);
        const filter = ruleToFilter(r, { ifindex: st.ifindex, qdisc: st.qdisc, cookie: ownerCookie(st.qdiscOwned, direction, opts.tags?.[index]) });
        planned.push({ index, r, dev, direction, ifindex: st.ifindex, filter });
      } catch (e) {
        if (!opts.force) { await rollback(); return fail(index, e); }
        failures.push({ index, error: e });
      }
    }
    if (planned.length > 0) {
      // Then every filter in one sendmsg: rtnetlink handles the messages in order and answers
      // each one (its echo, then its ack) before sendmsg returns; a refused one does not stop the
      // rest, so (unless force) everything that did go in is undone below.
      const w = new AttributeWriter(256 * planned.length);
      const seqs = planned.map((p) => { const seq = t.nextSeq(); encodeNewFilter(w, seq, p.filter, { echo: true }); return seq; });
      // If the exchange itself fails (timeout, lost replies), the kernel may hold filters we never
      // heard about: remember pktmark's filters on these devices now, and remove any new ones then.
      // (a device whose clsact this add just created has none yet: no dump needed)
      const before = await ownedKeys(t, planned.filter((p) => !devices.get(p.dev)?.created));
      let replies: NetlinkMessage[];
      try {
        replies = await t.exchange(w.finish(), { seq: seqs[seqs.length - 1], until: 'ack' });
      } catch (e) {
        undo.push(async () => { await removeNewOwned(t, planned, before); });
        throw e;
      }
      const echoes = new Map<number, DecodedFilter>();
      const refused = new Map<number, NetlinkAck>();
      for (const m of replies) {
        if (m.header.type === RTM_NEWTFILTER) echoes.set(m.header.seq, decodeFilter(m));
        else if (m.header.type === NLMSG_ERROR) {
          const ack = decodeAck(m);
          if (ack.errno !== 0) refused.set(ack.request.seq, ack);
        }
      }
      planned.forEach((p, i) => {
        const e = echoes.get(seqs[i]);
        if (e) undo.push(async () => { await deleteNode(t, p.ifindex, p.direction, p.filter.parent, e.prio, p.filter.protocol, e.handle); });
      });
      const failed = seqs.findIndex((seq) => refused.has(seq));
      if (failed >= 0 && !opts.force) {
        const p = planned[failed];
        await rollback();
        return fail(p.index, addError(kernelError(`add tc filter on ${p.dev}`, refused.get(seqs[failed])!, p.index), p.r));
      }
      for (const [i, p] of planned.entries()) {
        const ack = refused.get(seqs[i]);
        const e = echoes.get(seqs[i]);
        if (ack) failures.push({ index: p.index, error: addError(kernelError(`add tc filter on ${p.dev}`, ack, p.index), p.r) });
        else if (e) records[p.index] = record(p.dev, p.direction, e, p.r);
        else {
          const error = new PktmarkError('KERNEL', `the kernel did not echo the new filter on ${p.dev}`, { field: 'dev', messageIndex: p.index });
          if (!opts.force) throw error;
          failures.push({ index: p.index, error });
        }
      }
    }
    // force: a qdisc this call made stays only where one of its filters went in
    for (const [dev, du] of devUndo) {
      if (records.some((rec, i) => rec && rules[i].dev === dev)) continue;
      for (const u of du.reverse()) { try { await u(); } catch { /* best effort */ } }
    }
    failures.sort((a, b) => a.index - b.index);
    return { records, failures };
  } catch (e) {
    await rollback();
    throw e;
  }
}

async function deleteFilter(t: Transport, f: Omit<TcFilter, 'options'> & { kind?: string }): Promise<void> {
  await execute(t, 'delete tc filter', (w, seq) => encodeDelFilter(w, seq, f));
}

/** Delete one u32 node, and its whole priority when nothing else is left in it. */
async function deleteNode(t: Transport, ifindex: number, direction: Direction, parent: number, prio: number, protocol: number, handle: number): Promise<void> {
  await deleteFilter(t, { ifindex, parent, prio, protocol, handle, kind: 'u32' });
  const left = (await filtersOf(t, ifindex, direction)).filter((f) => f.prio === prio && isNode(f) && belongs(f, direction));
  if (left.length === 0) await deleteFilter(t, { ifindex, parent, prio, protocol, handle: 0 });
}

function record(dev: string, direction: Direction, f: DecodedFilter, known?: MarkRule): RuleRecord {
  const decoded = filterToRule(f, dev, direction);
  let packets = 0, bytes = 0;
  if (f.options?.kind === 'u32') {
    // the skbedit action's counters: the packets that were marked (police's would count all matches)
    for (const a of f.options.actions ?? []) if (a.options.kind === 'skbedit' && a.stats) { packets = a.stats.packets; bytes = a.stats.bytes; }
  }
  const rule = decoded.rule ?? (known ? { ...known, prio: f.prio } : undefined);
  const text = rule ? explainRule(rule, { qdisc: 'existing' }) : `tc filter show dev ${dev} ${direction} prio ${f.prio}`;
  const applyTag = ownerOf(f)?.applyTag;
  return {
    id: tcId(dev, direction, f.prio, f.handle), via: 'tc',
    ...(rule ? { rule } : {}),
    ...(decoded.raw ? { raw: decoded.raw } : {}),
    packets, bytes, text,
    ...(applyTag ? { applyTag } : {}),
  };
}

type Place = { readonly dev: string; readonly ifindex: number; readonly direction: Direction };
const ownedKey = (p: Place, f: TcFilter): string => `${p.ifindex}/${p.direction}/${f.prio}/${f.handle}`;

/** pktmark's filters now on the devices and directions `places` touch. */
async function ownedKeys(t: Transport, places: readonly Place[]): Promise<Set<string>> {
  const keys = new Set<string>();
  const seen = new Set<string>();
  for (const p of places) {
    if (seen.has(`${p.ifindex}/${p.direction}`)) continue;
    seen.add(`${p.ifindex}/${p.direction}`);
    for (const f of await filtersOf(t, p.ifindex, p.direction)) if (ownerOf(f)?.direction === p.direction && isNode(f)) keys.add(ownedKey(p, f));
  }
  return keys;
}

/** Remove pktmark's filters that appeared on those devices since `before` was taken. */
async function removeNewOwned(t: Transport, places: readonly Place[], before: ReadonlySet<string>): Promise<void> {
  const qdiscs = await ingressQdiscs(t);
  const fresh: Owned[] = [];
  const seen = new Set<string>();
  for (const p of places) {
    if (seen.has(`${p.ifindex}/${p.direction}`)) continue;
    seen.add(`${p.ifindex}/${p.direction}`);
    for (const f of await filtersOf(t, p.ifindex, p.direction)) {
      const o = ownerOf(f);
      if (o?.direction === p.direction && isNode(f) && !before.has(ownedKey(p, f))) fresh.push({ ...p, filter: f, qdiscOwned: false });
    }
  }
  // qdiscOwned false: the qdisc step of the same add removes a qdisc it created itself
  if (fresh.length) await removeOwned(t, fresh, qdiscs);
}

interface Owned { readonly dev: string; readonly ifindex: number; readonly direction: Direction; readonly filter: DecodedFilter; readonly qdiscOwned: boolean }

async function ownedFilters(t: Transport): Promise<{ owned: Owned[]; names: Map<number, string>; qdiscs: Map<number, IngressKind> }> {
  const names = await linkNames(t);
  const qdiscs = await ingressQdiscs(t);
  const owned: Owned[] = [];
  for (const [ifindex, q] of qdiscs) {
    for (const direction of directionsOf(q)) {
      for (const f of await filtersOf(t, ifindex, direction)) {
        const o = ownerOf(f);
        if (o && o.direction === direction && isNode(f)) owned.push({ dev: names.get(ifindex) ?? `if${ifindex}`, ifindex, direction, filter: f, qdiscOwned: o.qdiscOwned });
      }
    }
  }
  return { owned, names, qdiscs };
}

/** Delete owned filters; whole priorities when nothing else lives in them; then pktmark's empty qdiscs. */
async function removeOwned(t: Transport, victims: readonly Owned[], qdiscs: Map<number, IngressKind>): Promise<void> {
  const touched = new Map<number, boolean>();
  const byPrio = new Map<string, Owned[]>();
  for (const v of victims) {
    const k = `${v.ifindex}/${v.direction}/${v.filter.prio}/${v.filter.protocol}`;
    const group = byPrio.get(k);
    if (group) group.push(v); else byPrio.set(k, [v]);
    touched.set(v.ifindex, (touched.get(v.ifindex) ?? false) || v.qdiscOwned);
  }
  for (const group of byPrio.values()) {
    const { ifindex, direction, filter } = group[0];
    const all = (await filtersOf(t, ifindex, direction)).filter((f) => f.prio === filter.prio && f.protocol === filter.protocol && isNode(f) && belongs(f, direction));
    const mine = new Set(group.map((g) => g.filter.handle));
    const alone = all.every((f) => mine.has(f.handle));
    if (alone) {
      // the whole priority (the u32 instance with its hash table), so the block is as before
      await deleteFilter(t, { ifindex, parent: filter.parent, prio: filter.prio, protocol: filter.protocol, handle: 0 });
    } else {
      for (const g of group) await deleteFilter(t, { ifindex, parent: g.filter.parent, prio: filter.prio, protocol: filter.protocol, handle: g.filter.handle, kind: 'u32' });
    }
  }
  // the shared clsact rule: the qdisc goes with the last filter of anyone, if pktmark made it
  for (const [ifindex, qdiscOwned] of touched) await removeClsactIfUnused(t, ifindex, qdiscOwned, qdiscs);
}

/** tc orders filters by priority, not by position: `prio` is the way to go first. */
function refuseBefore(opts: AddOptions): void {
  if (opts.before !== undefined || opts.first) {
    throw new PktmarkError('UNSUPPORTED', 'tc filters are ordered by prio, not inserted before another filter', { field: opts.first ? 'first' : 'before', hint: 'give the rule a lower prio (tc runs lower prios first)' });
  }
}

export const tcBackend: Backend<'tc'> = {
  ...tcFields,
  summary: 'tc filters (cls_u32 + act_skbedit) on a device',
  idFormat: 'tc:DEV:ingress|egress:PRIO:HANDLE',
  where: (r) => `${r.dev} ${r.direction}${r.prio !== undefined ? ` prio ${r.prio}` : ''}`,
  probe: probeTc,

  encodeAdd(rules: readonly MarkRule[], ctx: EncodeContext, opts: AddOptions = {}): Uint8Array[] {
    refuseBefore(opts);
    // Dry run: assumes no qdisc on the device yet (so clsact is created, as add would) and the
    // qdisc flag set in the cookie. The real add also looks up the device and reads the kernel's echo.
    const out: Uint8Array[] = [];
    const made = new Set<string>();
    for (const r of rules) {
      const dev = r.dev!;
      const ifindex = ctx.ifindex ? ctx.ifindex(dev) : 0;
      if (!ctx.ifindex) throw new PktmarkError('INVALID_OPTION', 'encoding a tc rule needs the device ifindex', { field: 'dev', hint: 'pass ifindex (CLI: --ifindex N)' });
      if (!made.has(dev)) {
        const w = new AttributeWriter(64);
        encodeNewIngressQdisc(w, ctx.nextSeq(), ifindex, 'clsact');
        out.push(w.finish());
        made.add(dev);
      }
      const w = new AttributeWriter(256);
      encodeNewFilter(w, ctx.nextSeq(), ruleToFilter(r, { ifindex, qdisc: 'clsact', cookie: ownerCookie(true, r.direction) }), { echo: true });
      out.push(w.finish());
    }
    return out;
  },

  add: (rules, ctx, opts: AddOptions = {}) => { refuseBefore(opts); return addAll(rules, ctx, opts.tags); },

  async list(ctx: BackendContext): Promise<RuleRecord[]> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const { owned } = await ownedFilters(t);
    return owned.map((o) => record(o.dev, o.direction, o.filter));
  },

  async delete(ids: readonly string[], ctx: BackendContext): Promise<void> {
    const parsed = ids.map(parseTcId);
    const t = await ctx.transport(NETLINK_ROUTE);
    const names = await linkNames(t);
    const qdiscs = await ingressQdiscs(t);
    const victims: Owned[] = [];
    for (const [i, id] of parsed.entries()) {
      const ifindex = [...names].find(([, n]) => n === id.dev)?.[0];
      const q = ifindex === undefined ? undefined : qdiscs.get(ifindex);
      const found = ifindex === undefined || !q || !directionsOf(q).includes(id.direction) ? undefined
        : (await filtersOf(t, ifindex, id.direction)).find((f) => f.prio === id.prio && f.handle === id.handle && isNode(f) && belongs(f, id.direction));
      if (!found || ifindex === undefined) throw new PktmarkError('NOT_FOUND', `no tc filter ${ids[i]}`, { field: 'id' });
      const o = ownerOf(found);
      if (!o) throw new PktmarkError('NOT_OWNED', `tc filter ${ids[i]} was not made by pktmark; it is left alone`, { field: 'id' });
      victims.push({ dev: id.dev, ifindex, direction: id.direction, filter: found, qdiscOwned: o.qdiscOwned });
    }
    await removeOwned(t, victims, qdiscs);
  },

  async clear(ctx: BackendContext): Promise<void> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const { owned, qdiscs } = await ownedFilters(t);
    if (owned.length) await removeOwned(t, owned, qdiscs);
  },

  explain(rule: MarkRule): string {
    return explainRule(rule);
  },
};

/** The kernel steps, exported for the live tests (qdisc create/reuse/remove without a working action). */
export const tcKernel = { ifindexOf, linkNames, ingressQdiscs, filtersOf, prepareDevice, deleteNode };
