/**
 * Growing a full hash list set (set-size.ts): when an update would pass the size the set
 * declared, the set is replaced by a bigger one in the update's one batch —
 *   NEWSET    pm_<tag>_src4_g<N+1>, its size for the new count (NLM_F_EXCL)
 *   NEWSETELEM every address of the new list
 *   NEWRULE   NLM_F_REPLACE + the rule's handle: the same rule, its lookup naming the new set
 *             (nf_tables_newrule keeps the handle and the place in the chain)
 *   DELSET    the old set, which no rule looks up once the replace is in the batch.
 * The kernel commits all of it or none (nf_tables_commit swaps the rule in one step), so a
 * packet meets the old rule and old set or the new rule and new set: an address that stays in
 * the list is matched throughout, and a failed batch leaves no new set behind. Only the family
 * set that grows is replaced; the other family of a mixed list keeps its set and rule.
 */
import type { Family } from '../../../codecs/address.js';
import type { Expr } from '../../../codecs/nftables/expr/index.js';
import type { NftRule } from '../../../codecs/nftables/messages.js';
import type { NftSet, NftSetElem } from '../../../codecs/nftables/set.js';
import { hashElements, keyValue, type KeyRange } from '../../../codecs/nftables/set-intervals.js';
import { isPacked, packedHashElems, unpackSetElems, type PackedSetElems } from '../../../codecs/nftables/set-elems-packed.js';
import { PktmarkError } from '../../errors.js';
import { listSet, parseSetName, setName } from './address-sets.js';

/** One set's replacement: the new set and its elements, and the rule that looks it up instead. */
export interface SetGrowth {
  /** the full set, deleted */
  readonly old: string;
  readonly set: NftSet;
  readonly elements: readonly NftSetElem[] | PackedSetElems;
  /** NEWRULE with NLM_F_REPLACE: `handle` is the rule's own */
  readonly rule: NftRule;
  /** what the update changed (the addresses removed that were there, and added that were not) */
  readonly deleted: number;
  readonly added: number;
}

const KEYLEN = { ip: 4, ip6: 16 } as const;

/**
 * The growth of hash set `old` (holding `stored`, as dumped) by this change: the new list is
 * stored − remove + add, in ascending order. NOT_FOUND when an address to remove is not there
 * (as the DELSETELEM of an update without growth would be). `names`: every list set of the
 * table, so the new generation is one past any of this tag's field and family (none is reused).
 */
export function planGrowth(table: string, old: string, family: Family, stored: readonly NftSetElem[] | PackedSetElems, add: readonly KeyRange[], remove: readonly KeyRange[],
  rule: NftRule, names: Iterable<string>, id: number, notThere: () => PktmarkError): SetGrowth {
  const p = parseSetName(old)!;
  let generation = p.generation;
  for (const n of names) {
    const q = parseSetName(n);
    if (q && q.tag === p.tag && q.field === p.field && q.family === p.family && q.generation > generation) generation = q.generation;
  }
  const name = setName(p.tag, p.field, p.family, generation + 1);
  let deleted = 0, added = 0;
  let elements: readonly NftSetElem[] | PackedSetElems;
  let count: number;
  if (family === 'ip' && isPacked(stored)) {
    const keys = new Set<number>(stored.keys);
    for (const r of remove) { if (!keys.delete(Number(r.first))) throw notThere(); deleted++; }
    for (const a of add) { const k = Number(a.first); if (!keys.has(k)) { keys.add(k); added++; } }
    elements = packedHashElems(Uint32Array.from(keys).sort());
    count = keys.size;
  } else {
    const els = isPacked(stored) ? unpackSetElems(stored) : stored;
    const keys = new Set<bigint>(els.map((e) => keyValue(e.key)));
    for (const r of remove) { if (!keys.delete(r.first)) throw notThere(); deleted++; }
    for (const a of add) if (!keys.has(a.first)) { keys.add(a.first); added++; }
    const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    elements = hashElements(sorted, KEYLEN[family]);
    count = sorted.length;
  }
  return { old, set: listSet(table, name, family, false, id, count), elements, rule: replacement(rule, old, name, id), deleted, added };
}

/**
 * The rule as dumped, for NEWRULE NLM_F_REPLACE: its lookup of `old` names the new set (and its
 * batch id, as nft sends a lookup of a set made in the same batch). The counter keeps its values
 * (a counter at zero is sent empty, as nft sends a new one); the lookup's dumped zero flags are
 * left out (nft writes them only for `!=`); a dump's POSITION is not sent (with a handle the
 * kernel replaces that rule in place).
 */
function replacement(r: NftRule, old: string, name: string, id: number): NftRule {
  const exprs = r.exprs.map((e): Expr => {
    if (e.kind === 'lookup' && e.set === old) {
      return { kind: 'lookup', sreg: e.sreg, set: name, setId: id, ...(e.dreg !== undefined ? { dreg: e.dreg } : {}), ...(e.flags ? { flags: e.flags } : {}) };
    }
    if (e.kind === 'counter' && !e.packets && !e.bytes) return { kind: 'counter' };
    return e;
  });
  return { family: r.family, table: r.table, chain: r.chain, handle: r.handle!, exprs, ...(r.userdata !== undefined ? { userdata: r.userdata } : r.comment !== undefined ? { comment: r.comment } : {}) };
}
