/**
 * The nftables backend: pktmark's rules live in its own table `inet <table>` (comment "pktmark"
 * marks it as ours), in one base chain per iptables table and hook (chains.ts), made on first
 * use. Every user operation is one nfnetlink batch (the add batch: add-batch.ts), so the kernel
 * applies all of it or none; this file sends them and reads the replies.
 */
import { AttributeWriter, WriterPool } from '../../../codecs/netlink/attributes.js';
import { BatchWriter } from '../../../codecs/nftables/batch.js';
import { kernelError, NLM_F_ACK, NLM_F_REQUEST, type NetlinkAck, type NetlinkMessage } from '../../../codecs/netlink/message.js';
import {
  decodeTable, NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_DELTABLE, NFT_MSG_GETTABLE,
  NFT_MSG_NEWTABLE, nftType, writeRule, writeTable,
} from '../../../codecs/nftables/messages.js';
import { EEXIST, ENOENT, EOPNOTSUPP, LOST_RACE_ERRNOS } from '../../../codecs/errno.js';
import { PktmarkError, type PktmarkErrorDetails } from '../../errors.js';
import { errorsOf, execute, type Fill } from '../../transport/execute.js';
import { SendPool } from '../../transport/send-pool.js';
import { dumpRules, getRules, streamRules } from './list.js';
import { NETLINK_NETFILTER, type Transport } from '../../transport/transport.js';
import type { AddOptions, Backend, BackendContext, EncodeContext, RuleRecord } from '../backend.js';
import type { MarkRule } from '../../rule.js';
import { explainNft } from './explain.js';
import { ChainsUsed, encodeAddBatch, placementOf, type Batch } from './add-batch.js';
import { encodeAddStream } from './add-stream.js';
import { parseRuleId } from './ids.js';
import { nftFields } from './fields.js';
import { probeNft } from './probe.js';
import type { WrittenRule } from './template.js';
import { OWNER_COMMENT } from './chains.js';
import { encodeChainBatch, type ChainOp } from './user-chains.js';
import { sequentialTags } from './address-sets.js';
import { encodeDeleteWithSets, joinFamilies, listRuleParts, readTableSets } from './address-set-ops.js';
import { updateList } from './address-set-update.js';
import { addedRules, dumpedAddedRules, echoedRange, ruleRecord } from './records.js';
import { forgetChains, knownChains, learnChains, NO_CHAINS, noteChains } from './known-chains.js';

export { BASE_CHAINS, chainOf, OWNER_COMMENT } from './chains.js';
export { encodeAddBatch, placementOf, writeBaseChain, type Batch, type Placement } from './add-batch.js';
export { parseRuleId, ruleId } from './ids.js';
export { dumpRules } from './list.js';
export { ruleRecord } from './records.js';

/** Batches that lose a race with another writer (EBUSY, ERESTART on a generation change) are retried this often. */
export const MAX_RETRIES = 3;

// ---------------------------------------------------------------------------------------------
// replies

/** The kernel's error for a batch message, as a PktmarkError naming the rule (messageIndex) and, where the ext-ack offset says, its field. */
export function batchError(op: string, ack: NetlinkAck, batch: Batch, describe: (item: number) => string): PktmarkError {
  const at = batch.indexOfSeq(ack.request.seq);
  const s = at < 0 ? undefined : batch.sentAt(at);
  const base = kernelError(s?.item !== undefined ? `${op} ${describe(s.item)}` : `${op} (${s?.what ?? 'batch'})`, ack, s?.item);
  let field: string | undefined;
  if (s?.what === 'table') field = 'table';
  else if (s?.what === 'chain') field = 'hook';
  else if (s?.what === 'delete') field = 'id';
  else if (s?.written && ack.extackOffset !== undefined) {
    const span = s.written.spans.find((x) => ack.extackOffset! >= x.start && ack.extackOffset! < x.end);
    if (span) field = s.written.fields[span.index];
  }
  const details: PktmarkErrorDetails = {
    ...(field !== undefined ? { field } : {}),
    ...(base.errno !== undefined ? { errno: base.errno } : {}),
    ...(base.extack !== undefined ? { extack: base.extack } : {}),
    ...(base.extackOffset !== undefined ? { extackOffset: base.extackOffset } : {}),
    ...(base.messageIndex !== undefined ? { messageIndex: base.messageIndex } : {}),
    ...(base.hint !== undefined ? { hint: base.hint } : {}),
  };
  const code = s?.what === 'delete' && ack.errno === ENOENT ? 'NOT_FOUND' : base.code;
  return new PktmarkError(code, base.message, details);
}

/** Batches are encoded into reused buffers that child processes do not share: see SendPool. apply's batches too. */
export const batchPool = new SendPool();

