/**
 * The add batch: NEWTABLE, the base and user chains the rules use (made on first use), a
 * restore's flush, the sets of address and port lists, then one NEWRULE per rule, templated
 * (template.ts). Pure: it fills a writer, the caller sends it.
 */
import type { WriterPool } from '../../../codecs/netlink/attributes.js';
import { Batch as NftBatch, BatchWriter } from '../../../codecs/nftables/batch.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REQUEST } from '../../../codecs/netlink/message.js';
import {
  NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeChain, writeRule, writeTable,
} from '../../../codecs/nftables/messages.js';
import { NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, writeSet, writeSetElems } from '../../../codecs/nftables/set.js';
import { PktmarkError } from '../../errors.js';
import type { MarkRule } from '../../rule.js';
import type { AddOptions } from '../backend.js';
import { RuleEncoder, type WrittenRule } from './template.js';
import { BASE_CHAINS, chainOf, DEFAULT_TABLE, OWNER_COMMENT, userChainOf, type BaseChain } from './chains.js';
import { writeDelChain, writeUserChain, type UserChain } from './user-chains.js';
import { ANON_SET_NAME, anonPortSets, needsSet } from './port-sets.js';
import { hasList, listBytes, planListRule, randomTag, type RuleSetIds } from './address-sets.js';
import { parseRuleId } from './ids.js';
import { NO_CHAINS } from './known-chains.js';

export type Batch = NftBatch<WrittenRule>;

/**
 * Where the rules of an add go. Appending is NLM_F_APPEND with no position; inserting before a
 * rule is no NLM_F_APPEND and NFTA_RULE_POSITION = its handle, as `nft insert rule … position H`
 * sends it — each rule lands just before H, so the batch keeps its order.
 */
export interface Placement { readonly before?: bigint; readonly first?: boolean }

/** The `before` id of an add, checked against the rules (same chain) before anything is sent. */
export function placementOf(rules: readonly MarkRule[], before: string | undefined, first = false): Placement {
  if (first && before !== undefined) throw new PktmarkError('INVALID_OPTION', 'give either first or before, not both', { field: 'before' });
  if (first) return { first: true };
  if (before === undefined) return {};
  let p: { chain: string; handle: bigint };
  try {
    p = parseRuleId(before);
  } catch (e) {
    throw e instanceof PktmarkError ? new PktmarkError('INVALID_ID', e.message, { field: 'before' }) : e;
  }
  rules.forEach((r, i) => {
    if (chainOf(r) !== p.chain) {
      throw new PktmarkError('INVALID_OPTION', `rule ${i} goes to the ${chainOf(r)} chain but before ${before} is in ${p.chain}`, { field: 'before', messageIndex: i });
    }
  });
  return { before: p.handle };
}

/**
 * `newTable`: the table was absent when we looked, so NEWTABLE carries NLM_F_CREATE|NLM_F_EXCL —
 * if another program creates a table of that name first, the batch fails (EEXIST) instead of
 * putting our rules into its table. Otherwise NEWTABLE has nft's plain NLM_F_REQUEST (idempotent).
 */
