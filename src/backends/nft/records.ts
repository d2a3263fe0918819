/**
 * The nft backend's RuleRecords: a dumped rule's (decoded to a MarkRule when it has pktmark's
 * shape, else kept raw), and an add's, made from its batch and the handles the kernel echoed.
 */
import type { NetlinkMessage } from '../../../codecs/netlink/message.js';
import { NFT_MSG_NEWRULE, nftType, ruleHandle, type NftRule } from '../../../codecs/nftables/messages.js';
import { exprData, exprName } from '../../../codecs/nftables/expr/index.js';
import { decodeRuleUserdata } from '../../../codecs/nftables/userdata.js';
import type { MarkRule } from '../../rule.js';
import type { RawPart, RuleRecord } from '../backend.js';
import type { ListSetInfo } from './address-sets.js';
import type { Batch } from './add-batch.js';
import { chainOf } from './chains.js';
import { explainNft } from './explain.js';
import { ruleId } from './ids.js';
import { counterOf, exprsToRule } from './rule.js';

/** A kernel rule as a RuleRecord: decoded to a MarkRule when it has pktmark's shape, else kept raw. */
export function ruleRecord(r: NftRule, table: string, sets?: ReadonlyMap<string, string>, lists?: ReadonlyMap<string, ListSetInfo>): RuleRecord {
  const id = ruleId(r.chain, r.handle ?? 0n);
  // apply's rules keep their comment beside pktmark's own TLVs (codecs/nftables/userdata.ts)
  const rule = exprsToRule(r.exprs, r.chain, r.comment ?? decodeRuleUserdata(r.userdata).comment, sets, lists);
  const { packets, bytes } = counterOf(r.exprs);
  const raw: RawPart[] = [];
  if (!rule) {
    for (const e of r.exprs) raw.push({ name: exprName(e), bytes: exprData(e) });
  }
  if (r.userdata) raw.push({ name: 'userdata', bytes: r.userdata });
  for (const x of r.extra ?? []) raw.push({ name: `attr${x.type}`, bytes: x.data });
  const text = rule
    ? explainNft(rule, table)
    : `# ${id}: not a pktmark rule (${r.exprs.map(exprName).join(', ') || 'no expressions'})`;
  return { id, via: 'nft', ...(rule ? { rule } : {}), ...(raw.length ? { raw } : {}), packets, bytes, text };
}

/**
 * The record of a rule just added. Its `id` and `text` are made on first read (and by toJSON):
 * a 10,000-rule add should not build 10,000 id strings and command lines that nobody asked for,
 * and every record of a bulk add outlives the add (what it holds is copied by the GC).
 */
class AddedRule implements RuleRecord {
  declare readonly rule: MarkRule;
  private declare readonly table: string;
  private declare readonly handle: bigint | number;
  // plain assignments, not class fields (which define each property): one record per rule of a
  // bulk add, so what is the same for all of them (via, the zero counters) lives on the prototype
  constructor(handle: bigint | number, rule: MarkRule, table: string) {
    this.rule = rule;
    this.table = table;
    this.handle = handle;
  }
  get via(): 'nft' { return 'nft'; }
  get packets(): number { return 0; }
  get bytes(): number { return 0; }
  get id(): string { return ruleId(chainOf(this.rule), this.handle); }
  get text(): string { return explainNft(this.rule, this.table); }
  toJSON(): RuleRecord { return { id: this.id, via: this.via, rule: this.rule, packets: 0, bytes: 0, text: this.text }; }
}

/** The seqs of the first and last NEWRULE of a batch (the two echoed), and how many it has. */
function ruleSeqRange(batch: Batch): { firstSeq: number; lastSeq: number; count: number } {
  let firstSeq = -1, lastSeq = -1, count = 0;
  for (let i = 0; i < batch.length; i++) {
    if (batch.whatAt(i) !== 'rule') continue;
    if (count++ === 0) firstSeq = batch.seqAt(i);
    lastSeq = batch.seqAt(i);
  }
  return { firstSeq, lastSeq, count };
}

/** The handles the kernel echoed for a batch's first and last NEWRULE (only the handle is read), and how many NEWRULEs it had. */
export function echoedRange(batch: Batch, replies: readonly NetlinkMessage[]): { first?: bigint; last?: bigint; count: number } {
  const { firstSeq, lastSeq, count } = ruleSeqRange(batch);
  let first: bigint | undefined, last: bigint | undefined;
  for (const m of replies) {
    if (m.header.type !== nftType(NFT_MSG_NEWRULE)) continue;
    const h = ruleHandle(m);
    if (m.header.seq === firstSeq && h !== undefined) first = h;
    if (m.header.seq === lastSeq && h !== undefined) last = h;
  }
  return { ...(first !== undefined ? { first } : {}), ...(last !== undefined ? { last } : {}), count };
}

/**
 * The records of an add whose handles are consecutive in send order (one batch: the usual case);
 * the k-th NEWRULE sent carried rule itemAt(i). Handles are numbers when they fit (they print the
 * same): 10,000 BigInt sums and BigInt-to-text conversions were a visible part of a first add's
 * record building. A list rule is one NEWRULE per family; its id is its lowest handle
 * (address-sets.ts), its first sent. Sync and apart from the async add, which runs too rarely to
 * be optimised: this loop runs 10,000 times per bulk add.
 */
export function addedRules(batch: Batch, rules: readonly MarkRule[], first: bigint, last: bigint, table: string): RuleRecord[] {
  const out = new Array<RuleRecord>(rules.length);
  const small = last <= BigInt(Number.MAX_SAFE_INTEGER);
  const base = small ? Number(first) : 0;
  for (let i = 0, k = 0; i < batch.length; i++) {
    if (batch.whatAt(i) !== 'rule') continue;
    const item = batch.itemAt(i);
    if (out[item] === undefined) out[item] = new AddedRule(small ? base + k : first + BigInt(k), rules[item], table);
    k++;
  }
  return out;
}

/** The records of an add whose handles came from a dump instead (`handles`: the batch's NEWRULEs' in send order); a list rule takes its lowest. */
export function dumpedAddedRules(batch: Batch, rules: readonly MarkRule[], handles: readonly bigint[], table: string): RuleRecord[] {
  const lowest = new Array<bigint>(rules.length);
  batch.itemsOf('rule').forEach((item, k) => { if (lowest[item] === undefined || handles[k] < lowest[item]) lowest[item] = handles[k]; });
  const out = new Array<RuleRecord>(rules.length);
  for (let i = 0; i < rules.length; i++) if (i in rules) out[i] = new AddedRule(lowest[i], rules[i], table);
  return out;
}