/** Send a batch, retrying a bounded number of times when another writer won a race. */
/** `resend`: false for a batch guarded by a generation (resending it could only fail again: the caller re-reads) */
export async function sendBatch(t: Transport, op: string, build: (pool: WriterPool) => Batch, describe: (item: number) => string, resend = true): Promise<{ batch: Batch; replies: NetlinkMessage[] }> {
  for (let attempt = 0; ; attempt++) {
    const batch = build(batchPool);
    let replies: NetlinkMessage[];
    try {
      replies = await t.exchange(batch.bytes, { seq: batch.ackSeq, until: 'ack' });
    } finally {
      batchPool.give(batch.writer); // the kernel copied the batch in sendmsg; nothing reads these bytes again
    }
    const errors = errorsOf(replies);
    if (errors.length === 0) return { batch, replies };
    // the first failing message in batch order (the kernel reports them in that order too) says
    // why: the kernel goes on through the batch after an error, so a later message can fail only
    // because of it (a DELSET whose set the failed replace left in use: EBUSY), which is no race
    errors.sort((a, b) => batch.indexOfSeq(a.request.seq) - batch.indexOfSeq(b.request.seq));
    if (resend && attempt < MAX_RETRIES && LOST_RACE_ERRNOS.has(errors[0].errno)) continue;
    throw batchError(op, errors[0], batch, describe);
  }
}

export type TableState = 'absent' | 'ours';

/** GETTABLE by name with NLM_F_ACK, as `nft list table` sends it. */
const getTable = (table: string): Fill => (w, seq) => writeTable(w, NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, seq, { family: NFPROTO_INET, name: table });

const encodeOne = (fill: Fill, seq: number): Uint8Array => { const w = new AttributeWriter(64); fill(w, seq); return w.finish(); };
export const encodeGetTable = (table: string, seq: number): Uint8Array => encodeOne(getTable(table), seq);
export const encodeRuleDump = (table: string, seq: number): Uint8Array => encodeOne(getRules(table), seq);

/** GETTABLE by name: absent, ours (comment "pktmark"), or NOT_OWNED. */
export async function tableState(t: Transport, table: string): Promise<TableState> {
  let replies: NetlinkMessage[];
  try {
    replies = await execute(t, `get table inet ${table}`, getTable(table));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return 'absent';
    throw e;
  }
  const m = replies.find((r) => r.header.type === nftType(NFT_MSG_NEWTABLE));
  if (!m) return 'absent';
  const tb = decodeTable(m);
  if (tb.comment !== OWNER_COMMENT) {
    throw new PktmarkError('NOT_OWNED', `table inet ${table} exists and was not made by pktmark (its comment is ${tb.comment === undefined ? 'absent' : JSON.stringify(tb.comment)}); pktmark leaves it alone`,
      { field: 'table', hint: 'use another table name (Marker.open({ table }))' });
  }
  return 'ours';
}