export function encodeAddBatch(rules: readonly MarkRule[], table: string, nextSeq: () => number, place: Placement = {}, pool?: WriterPool, newTable = false, replace: readonly { chain: string; handle: bigint }[] = [], chains: AddOptions['chains'] = {}, counters: AddOptions['counters'] = [], genid?: number, tags: () => string = randomTag, existing: ReadonlySet<string> = NO_CHAINS): Batch {
  const b = new BatchWriter<WrittenRule>(1024 + rules.length * 384 + listBytes(rules), nextSeq, pool, genid, rules.length + 8 + replace.length);
  const tableFlags = NLM_F_REQUEST | (newTable ? NLM_F_CREATE | NLM_F_EXCL : 0);
  b.add('table', undefined, (w, seq) => writeTable(w, NFT_MSG_NEWTABLE, tableFlags, seq, { family: NFPROTO_INET, name: table, flags: 0, comment: OWNER_COMMENT }));
  // one pass over the rules for everything the header needs (base chains, user chains) and
  // whether the bulk path applies (no holes, no lists): a 10,000-rule add's rules no longer fit
  // the cache by the time they are encoded, and each further pass cost a miss per rule.
  // A hole (a sparse input array) is skipped, as forEach would.
  const used = new ChainsUsed();
  let defined = 0;
  let listed = false;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r === undefined) continue;
    defined++;
    if (r.srcList !== undefined || r.dstList !== undefined) listed = true;
    used.note(r);
  }
  used.writeChains(b, table, existing);
  const made = new Set<string>(used.users.keys());
  for (const name of chains.create ?? []) {
    const u = userChainOf(name);
    if (u && !made.has(name)) { writeUserChain(b, table, u); made.add(name); }
  }
  // the flush of a restore: DELRULEs in the same batch, before the NEWRULEs, then the chains it drops
  replace.forEach((u, k) => b.add('delete', k, (w, seq) => writeRule(w, NFT_MSG_DELRULE, NLM_F_REQUEST, seq,
    { family: NFPROTO_INET, table, chain: u.chain, handle: u.handle, exprs: [] })));
  for (const name of chains.delete ?? []) writeDelChain(b, table, name);
  let ackSeq = 0;
  let setId = 0;
  const encoder = new RuleEncoder();
  const msgType = nftType(NFT_MSG_NEWRULE);
  const append = place.before === undefined && !place.first;
  const portSets = (rule: MarkRule, i: number, ids: RuleSetIds): void => {
    // a port list is an anonymous set made in the same batch, before its rule (port-sets.ts)
    if (needsSet(rule.sports)) ids.sport = ++setId;
    if (needsSet(rule.dports)) ids.dport = ++setId;
    for (const s of anonPortSets(rule, table, ids)) {
      b.add('set', i, (w, seq) => writeSet(w, NFT_MSG_NEWSET, NLM_F_REQUEST | NLM_F_CREATE, seq, s.set));
      b.add('element', i, (w, seq) => {
        writeSetElems(w, NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, seq, { family: NFPROTO_INET, table, set: ANON_SET_NAME, setId: s.set.id!, elements: s.elements });
      });
    }
  };
  // Address lists: all their sets go in before the first rule, so a list rule's family rules
  // get consecutive handles (address-sets.ts). One NEWRULE per family, under the one rule item.
  // Without lists or holes (the bulk case) the rules are sent as they are, with no record per rule.
  let sends: { i: number; rule: MarkRule; ids: RuleSetIds | undefined }[] | undefined;
  if (defined !== rules.length || listed) {
    const listed: { i: number; rule: MarkRule; ids: RuleSetIds | undefined }[] = [];
    rules.forEach((rule, i) => {
      if (!hasList(rule)) { listed.push({ i, rule, ids: undefined }); return; }
      for (const part of planListRule(rule, table, tags(), () => ++setId)) {
        for (const s of part.sets) {
          b.add('set', i, (w, seq) => writeSet(w, NFT_MSG_NEWSET, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, seq, s.set));
          b.add('element', i, (w, seq) => {
            writeSetElems(w, NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, seq, { family: NFPROTO_INET, table, set: s.set.name, setId: s.set.id!, elements: s.elements });
          });
        }
        const ids: RuleSetIds = { ...part.refs };
        portSets(part.rule, i, ids);
        listed.push({ i, rule: part.rule, ids });
      }
    });
    sends = listed;
  }
  const count = sends ? sends.length : rules.length;
  const flagsBase = NLM_F_REQUEST | NLM_F_CREATE | (append ? NLM_F_APPEND : 0);
  for (let k = 0; k < count; k++) {
    // each head insert lands in front of the previous one, so `first` sends the rules last to first
    const at = place.first ? count - 1 - k : k;
    const s = sends?.[at];
    const i = s ? s.i : at;
    const rule = s ? s.rule : rules[at];
    const last = k === count - 1;
    const flags = ruleFlags(flagsBase, k, count);
    let setIds = s?.ids;
    if (!setIds && (needsSet(rule.sports) || needsSet(rule.dports))) portSets(rule, i, setIds = {});
    const seq = b.seq();
    b.record('rule', i, seq, encoder.write(b.w, rule, table, flags, seq, msgType, place.before, setIds, counters?.[i]));
    if (last) ackSeq = seq;
  }
  return b.finish(ackSeq);
}

/** NEWCHAIN for a base chain, NLM_F_CREATE without EXCL: idempotent, as nft sends `add chain`. */
export function writeBaseChain(b: BatchWriter<WrittenRule>, table: string, c: BaseChain): void {
  b.add('chain', undefined, (w, seq) => writeChain(w, NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_CREATE, seq,
    { family: NFPROTO_INET, table, name: c.name, type: c.type, hook: { num: c.num, priority: c.priority } }));
}

/** NEWRULE flags of the k-th of `count` rules sent: the first and the last echo their handles (add learns its range from them), the last is acked. */
export function ruleFlags(base: number, k: number, count: number): number {
  const last = k === count - 1;
  return base | (k === 0 || last ? NLM_F_ECHO : 0) | (last ? NLM_F_ACK : 0);
}

/**
 * The chains a batch's rules live in or jump to, noted rule by rule, and their NEWCHAINs: the
 * base chains in BASE_CHAINS order, then the user chains in first-use order (keyed TABLE.NAME).
 */
export class ChainsUsed {
  readonly base = new Set<string>();
  readonly users = new Map<string, UserChain>();
  private prev: MarkRule | undefined;

  note(r: MarkRule): void {
    const p = this.prev;
    // bulk input is runs of one chain: only a change of hook, table, chain or jump can name another
    if (p !== undefined && r.hook === p.hook && r.table === p.table && r.chain === p.chain && r.jump === p.jump) return;
    this.base.add(chainOf(r));
    userChainsOf(r, this.users);
    this.prev = r;
  }

  /** how many NEWCHAINs writeChains writes when no chain exists yet */
  get count(): number {
    let n = this.users.size;
    for (const c of BASE_CHAINS) if (this.base.has(c.name)) n++;
    return n;
  }

  /** `existing`: chains the kernel has (known-chains.ts), left out */
  writeChains(b: BatchWriter<WrittenRule>, table: string, existing: ReadonlySet<string> = NO_CHAINS): void {
    for (const c of BASE_CHAINS) if (this.base.has(c.name) && !existing.has(c.name)) writeBaseChain(b, table, c);
    for (const [name, c] of this.users) if (!existing.has(name)) writeUserChain(b, table, c);
  }

  /** Every chain noted, by its nft name. */
  names(): string[] { return [...this.base, ...this.users.keys()]; }
}

/** Adds the user chains `r` lives in or jumps to, each once, in first-use order. */
function userChainsOf(r: MarkRule, out: Map<string, UserChain>): void {
  if (r.chain === undefined && (r.jump === undefined || r.jump === 'RETURN')) return;
  const table = r.table ?? DEFAULT_TABLE[r.hook ?? 'prerouting'];
  if (r.chain !== undefined && !out.has(`${table}.${r.chain}`)) out.set(`${table}.${r.chain}`, { table, name: r.chain });
  if (r.jump !== undefined && r.jump !== 'RETURN' && !out.has(`${table}.${r.jump}`)) out.set(`${table}.${r.jump}`, { table, name: r.jump });
}
