/**
 * The observer table: `inet pktmark_verify_…`, flagged NFT_TABLE_F_OWNER so that the kernel
 * deletes it when the netlink socket that made it closes (nf_tables' NETLINK_URELEASE handler),
 * even if verify is killed. Only that socket may change it, so it is made, read and deleted
 * through one transport. Per observation point a base chain at the point's hook and priority
 * holds two rules: the rule's matches + counter (its traffic), and the same + `meta mark & M == V`
 * + counter (still carrying the mark). The matches come from the nft backend's encoder.
 */
import { BatchWriter, type Batch } from '../../codecs/nftables/batch.js';
import { NFPROTO_INET, NFT_MSG_DELTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, writeChain, writeRule, writeTable } from '../../codecs/nftables/messages.js';
import { NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, writeSet, writeSetElems } from '../../codecs/nftables/set.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, kernelError } from '../../codecs/netlink/message.js';
import type { Expr } from '../../codecs/nftables/expr/index.js';
import { EOPNOTSUPP } from '../../codecs/errno.js';
import { ANON_SET_NAME, anonPortSets, needsSet, type PortSetIds } from '../backends/nft/port-sets.js';
import { counterOf, ruleToExprs } from '../backends/nft/rule.js';
import { dumpRules } from '../backends/nft/list.js';
import { errorsOf } from '../transport/execute.js';
import type { Transport } from '../transport/transport.js';
import { PktmarkError } from '../errors.js';
import type { MarkRule } from '../rule.js';
import { HOOKS, matchAt, type ObservationPoint, type PointName, type VerifyPlan } from './plan.js';

/** NFTA_TABLE_FLAGS bit (linux/netfilter/nf_tables.h enum nft_table_flags, kernel ≥ 5.12) */
export const NFT_TABLE_F_OWNER = 0x2;
export const OBSERVER_COMMENT = 'pktmark verify (removed when verify ends)';

/** A name no other verify in the namespace uses at the same time. */
export const observerTableName = (pid: number, nonce: number): string => `pktmark_verify_${pid}_${(nonce >>> 0).toString(16)}`;

const SKIP = new Set(['rate', 'counter', 'mark']);

/** The expressions of one observer rule: the matches, [the mark test], a counter. */
export function observerExprs(match: MarkRule, mark: { value: number; mask: number } | undefined, setIds: PortSetIds): Expr[] {
  const r: MarkRule = mark ? { ...match, markMatch: { value: mark.value, mask: mark.mask, negate: false } } : match;
  return [...ruleToExprs(r, setIds).filter((e) => !SKIP.has(e.field)).map((e) => e.expr), { kind: 'counter' }];
}

/**
 * BATCH_BEGIN, NEWTABLE (CREATE|EXCL, flags OWNER), a NEWCHAIN per point, then two NEWRULEs per
 * point (each after the anonymous port sets its lookups name, as the nft backend sends them),
 * BATCH_END; NLM_F_ACK on the last rule.
 */
export function encodeObserverBatch(plan: VerifyPlan, table: string, nextSeq: () => number): Batch {
  const b = new BatchWriter(4096, nextSeq);
  b.add('table', undefined, (w, seq) => writeTable(w, NFT_MSG_NEWTABLE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, seq,
    { family: NFPROTO_INET, name: table, flags: NFT_TABLE_F_OWNER, comment: OBSERVER_COMMENT }));
  let setId = 0;
  let ackSeq = 0;
  // nft -f's order (fixtures/nft/verify-observers.json): every chain, then every rule
  plan.points.forEach((p, i) => {
    b.add('chain', i, (w, seq) => writeChain(w, NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_CREATE, seq,
      { family: NFPROTO_INET, table, name: p.name, type: 'filter', hook: { num: HOOKS[p.hook], priority: p.priority } }));
  });
  plan.points.forEach((p, i) => {
    const match = matchAt(plan, p);
    for (const mark of [undefined, { value: plan.mark, mask: plan.mask }]) {
      const ids: { sport?: number; dport?: number } = {};
      if (needsSet(match.sports)) ids.sport = ++setId;
      if (needsSet(match.dports)) ids.dport = ++setId;
      for (const s of anonPortSets(match, table, ids)) {
        b.add('set', i, (w, seq) => writeSet(w, NFT_MSG_NEWSET, NLM_F_REQUEST | NLM_F_CREATE, seq, s.set));
        b.add('element', i, (w, seq) => writeSetElems(w, NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, seq,
          { family: NFPROTO_INET, table, set: ANON_SET_NAME, setId: s.set.id!, elements: s.elements }));
      }
      const last = i === plan.points.length - 1 && mark !== undefined;
      const flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | (last ? NLM_F_ACK : 0);
      const seq = b.add('rule', i, (w, seq) => writeRule(w, NFT_MSG_NEWRULE, flags, seq,
        { family: NFPROTO_INET, table, chain: p.name, exprs: observerExprs(match, mark, ids) }));
      if (last) ackSeq = seq;
    }
  });
  return b.finish(ackSeq);
}

