/**
 * A plan as one nf_tables batch: BATCH_BEGIN with NFNL_BATCH_GENID (the generation the plan was
 * computed against), the table and chains when needed, DELRULE for removed and moving rules,
 * then each chain's NEWRULEs in desired order. Placement, from the kernel's nf_tables_newrule():
 *   - replace in place: NLM_F_REPLACE + NFTA_RULE_HANDLE; the rule keeps its handle, and its
 *     counter starts from the old counter's values (sent in the new counter expression);
 *   - a new rule after a kept one: NLM_F_APPEND + NFTA_RULE_POSITION = that rule's handle;
 *   - a new rule after another new (or replacing) one of this batch, which has no handle yet:
 *     NLM_F_APPEND + NFTA_RULE_POSITION_ID = the NFTA_RULE_ID we gave it;
 *   - the first desired rule of a chain with no kept rule before it: no APPEND, no position
 *     (the chain's head);
 *   - the tail of a chain (nothing but new rules after the last kept one): plain NLM_F_APPEND,
 *     the bulk case — an apply into an empty table sends exactly what add sends.
 */
import type { WriterPool } from '../../codecs/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST } from '../../codecs/netlink/message.js';
import { BatchWriter } from '../../codecs/nftables/batch.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeChain, writeRule, writeTable, type ExprSpan } from '../../codecs/nftables/messages.js';
import { encodeRuleUserdata } from '../../codecs/nftables/userdata.js';
import { NFT_MSG_DELSET, writeSet } from '../../codecs/nftables/set.js';
import type { Expr } from '../../codecs/nftables/expr/index.js';
import { BASE_CHAINS, OWNER_COMMENT, type Batch, type TableState } from '../backends/nft/index.js';
import { ruleToExprs } from '../backends/nft/rule.js';
import { RuleEncoder, type WrittenRule } from '../backends/nft/template.js';
import type { MarkRule } from '../rule.js';
import type { Plan, Step } from './diff.js';
import type { DesiredRule } from './desired.js';

export interface ApplyBatch {
  readonly batch: Batch;
  /** plan.steps index of each NEWRULE that is not a replace, in send order (their handles are consecutive) */
  readonly newRuleSteps: readonly number[];
}

/** linux/netfilter/nf_tables.h */
const NFTA_RULE_USERDATA = 7;

type Anchor = { readonly handle: bigint } | { readonly id: number } | undefined;