export const nftBackend: Backend<'nft'> = {
  ...nftFields,
  summary: 'nftables rules (meta mark set) in pktmark\'s own table',
  idFormat: 'nft:CHAIN:HANDLE',
  where: (r) => (r.chain !== undefined ? `${r.table ?? 'mangle'} ${r.chain}` : r.table ? `${r.table} ${r.hook ?? 'prerouting'}` : r.hook ?? 'prerouting'),
  probe: probeNft,

  encodeAdd(rules, ctx: EncodeContext, opts: AddOptions = {}) {
    if (rules.length === 0) return [];
    // set names are random per add; a dry run numbers them, so the same input gives the same bytes
    return encodeAddBatch(rules, ctx.table, () => ctx.nextSeq(), placementOf(rules, opts.before, opts.first), undefined, false, (opts.replace ?? []).map(parseRuleId), opts.chains, opts.counters, opts.generation, sequentialTags()).messages();
  },

  encodeAddStream(count, ruleAt, ctx) { return encodeAddStream(count, ruleAt, ctx.table, ctx.nextSeq()); },

  async add(rules, ctx: BackendContext, opts: AddOptions = {}) {
    if (rules.length === 0) return [];
    const place = placementOf(rules, opts.before, opts.first);
    const replace = (opts.replace ?? []).map(parseRuleId);
    const t = await ctx.transport(NETLINK_NETFILTER);
    const describe = (i: number): string => `rule ${i} (${explainNft(rules[i], ctx.table)})`;
    let sent: { batch: Batch; replies: NetlinkMessage[] } | undefined;
    // chains the kernel has are not declared again (known-chains.ts). A batch guarded by a
    // generation may be sent again after an ENOENT too: the refused batch committed nothing,
    // so the generation has not moved by it
    let declareAll = false;
    let existing: ReadonlySet<string> = NO_CHAINS;
    for (let attempt = 0; !sent; attempt++) {
      const state = await tableState(t, ctx.table);
      if (state === 'absent' && place.before !== undefined) {
        throw new PktmarkError('NOT_FOUND', `rule ${opts.before} does not exist (table inet ${ctx.table} does not exist)`, { field: 'before' });
      }
      if (state === 'absent') forgetChains(t, ctx.table);
      existing = state === 'absent' || declareAll ? NO_CHAINS : knownChains(t, ctx.table) ?? await learnChains(t, ctx.table);
      try {
        sent = await sendBatch(t, 'add', (pool) => encodeAddBatch(rules, ctx.table, () => t.nextSeq(), place, pool, state === 'absent', state === 'absent' ? [] : replace, state === 'absent' ? { create: opts.chains?.create ?? [] } : opts.chains, opts.counters, opts.generation, undefined, existing), describe, opts.generation === undefined);
      } catch (e) {
        if (!(e instanceof PktmarkError)) throw e;
        // a chain we took for existing is gone (another writer deleted it): nothing was applied;
        // send again with every chain declared
        if (e.errno === ENOENT && existing.size > 0) { forgetChains(t, ctx.table); declareAll = true; continue; }
        // someone made the table between our look and our batch: look again (NOT_OWNED if it is not ours)
        if (e.field === 'table' && e.errno === EEXIST && attempt < MAX_RETRIES) continue;
        // a kernel before 6.13 has no two-register bitwise, which a masked CONNMARK copy needs (statements.ts)
        if (e.field === 'connmark' && e.errno === EOPNOTSUPP) {
          throw new PktmarkError('UNSUPPORTED', `${e.message}: this kernel has no two-register bitwise (Linux 6.13+), which a masked --save-mark/--restore-mark needs; nothing was added`,
            { field: 'connmark', errno: EOPNOTSUPP, ...(e.messageIndex !== undefined ? { messageIndex: e.messageIndex } : {}), hint: 'copy whole marks (no --ctmask on --save-mark, no --nfmask on --restore-mark), or use a newer kernel' });
        }
        // the kernel's ENOENT for a NEWRULE with a position: the rule to insert before is gone
        if (place.before !== undefined && e.errno === ENOENT && e.messageIndex !== undefined) {
          throw new PktmarkError('NOT_FOUND', `rule ${opts.before} does not exist: nothing was added`, { field: 'before', errno: ENOENT, ...(e.extack ? { extack: e.extack } : {}) });
        }
        throw e;
      }
    }
    const { batch, replies } = sent;
    // the chains this batch used exist now, unless it also dropped some (a restore's flush)
    if (opts.chains?.delete?.length) forgetChains(t, ctx.table); else noteChains(t, ctx.table, chainsOf(rules));
    const { first, last, count } = echoedRange(batch, replies);
    if (first !== undefined && last !== undefined && last - first === BigInt(count - 1)) return addedRules(batch, rules, first, last, ctx.table);
    if (first === undefined || last === undefined) {
      throw new PktmarkError('KERNEL', 'rules were added but the kernel echoed no handle', { hint: 'list() shows them' });
    }
    // not consecutive (should not happen within one batch): take our range from a dump
    const mine = (await dumpRules(t, ctx.table)).filter((r) => r.handle !== undefined && r.handle >= first && r.handle <= last);
    mine.sort((a, b) => (a.handle! < b.handle! ? -1 : 1));
    if (mine.length !== count) throw new PktmarkError('KERNEL', `rules were added but their handles could not be learned (${mine.length} of ${count} found)`);
    return dumpedAddedRules(batch, rules, mine.map((r) => r.handle!), ctx.table);
  },

  async *rules(ctx) {
    const t = await ctx.transport(NETLINK_NETFILTER);
    if (await tableState(t, ctx.table) === 'absent') return;
    // port lists and address lists live in sets: their elements are read first, so each rule streams decoded
    const sets = await readTableSets(t, ctx.table);
    yield* joinFamilies(streamRules(t, ctx.table), (r) => ruleRecord(r, ctx.table, sets.ports, sets.lists), sets, ctx.table);
  },

  async list(ctx) {
    const out: RuleRecord[] = [];
    for await (const r of nftBackend.rules!(ctx)) out.push(r);
    return out;
  },

  async delete(ids, ctx) {
    const parsed = ids.map(parseRuleId);
    if (parsed.length === 0) return;
    const unique = [...new Map(parsed.map((p, i) => [`${p.chain}:${p.handle}`, { ...p, i }])).values()];
    const t = await ctx.transport(NETLINK_NETFILTER);
    if (await tableState(t, ctx.table) === 'absent') {
      throw new PktmarkError('NOT_FOUND', `rule ${ids[0]} does not exist (table inet ${ctx.table} does not exist)`, { field: 'id', messageIndex: 0 });
    }
    // a list rule goes with its family twin and its sets (address-sets.ts)
    const { names } = await readTableSets(t, ctx.table, false);
    if (names.size === 0) {
      await sendBatch(t, 'delete', () => encodeDeleteBatch(ctx.table, unique, () => t.nextSeq()), (i) => `rule ${ids[i]}`);
      return;
    }
    const rules = new Map<string, { chain: string; handle: bigint; i: number }>();
    const sets = new Map<string, { name: string; i: number }>();
    for (const u of unique) {
      const parts = await listRuleParts(t, ctx.table, u.chain, u.handle, names, ids[u.i]);
      for (const h of parts?.handles ?? [u.handle]) if (!rules.has(`${u.chain}:${h}`)) rules.set(`${u.chain}:${h}`, { chain: u.chain, handle: h, i: u.i });
      for (const n of parts?.sets ?? []) if (!sets.has(n)) sets.set(n, { name: n, i: u.i });
    }
    await sendBatch(t, 'delete', () => encodeDeleteWithSets(ctx.table, [...rules.values()], [...sets.values()], () => t.nextSeq()), (i) => `rule ${ids[i]}`);
  },

  update(id, change, ctx) { return updateList(id, change, ctx); },

  async clear(ctx) {
    const t = await ctx.transport(NETLINK_NETFILTER);
    if (await tableState(t, ctx.table) === 'absent') return;
    forgetChains(t, ctx.table);
    try {
      await sendBatch(t, 'clear', () => encodeClearBatch(ctx.table, () => t.nextSeq()), () => `table inet ${ctx.table}`);
    } catch (e) {
      if (e instanceof PktmarkError && e.errno === ENOENT) return; // someone removed it meanwhile
      throw e;
    }
  },

  explain(rule, ctx) { return explainNft(rule, ctx.table, ctx.first); },
};