/** DELTABLE of the observer table in a batch (NLM_F_ACK), as `clear` sends it. */
export function encodeObserverDelete(table: string, nextSeq: () => number): Batch {
  const b = new BatchWriter(96, nextSeq);
  const seq = b.add('table', undefined, (w, seq) => writeTable(w, NFT_MSG_DELTABLE, NLM_F_REQUEST | NLM_F_ACK, seq, { family: NFPROTO_INET, name: table }));
  return b.finish(seq);
}

async function send(t: Transport, batch: Batch, op: string, points: readonly ObservationPoint[]): Promise<void> {
  const replies = await t.exchange(batch.bytes, { seq: batch.ackSeq, until: 'ack' });
  const errors = errorsOf(replies);
  if (errors.length === 0) return;
  errors.sort((a, b) => batch.indexOfSeq(a.request.seq) - batch.indexOfSeq(b.request.seq));
  const at = batch.sentAt(batch.indexOfSeq(errors[0].request.seq));
  const where = at.what === 'table' ? 'the observer table' : at.item !== undefined ? `the ${points[at.item]?.name ?? '?'} observer (${at.what})` : at.what;
  const e = kernelError(`${op} ${where}`, errors[0]);
  if (at.what === 'table' && errors[0].errno === EOPNOTSUPP) {
    throw new PktmarkError('UNSUPPORTED', `${e.message}: this kernel has no owner-flagged nft tables`, { errno: EOPNOTSUPP, hint: 'verify needs Linux ≥ 5.12 (NFT_TABLE_F_OWNER), so its observers cannot outlive it' });
  }
  throw e;
}

export interface PointCount { readonly traffic: number; readonly kept: number }
export type Counts = ReadonlyMap<PointName, PointCount>;

/** The observers of a plan, installed through `t` (which must stay open while they are used). */
export class Observers {
  private constructor(private readonly t: Transport, readonly table: string, private readonly plan: VerifyPlan) {}

  static async install(t: Transport, plan: VerifyPlan, table: string): Promise<Observers> {
    await send(t, encodeObserverBatch(plan, table, () => t.nextSeq()), 'add', plan.points);
    return new Observers(t, table, plan);
  }

  /** Both counters of every point, from one dump of the table (a chain's rules come in order: traffic, kept). */
  async read(): Promise<Counts> {
    const by = new Map<string, number[]>();
    for (const r of await dumpRules(this.t, this.table)) {
      const list = by.get(r.chain) ?? [];
      list.push(counterOf(r.exprs).packets);
      by.set(r.chain, list);
    }
    const out = new Map<PointName, PointCount>();
    for (const p of this.plan.points) {
      const [traffic = 0, kept = 0] = by.get(p.name) ?? [];
      out.set(p.name, { traffic, kept });
    }
    return out;
  }

  /** The explicit delete; closing the socket would remove the table too (owner flag). */
  async remove(): Promise<void> {
    await send(this.t, encodeObserverDelete(this.table, () => this.t.nextSeq()), 'delete', this.plan.points);
  }
}