export function encodeApplyBatch(plan: Plan, table: string, state: TableState, genid: number | undefined, nextSeq: () => number, pool?: WriterPool): ApplyBatch {
  // sized for what is written: a kept rule sends nothing (a 1% change of 10,000 is ~200 messages, not 10,000)
  let sends = 0;
  for (const s of plan.steps) if (s.action !== 'keep') sends += s.action === 'move' ? 2 : 1;
  const b = new BatchWriter<WrittenRule>(1024 + sends * 400, nextSeq, pool, genid, sends + 8);
  const marks = { lastAt: -1, lastSeq: 0, lastNewAt: -1 };
  const track = (seqOf: () => number, isNew = false): void => {
    const at = b.w.length;
    marks.lastSeq = seqOf();
    marks.lastAt = at;
    if (isNew) marks.lastNewAt = at;
  };
  if (state === 'absent') {
    track(() => b.add('table', undefined, (w, seq) => writeTable(w, NFT_MSG_NEWTABLE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, seq, { family: NFPROTO_INET, name: table, flags: 0, comment: OWNER_COMMENT })));
  }
  // the chains new rules go to (made if absent). A chain that held a rule of the dumped state
  // exists when this batch commits (the generation guards it) and is not declared again:
  // re-declaring a chain leaves a transaction the kernel frees only after an RCU grace period,
  // which closing the socket then waits for (src/backends/nft/known-chains.ts)
  const hooks = new Set<string>();
  const present = new Set<string>();
  for (const s of plan.steps) {
    if (s.action === 'add' || s.action === 'move') hooks.add(s.chain);
    if (s.current) present.add(s.current.chain);
  }
  for (const c of BASE_CHAINS) {
    if (!hooks.has(c.name) || (genid !== undefined && present.has(c.name))) continue;
    track(() => b.add('chain', undefined, (w, seq) => writeChain(w, NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_CREATE, seq,
      { family: NFPROTO_INET, table, name: c.name, type: c.type, hook: { num: c.num, priority: c.priority } })));
  }
  plan.steps.forEach((s, i) => {
    if (s.action !== 'remove' && s.action !== 'move') return;
    const c = s.current!;
    track(() => b.add('delete', i, (w, seq) => writeRule(w, NFT_MSG_DELRULE, NLM_F_REQUEST, seq, { family: NFPROTO_INET, table, chain: c.chain, handle: c.handle, exprs: [] })));
  });
  // An address-list rule made by add (only prune: 'all' removes one) takes its sets with it, after
  // every DELRULE: the kernel refuses to delete a set a rule still looks up (EBUSY).
  const sets = new Set<string>();
  plan.steps.forEach((s, i) => {
    if (s.action !== 'remove') return;
    for (const name of s.current!.sets ?? []) {
      if (sets.has(name)) continue;
      sets.add(name);
      track(() => b.add('set', i, (w, seq) => writeSet(w, NFT_MSG_DELSET, NLM_F_REQUEST, seq, { family: NFPROTO_INET, table, name })));
    }
  });

  // per chain, in desired order
  const byChain = new Map<string, number[]>();
  plan.steps.forEach((s, i) => {
    if (s.action === 'remove') return;
    const l = byChain.get(s.chain);
    if (l) l.push(i); else byChain.set(s.chain, [i]);
  });
  const newRuleSteps: number[] = [];
  const encoder = new RuleEncoder();
  let nextId = 1;
  let echoFirst = true;
  for (const { name: h } of BASE_CHAINS) {
    const list = byChain.get(h);
    if (!list) continue;
    // after the last kept/replaced rule, everything is appended in order
    let tailFrom = 0;
    list.forEach((i, k) => { const a = plan.steps[i].action; if (a === 'keep' || a === 'replace') tailFrom = k + 1; });
    let anchor: Anchor;
    list.forEach((i, k) => {
      const s = plan.steps[i];
      if (s.action === 'keep') { anchor = { handle: s.current!.handle }; return; }
      const tail = k >= tailFrom;
      // an NFTA_RULE_ID only where the next rule will be placed after this one (not appended, not kept)
      const next = k + 1 < list.length ? plan.steps[list[k + 1]].action : undefined;
      const id = k + 1 < tailFrom && (next === 'add' || next === 'move') ? nextId++ : undefined;
      let flags = NLM_F_REQUEST;
      let place: { handle?: bigint; position?: bigint; positionId?: number } = {};
      if (s.action === 'replace') {
        flags |= NLM_F_REPLACE;
        place = { handle: s.current!.handle };
      } else {
        flags |= NLM_F_CREATE;
        if (tail) flags |= NLM_F_APPEND;
        else if (anchor && 'handle' in anchor) { flags |= NLM_F_APPEND; place = { position: anchor.handle }; }
        else if (anchor) { flags |= NLM_F_APPEND; place = { positionId: anchor.id }; }
        // else: the chain's head
        if (echoFirst) { flags |= NLM_F_ECHO; echoFirst = false; }
        newRuleSteps.push(i);
      }
      // one NEWRULE per rule: written in place (as b.add would, without its two closures per rule)
      const at = b.w.length;
      const seq = b.seq();
      b.record('rule', i, seq, tail && s.action === 'add' ? writeTail(encoder, b.w, s, table, flags, seq) : writeStep(b.w, s, table, flags, seq, place, id));
      marks.lastSeq = seq;
      marks.lastAt = at;
      if (s.action !== 'replace') marks.lastNewAt = at;
      anchor = id !== undefined ? { id } : s.action === 'replace' ? { handle: s.current!.handle } : undefined;
    });
  }
  return { batch: finish(b, marks), newRuleSteps };
}

