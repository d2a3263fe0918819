/**
 * `Marker.update(id, { add, remove })` for an nft list rule: only the changed set elements are
 * sent, in one atomic batch (DELSETELEMs, then NEWSETELEMs), never the whole set.
 *
 * - Hash sets (every entry one address): the given addresses are sent as they are, without
 *   reading the set. Adding an address already there changes nothing; removing one that is
 *   not there is NOT_FOUND and nothing changes. Prefixes do not go into a hash set. When the
 *   set's count (NFTA_SET_COUNT, in the GETSET dump the update reads anyway) plus the change
 *   would pass its declared size, or the kernel answers ENFILE (a kernel without the count,
 *   or another writer filled the set), the set is read and replaced by a bigger one in the
 *   batch (address-set-grow.ts).
 * - Interval sets: the stored elements are read (one GETSETELEM dump), the new list is the
 *   stored ranges plus `add`, minus `remove`, merged; ranges that stay identical are not
 *   touched, the others are deleted by their exact stored pair and their remainders added
 *   (address-set-changes.ts). Removing a prefix out of a merged range re-splits it. What a set holds
 *   after an update is remembered per socket, so a loop of updates reads the set once; a batch
 *   that loses a race with another writer of the set (ENOENT/EEXIST: the memory is stale) is
 *   recomputed from a fresh read and retried.
 */
import type { Family } from '../../../codecs/address.js';
import { EEXIST, ENFILE, ENOENT } from '../../../codecs/errno.js';
import { NFT_SET_INTERVAL } from '../../../codecs/nftables/set.js';
import { PktmarkError } from '../../errors.js';
import { NETLINK_NETFILTER } from '../../transport/transport.js';
import type { BackendContext, ListUpdate, UpdateResult } from '../backend.js';
import { parseSetName, type ListField } from './address-sets.js';
import { listRuleParts, readTableSets, setElements, type ListRuleParts, type ListSetMeta } from './address-set-ops.js';
import { planGrowth, type SetGrowth } from './address-set-grow.js';
import { mustGrow } from './set-size.js';
import type { NftRule } from '../../../codecs/nftables/messages.js';
import {
  elemCount, encodeSetChanges, hashChange, intervalChange, intervalChangeV4, parseUpdateEntries, storedRanges, v4RangesOf, type SetChange,
} from './address-set-changes.js';
import { MAX_RETRIES, parseRuleId, sendBatch, tableState } from './index.js';
import type { Transport } from '../../transport/transport.js';
import type { KeyRange } from '../../../codecs/nftables/set-intervals.js';
import type { NftSetElem } from '../../../codecs/nftables/set.js';
import { isPacked, unpackSetElems, type PackedSetElems } from '../../../codecs/nftables/set-elems-packed.js';
import { dumpedIntervalRanges, isV4Ranges, type V4Ranges } from '../../../codecs/nftables/v4-ranges.js';

/** Interval sets' ranges as this socket last wrote them (by set name): the next update's starting point. */
const known = new WeakMap<Transport, Map<string, readonly KeyRange[] | V4Ranges>>();
/**
 * Per IPv4 interval set, the two pairs of arrays its updates alternate between: `cur` holds what
 * `known` views, `spare` the next update writes into (v4IntervalChange's `into`), so a loop of
 * updates makes no fresh memory for the set's 100,000 ranges each time.
 */
const arrays = new WeakMap<Transport, Map<string, { cur?: V4Ranges; spare?: V4Ranges }>>();

/** The ranges an interval set holds as stored; an IPv4 set's as typed arrays (no object per range). */
function storedOf(els: readonly NftSetElem[] | PackedSetElems, family: Family): readonly KeyRange[] | V4Ranges {
  const r = isPacked(els) && family === 'ip' ? dumpedIntervalRanges(els) : undefined;
  if (r) return r;
  // what the packed reader cannot make ranges of, the object path refuses with its own DECODE error
  return storedRanges(isPacked(els) ? unpackSetElems(els) : els, family);
}