/** The nft names of the chains `rules` live in or jump to. */
function chainsOf(rules: readonly MarkRule[]): string[] {
  const used = new ChainsUsed();
  for (let i = 0; i < rules.length; i++) if (rules[i] !== undefined) used.note(rules[i]);
  return used.names();
}

/** -N / -F CHAIN / -X as one batch (the table is made, with its comment, when absent and only chains are made). */
export async function chainOps(ctx: BackendContext, ops: readonly ChainOp[]): Promise<void> {
  if (ops.length === 0) return;
  const t = await ctx.transport(NETLINK_NETFILTER);
  const state = await tableState(t, ctx.table);
  if (state === 'absent' && ops.some((o) => o.op !== 'new')) {
    throw new PktmarkError('NOT_FOUND', `chain ${ops[0].chain.name} does not exist (table inet ${ctx.table} does not exist)`, { field: 'chain' });
  }
  if (ops.some((o) => o.op === 'delete')) forgetChains(t, ctx.table);
  await sendBatch(t, 'chain', () => encodeChainBatch(ctx.table, ops, () => t.nextSeq(), state === 'absent' ? OWNER_COMMENT : undefined), (i) => `${ops[i].op} chain ${ops[i].chain.name}`);
}

/** BATCH_BEGIN, DELRULE by handle × N (NLM_F_ACK on the last), BATCH_END. `i` is the id's index, reported on error. */
export function encodeDeleteBatch(table: string, rules: readonly { chain: string; handle: bigint; i: number }[], nextSeq: () => number): Batch {
  const b = new BatchWriter<WrittenRule>(64 + rules.length * 64, nextSeq);
  let ackSeq = 0;
  rules.forEach((u, k) => {
    const flags = NLM_F_REQUEST | (k === rules.length - 1 ? NLM_F_ACK : 0);
    const seq = b.add('delete', u.i, (w, seq) => writeRule(w, NFT_MSG_DELRULE, flags, seq,
      { family: NFPROTO_INET, table, chain: u.chain, handle: u.handle, exprs: [] }));
    if (k === rules.length - 1) ackSeq = seq;
  });
  return b.finish(ackSeq);
}

/** BATCH_BEGIN, DELTABLE (NLM_F_ACK), BATCH_END: the kernel deletes the table with its chains and rules. */
export function encodeClearBatch(table: string, nextSeq: () => number): Batch {
  const b = new BatchWriter<WrittenRule>(96, nextSeq);
  const seq = b.add('table', undefined, (w, seq) => writeTable(w, NFT_MSG_DELTABLE, NLM_F_REQUEST | NLM_F_ACK, seq, { family: NFPROTO_INET, name: table }));
  return b.finish(seq);
}