/**
 * The last NEWRULE that is not a replace gets NLM_F_ECHO too (the first and last echoed handles
 * give the range, as add does); the last message before BATCH_END carries NLM_F_ACK.
 */
function finish(b: BatchWriter<WrittenRule>, marks: { lastAt: number; lastSeq: number; lastNewAt: number }): Batch {
  const flagsAt = (at: number): number => at + 6;
  const bytes = b.w.finish();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const or = (at: number, f: number): void => b.w.patchU16(flagsAt(at), view.getUint16(flagsAt(at), HOST_LITTLE_ENDIAN) | f);
  if (marks.lastNewAt >= 0) or(marks.lastNewAt, NLM_F_ECHO);
  if (marks.lastAt >= 0) or(marks.lastAt, NLM_F_ACK);
  return b.finish(marks.lastSeq);
}

/**
 * A new rule appended at a chain's tail — the bulk case — through add's template encoder (rules
 * of one shape share encoded bytes), written without its comment; apply's userdata (comment,
 * tag, name) then goes last as NFTA_RULE_USERDATA, where writeRule would put it too, and the
 * message length is patched. Byte-identical to writeStep (test/unit/apply-batch.test.ts).
 */
function writeTail(encoder: RuleEncoder, w: Parameters<typeof writeRule>[0], s: Step, table: string, flags: number, seq: number): WrittenRule {
  const d = s.desired!;
  const start = w.length;
  const written = encoder.write(w, withoutComment(d.rule), table, flags, seq, nftType(NFT_MSG_NEWRULE));
  const ud = applyUserdata(d);
  if (ud) { w.bytes(NFTA_RULE_USERDATA, ud); w.patchU32(start, w.length - start); }
  return written;
}

/** The rule as add's template encoder takes it for apply: its comment goes in apply's userdata instead. */
export function withoutComment(rule: MarkRule): MarkRule {
  if (rule.comment === undefined) return rule;
  const { comment: _c, ...rest } = rule;
  return rest as MarkRule;
}

/** apply's userdata of a desired rule: its comment, apply's tag, its name. */
export function applyUserdata(d: DesiredRule): Uint8Array | undefined {
  // most rules have neither comment nor name: their userdata is the tag alone, encoded once
  if (d.rule.comment === undefined && d.name === undefined) return TAG_ONLY;
  return encodeRuleUserdata({ ...(d.rule.comment !== undefined ? { comment: d.rule.comment } : {}), apply: true, ...(d.name !== undefined ? { name: d.name } : {}) });
}

/** apply's userdata of a rule without comment or name (written, never changed) */
const TAG_ONLY = encodeRuleUserdata({ apply: true });

function writeStep(w: Parameters<typeof writeRule>[0], s: Step, table: string, flags: number, seq: number,
  place: { handle?: bigint; position?: bigint; positionId?: number }, id: number | undefined): WrittenRule {
  const d = s.desired!;
  const tagged = ruleToExprs(d.rule);
  // a counter at zero is sent empty, as nft sends it (fixtures/nft/apply-replace.json)
  const c = s.action === 'replace' || s.action === 'move' ? s.current : undefined;
  const carry = c && (c.packets !== 0n || c.bytes !== 0n) ? c : undefined;
  const exprs: Expr[] = tagged.map((x) => (x.expr.kind === 'counter' && carry ? { kind: 'counter', bytes: carry.bytes, packets: carry.packets } : x.expr));
  const userdata = applyUserdata(d);
  const spans: ExprSpan[] = [];
  writeRule(w, NFT_MSG_NEWRULE, flags, seq, {
    family: NFPROTO_INET, table, chain: s.chain, exprs,
    ...(place.handle !== undefined ? { handle: place.handle } : {}),
    ...(place.position !== undefined ? { position: place.position } : {}),
    ...(userdata !== undefined ? { userdata } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(place.positionId !== undefined ? { positionId: place.positionId } : {}),
  }, spans);
  return { spans, fields: tagged.map((x) => x.field) };
}