function checkChange(change: unknown): ListUpdate {
  if (change === null || typeof change !== 'object') throw new PktmarkError('INVALID_ARGUMENT', 'an update must be an object { add?, remove?, field? }', { field: 'update' });
  const c = change as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (k !== 'add' && k !== 'remove' && k !== 'field') throw new PktmarkError('INVALID_OPTION', `unknown update field ${JSON.stringify(k)} (add, remove, field)`, { field: k });
  }
  if (c.field !== undefined && c.field !== 'src' && c.field !== 'dst') throw new PktmarkError('INVALID_OPTION', `field ${JSON.stringify(c.field)} is not src or dst`, { field: 'field' });
  return c as ListUpdate;
}

export async function updateList(id: string, input: ListUpdate, ctx: BackendContext): Promise<UpdateResult> {
  const change = checkChange(input);
  const { chain, handle } = parseRuleId(id);
  const add = parseUpdateEntries(change.add, 'add');
  const remove = parseUpdateEntries(change.remove, 'remove');
  const t = await ctx.transport(NETLINK_NETFILTER);
  if (await tableState(t, ctx.table) === 'absent') throw new PktmarkError('NOT_FOUND', `rule ${id} does not exist (table inet ${ctx.table} does not exist)`, { field: 'id' });
  /** hash sets the kernel found full (ENFILE) on an earlier attempt: grown on the next, whatever their count said */
  const full = new Set<string>();
  for (let attempt = 0; ; attempt++) {
    const { names } = await readTableSets(t, ctx.table, false);
    const parts = await listRuleParts(t, ctx.table, chain, handle, names, id);
    if (!parts) throw new PktmarkError('NOT_A_SET_RULE', `rule ${id} has no address list to update (it matches single addresses)`, { field: 'id', hint: 'add the rule with src: [...] (pktmark add --src @FILE) to get a set' });
    const fields = new Set(parts.sets.map((n) => parseSetName(n)!.field));
    let field: ListField;
    if (change.field !== undefined) {
      if (!fields.has(change.field)) throw new PktmarkError('NOT_A_SET_RULE', `rule ${id} has no ${change.field} list`, { field: 'field' });
      field = change.field;
    } else if (fields.size > 1) {
      throw new PktmarkError('INVALID_OPTION', `rule ${id} has a src and a dst list: say which (field: 'src' or 'dst')`, { field: 'field' });
    } else field = [...fields][0];
    const notThere = (): PktmarkError => new PktmarkError('NOT_FOUND', `rule ${id}: an address to remove is not in its ${field} list; nothing was changed`, { field: 'remove', errno: ENOENT });

    const changes: SetChange[] = [];
    const growths: SetGrowth[] = [];
    /** the arrays each IPv4 interval change wrote its ranges into */
    const written = new Map<string, V4Ranges>();
    for (const family of ['ip', 'ip6'] as Family[]) {
      const a = add.filter((e) => e.family === family);
      const r = remove.filter((e) => e.family === family);
      if (a.length === 0 && r.length === 0) continue;
      const found = listSetOf(parts, names, field, family);
      if (!found) {
        const e = a[0] ?? r[0];
        const which = a.length ? 'add' : 'remove';
        throw new PktmarkError('FAMILY_MISMATCH', `${which}[${e.i}] is ${family === 'ip' ? 'IPv4' : 'IPv6'} but rule ${id}'s ${field} list holds no ${family === 'ip' ? 'IPv4' : 'IPv6'} entry`, { field: `${which}[${e.i}]` });
      }
      const { name, meta, rule } = found;
      if ((meta.flags & NFT_SET_INTERVAL) === 0) {
        for (const [which, list] of [['add', a], ['remove', r]] as const) {
          const bad = list.find((e) => !e.single);
          if (bad) {
            throw new PktmarkError('INVALID_CIDR', `${which}[${bad.i}] is a prefix or range, but rule ${id}'s ${family === 'ip' ? 'IPv4' : 'IPv6'} ${field} list is a hash set of single addresses`,
              { field: `${which}[${bad.i}]`, hint: 'a list made with a prefix among its entries is an interval set; re-add the rule with one' });
          }
        }
        // past its declared size (by the kernel's count, an upper bound: an address added may be
        // there already), or found full by the kernel: replaced by a bigger set in this batch
        const adds = new Set(a.map((e) => e.range.first)).size;
        if (full.has(name) || (meta.count !== undefined && mustGrow(meta.size, meta.count - r.length + adds))) {
          const els = await setElements(t, ctx.table, name, true);
          if (!els) throw new PktmarkError('NOT_FOUND', `the set ${name} of rule ${id} is gone`, { field: 'id' });
          growths.push(planGrowth(ctx.table, name, family, els, a.map((e) => e.range), r.map((e) => e.range), rule, names.keys(), growths.length + 1, notThere));
        } else changes.push(hashChange(name, family, a.map((e) => e.range), r.map((e) => e.range)));
      } else {
        let stored = attempt === 0 ? known.get(t)?.get(name) : undefined;
        if (!stored) {
          const els = await setElements(t, ctx.table, name, true);
          if (!els) throw new PktmarkError('NOT_FOUND', `the set ${name} of rule ${id} is gone`, { field: 'id' });
          stored = storedOf(els, family);
        }
        const adds = a.map((e) => e.range), cuts = r.map((e) => e.range);
        if (family === 'ip') {
          // the spare never holds `stored`: that is `cur`'s (known) or a fresh read's
          const c = intervalChangeV4(name, isV4Ranges(stored) ? stored : v4RangesOf(stored as readonly KeyRange[]), adds, cuts, arrays.get(t)?.get(name)?.spare);
          changes.push(c);
          written.set(name, c.buffers);
        } else changes.push(intervalChange(name, family, stored as readonly KeyRange[], adds, cuts));
      }
    }
    const deleted = changes.reduce((n, c) => n + elemCount(c.del), 0) + growths.reduce((n, g) => n + g.deleted, 0);
    const added = changes.reduce((n, c) => n + elemCount(c.add), 0) + growths.reduce((n, g) => n + g.added, 0);
    if (deleted + added === 0) return { id, deleted: 0, added: 0 };
    let mem = known.get(t);
    if (!mem) known.set(t, mem = new Map());
    const interval = changes.some((c) => (names.get(c.set)!.flags & NFT_SET_INTERVAL) !== 0);
    try {
      await sendBatch(t, 'update', () => encodeSetChanges(ctx.table, changes, () => t.nextSeq(), growths)!, () => `rule ${id}`);
    } catch (e) {
      if (!(e instanceof PktmarkError)) throw e;
      // an interval set changed between our read and our batch: read it again
      for (const c of changes) mem.delete(c.set);
      // a full set (ENFILE: its count was not dumped, or another writer filled it meanwhile):
      // nothing was applied; read again and grow it
      const hit = e.messageIndex !== undefined ? changes[e.messageIndex] : undefined;
      if (e.errno === ENFILE && attempt < MAX_RETRIES) { if (hit) full.add(hit.set); continue; }
      // the rule or a set moved under a growth or an interval change: read again
      if ((interval || growths.length > 0) && (e.errno === ENOENT || e.errno === EEXIST) && attempt < MAX_RETRIES) continue;
      // without a growth, ENOENT is a DELSETELEM's: an address to remove that is not there
      if (e.errno === ENOENT && growths.length === 0) throw notThere();
      if (e.errno === ENFILE) throw new PktmarkError('KERNEL', `rule ${id}: the kernel still found a set of its ${field} list full after ${MAX_RETRIES + 1} attempts; nothing was changed`, { field: 'add', errno: ENFILE });
      throw e;
    }
    for (const c of changes) if (c.want) mem.set(c.set, c.want);
    let bufs = arrays.get(t);
    if (!bufs) arrays.set(t, bufs = new Map());
    for (const [name, cur] of written) bufs.set(name, { cur, spare: bufs.get(name)?.cur });
    return { id, deleted, added };
  }
}

/**
 * The set of `field` and `family` this rule's kernel rules look up (with the rule that does):
 * the lookup decides, so a grown set's name (`_gN`) is found like an original one.
 */
function listSetOf(parts: ListRuleParts, names: ReadonlyMap<string, ListSetMeta>, field: ListField, family: Family): { name: string; meta: ListSetMeta; rule: NftRule } | undefined {
  for (const rule of parts.rules) {
    for (const e of rule.exprs) {
      if (e.kind !== 'lookup') continue;
      const p = parseSetName(e.set);
      const meta = names.get(e.set);
      if (p && meta && p.tag === parts.tag && p.field === field && p.family === family) return { name: e.set, meta, rule };
    }
  }
  return undefined;
}
