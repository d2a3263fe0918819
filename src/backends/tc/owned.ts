/**
 * pktmark's own u32 filters on the kernel's devices: finding them (by the owner cookie on their
 * actions), turning one into a RuleRecord, and removing them so that each block is left as it was
 * (a whole priority when nothing else lives in it, then a clsact qdisc pktmark made).
 */
import { encodeDelFilter, type DecodedFilter, type TcFilter } from '../../../codecs/tc/filter.js';
import type { IngressKind } from '../../../codecs/tc/qdisc.js';
import type { MarkRule } from '../../rule.js';
import { execute } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';
import type { ApplyTag, RuleRecord } from '../backend.js';
import { directionsOf, filtersOf, ingressQdiscs, linkNames, ownerOfFilter, removeClsactIfUnused, type Direction, type FilterOwner } from '../clsact.js';
import { tcId } from './id.js';
import { explainRule, filterToRule } from './rule.js';

/** The owner cookie of a u32 filter (on any of its actions), if it is pktmark's (clsact.ts has the rule for every kind). */
export function ownerOf(f: TcFilter): Extract<FilterOwner, { kind: 'u32' }> | undefined {
  const o = ownerOfFilter(f);
  return o?.kind === 'u32' ? o : undefined;
}
/** False for a pktmark node that a dump shows in the wrong block (same prio in the other direction; see tc-rule.ts). */
export const belongs = (f: TcFilter, d: Direction): boolean => { const o = ownerOf(f); return !o || o.direction === d; };
/** u32 filter nodes (not the hash tables a u32 priority also lists). */
export const isNode = (f: TcFilter): boolean => f.options?.kind === 'u32' && f.options.sel !== undefined;

export async function deleteFilter(t: Transport, f: Omit<TcFilter, 'options'> & { kind?: string }): Promise<void> {
  await execute(t, 'delete tc filter', (w, seq) => encodeDelFilter(w, seq, f));
}

/** Delete one u32 node, and its whole priority when nothing else is left in it. */
export async function deleteNode(t: Transport, ifindex: number, direction: Direction, parent: number, prio: number, protocol: number, handle: number): Promise<void> {
  await deleteFilter(t, { ifindex, parent, prio, protocol, handle, kind: 'u32' });
  const left = (await filtersOf(t, ifindex, direction)).filter((f) => f.prio === prio && isNode(f) && belongs(f, direction));
  if (left.length === 0) await deleteFilter(t, { ifindex, parent, prio, protocol, handle: 0 });
}

export function record(dev: string, direction: Direction, f: DecodedFilter, known?: MarkRule): RuleRecord {
  const decoded = filterToRule(f, dev, direction);
  let packets = 0, bytes = 0;
  if (f.options?.kind === 'u32') {
    // the skbedit action's counters: the packets that were marked (police's would count all matches)
    for (const a of f.options.actions ?? []) if (a.options.kind === 'skbedit' && a.stats) { packets = a.stats.packets; bytes = a.stats.bytes; }
  }
  return recordOf(dev, direction, f, decoded.rule ?? (known ? { ...known, prio: f.prio } : undefined), decoded.raw, packets, bytes);
}

/**
 * The record of a filter the kernel has just taken as sent (no echo to decode): its rule is the one
 * it was made from, as filterToRule would give it back (tc-codec.test.ts's round trip), no counts
 * yet, and the apply tag its cookie carries. Its id and text are made on first read (and by
 * toJSON), as nft's added rules are: a 1,000-filter add should not format 1,000 ids and command
 * lines that nobody asked for.
 */
export const sentRecord = (dev: string, direction: Direction, prio: number, handle: number, known: MarkRule, tag?: ApplyTag): RuleRecord =>
  new SentFilter(dev, direction, prio, handle, known.prio === prio ? known : { ...known, prio }, tag === undefined ? undefined : { nameHash: tag.nameHash >>> 0 });

class SentFilter implements RuleRecord {
  // plain assignments, not class fields: what is the same for every record (via, the zero
  // counters) lives on the prototype
  declare readonly rule: MarkRule;
  declare readonly applyTag?: ApplyTag;
  private declare readonly dev: string;
  private declare readonly direction: Direction;
  private declare readonly prio: number;
  private declare readonly handle: number;
  constructor(dev: string, direction: Direction, prio: number, handle: number, rule: MarkRule, tag: ApplyTag | undefined) {
    this.dev = dev;
    this.direction = direction;
    this.prio = prio;
    this.handle = handle;
    this.rule = rule;
    if (tag) this.applyTag = tag;
  }
  get via(): 'tc' { return 'tc'; }
  get packets(): number { return 0; }
  get bytes(): number { return 0; }
  get id(): string { return tcId(this.dev, this.direction, this.prio, this.handle); }
  get text(): string { return explainRule(this.rule, { qdisc: 'existing' }); }
  /** the fields of recordOf's record, in its order */
  toJSON(): RuleRecord {
    return { id: this.id, via: 'tc', rule: this.rule, packets: 0, bytes: 0, text: this.text, ...(this.applyTag ? { applyTag: this.applyTag } : {}) };
  }
}

function recordOf(dev: string, direction: Direction, f: TcFilter, rule: MarkRule | undefined, raw: RuleRecord['raw'], packets: number, bytes: number): RuleRecord {
  const text = rule ? explainRule(rule, { qdisc: 'existing' }) : `tc filter show dev ${dev} ${direction} prio ${f.prio}`;
  const applyTag = ownerOf(f)?.applyTag;
  return {
    id: tcId(dev, direction, f.prio, f.handle), via: 'tc',
    ...(rule ? { rule } : {}),
    ...(raw ? { raw } : {}),
    packets, bytes, text,
    ...(applyTag ? { applyTag } : {}),
  };
}

export type Place = { readonly dev: string; readonly ifindex: number; readonly direction: Direction };
const ownedKey = (p: Place, f: TcFilter): string => `${p.ifindex}/${p.direction}/${f.prio}/${f.handle}`;

/** The filters now on the devices and directions `places` touch, by `ifindex/direction`. */
export async function dumpPlaces(t: Transport, places: readonly Place[]): Promise<Map<string, DecodedFilter[]>> {
  const dumps = new Map<string, DecodedFilter[]>();
  for (const p of places) {
    const k = `${p.ifindex}/${p.direction}`;
    if (!dumps.has(k)) dumps.set(k, await filtersOf(t, p.ifindex, p.direction));
  }
  return dumps;
}

/** pktmark's filters among those dumps. */
export function ownedKeys(dumps: ReadonlyMap<string, readonly DecodedFilter[]>): Set<string> {
  const keys = new Set<string>();
  for (const [k, filters] of dumps) {
    const direction = k.slice(k.indexOf('/') + 1) as Direction;
    for (const f of filters) if (ownerOf(f)?.direction === direction && isNode(f)) keys.add(`${k}/${f.prio}/${f.handle}`);
  }
  return keys;
}

/** Remove pktmark's filters that appeared on those devices since `before` was taken. */
export async function removeNewOwned(t: Transport, places: readonly Place[], before: ReadonlySet<string>): Promise<void> {
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

export interface Owned { readonly dev: string; readonly ifindex: number; readonly direction: Direction; readonly filter: DecodedFilter; readonly qdiscOwned: boolean }

export async function ownedFilters(t: Transport): Promise<{ owned: Owned[]; names: Map<number, string>; qdiscs: Map<number, IngressKind> }> {
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
export async function removeOwned(t: Transport, victims: readonly Owned[], qdiscs: Map<number, IngressKind>): Promise<void> {
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
