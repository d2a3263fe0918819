/**
 * `apply(desired)`: make pktmark's table hold exactly the desired rules, in order, in one atomic
 * batch. Read (GETGEN, GETTABLE, dump) → diff → one batch guarded by NFNL_BATCH_GENID. When
 * another writer commits in between (nft, firewalld, kube-proxy, another pktmark), the kernel
 * refuses the batch with ERESTART before applying any of it; apply then reads again, diffs
 * again and retries, and after `maxRetries` ends in BUSY. It is never half-applied.
 */
import type { WriterPool } from '../../codecs/netlink/attributes.js';
import { decodeRule, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { LOST_RACE_ERRNOS } from '../../codecs/errno.js';
import { PktmarkError } from '../errors.js';
import { resolveAutoMarks, type AutoMarkPick } from '../conflicts/apply-auto.js';
import type { BackendContext } from '../backends/backend.js';
import { batchError, batchPool } from '../backends/nft/index.js';
import { explainNft } from '../backends/nft/explain.js';
import { errorsOf } from '../transport/execute.js';
import { NETLINK_NETFILTER, type Transport } from '../transport/transport.js';
import { encodeApplyBatch } from './batch.js';
import { desiredFromInput, isDesiredState, narrowDesired, ruleLabel, type DesiredRuleInput, type DesiredState, type DesiredStateInput } from './desired.js';
import { diff, isEmpty, type Counts, type Plan, type Prune, type StepAction } from './diff.js';
import { addOthers, diffOthers, isOtherVia, OTHER_VIAS, readOthers, removeOthers, undoAdded, type OtherStep, type OtherVia } from './others.js';
import { withOthers } from './others-result.js';
import { BACKENDS } from '../backends/index.js';
import { nextGeneration, readGeneration, readState, type CurrentState } from './state.js';
import { Made, NOTHING_MADE, stateAfter } from './after.js';
import { KnownRules } from './known-rules.js';
import { needsSet } from '../backends/nft/port-sets.js';

export { parseDesired, desiredFromInput, DesiredLines, type DesiredRuleInput, type DesiredState, type DesiredStateInput, type DesiredRule } from './desired.js';
export type { Prune, StepAction, Counts } from './diff.js';

export interface ApplyOptions {
  /** remove managed rules that are not desired (default true); 'all': every rule in pktmark's table; false: only add */
  readonly prune?: Prune;
  /** compute and return the plan, send nothing (`apply --plan`) */
  readonly plan?: boolean;
  /** batches refused because the generation moved are re-diffed and retried this often (default 5) */
  readonly maxRetries?: number;
  /**
   * Skip everything after GETGEN when the ruleset generation equals this (the agent's steady
   * state: the generation its last apply left). The result then has `skipped: true`.
   */
  readonly unlessGeneration?: number;
  /**
   * The agent's model of the table (see ApplyCache): while the generation is the one its last
   * apply left, the diff runs against the model instead of a dump. Updated after each apply.
   */
  readonly cache?: ApplyCache;
  /** dry-run only: device → ifindex for tc rules (the CLI's --ifindex) */
  readonly ifindex?: (dev: string) => number;
}

/**
 * What the table held after the last apply through this cache, valid while the ruleset
 * generation has not moved (nobody else committed). Counters in it are stale, so a plan that
 * would carry counters over (replace, move) reads the table again first.
 */
export class ApplyCache {
  generation: number | undefined;
  state: CurrentState | undefined;
  /** the other backends (tc, bpf, xdp) that held apply's rules after its last apply; undefined: not known, read them all */
  others: ReadonlySet<OtherVia> | undefined;
  clear(): void { this.generation = undefined; this.state = undefined; }
}

/** One line of a plan, in the user's words. */
export interface PlanStep {
  readonly action: StepAction;
  readonly chain: string;
  /** the kernel id: of the rule kept, replaced or removed; of the rule made (add, move) after a sent apply */
  readonly id?: string;
  /** the rule's index and name in the desired list, and its file line */
  readonly index?: number;
  readonly name?: string;
  readonly line?: number;
  readonly text: string;
  readonly reason?: string;
  /** counter values carried over (replace, move) or kept */
  readonly packets?: number;
  readonly bytes?: number;
}

export interface ApplyResult extends Counts {
  readonly steps: readonly PlanStep[];
  /** false for a plan, and for an apply that had nothing to change */
  readonly sent: boolean;
  /** batches refused by the generation check before this one went through */
  readonly retries: number;
  /** the generation the diff was computed against */
  readonly generation: number;
  /** the generation this apply left: one more than `generation` when a batch was sent (another commit since moves it further) */
  readonly generationAfter: number;
  /** unlessGeneration matched: nothing was dumped or diffed */
  readonly skipped?: boolean;
  readonly durationMs: number;
  /** `mark: auto` rules by name: the mark kept from the table, or picked now and why */
  readonly autoMarks?: readonly AutoMarkPick[];
}

export const DEFAULT_MAX_RETRIES = 5;
/**
 * One pool for every apply, the agent's too, and add's (the nft backend's SendPool: mapped
 * MADV_DONTFORK buffers, so a child process started between applies does not make the next
 * batch's pages copy-on-write). Keeping a 10,000-rule batch's 4 MB buffer costs less RSS than
 * letting it go: the agent's steady state measured 104-109 MB with it, 118-129 MB with a pool that
 * drops buffers over 1 MB (probably glibc: freeing a large block raises its mmap threshold, so
 * later large blocks come from its heap and stay resident).
 */
const pool: WriterPool = batchPool;

export type DesiredArg = DesiredState | DesiredStateInput | readonly DesiredRuleInput[];
/** parseDesired's and desiredFromInput's results are taken as they are; anything else is validated. */
export function toDesired(d: DesiredArg): DesiredState {
  return isDesiredState(d) ? d : desiredFromInput(d as DesiredStateInput | readonly DesiredRuleInput[]);
}

function checkOptions(opts: ApplyOptions): void {
  if (opts === null || typeof opts !== 'object') throw new PktmarkError('INVALID_OPTION', 'apply options must be an object', { field: 'options' });
  if (opts.prune !== undefined && opts.prune !== true && opts.prune !== false && opts.prune !== 'all') {
    throw new PktmarkError('INVALID_OPTION', `prune ${JSON.stringify(opts.prune)} must be true, false or "all"`, { field: 'prune' });
  }
  if (opts.maxRetries !== undefined && (!Number.isInteger(opts.maxRetries) || opts.maxRetries < 0)) {
    throw new PktmarkError('INVALID_OPTION', `maxRetries ${opts.maxRetries} must be an integer ≥ 0`, { field: 'maxRetries' });
  }
}

/**
 * The steps as the caller sees them. `text` (an nft command line) is made on first read and by
 * toJSON: a 10,000-rule apply should not format 10,000 lines nobody asked for.
 */
class Step implements PlanStep {
  readonly action: StepAction;
  readonly chain: string;
  declare readonly id?: string;
  declare readonly index?: number;
  declare readonly name?: string;
  declare readonly line?: number;
  declare readonly reason?: string;
  declare readonly packets?: number;
  declare readonly bytes?: number;
  constructor(private readonly s: Plan['steps'][number], private readonly table: string, id: string | undefined) {
    this.action = s.action;
    this.chain = s.chain;
    const d = s.desired;
    const c = s.current;
    const o = this as { -readonly [K in keyof PlanStep]?: PlanStep[K] };
    if (id !== undefined) o.id = id;
    if (d) o.index = d.index;
    const name = d?.name ?? c?.name;
    if (name !== undefined) o.name = name;
    if (d?.line !== undefined) o.line = d.line;
    if (s.reason !== undefined) o.reason = s.reason;
    if (c && s.action !== 'remove') { o.packets = Number(c.packets); o.bytes = Number(c.bytes); }
  }
  get text(): string {
    const r = this.s.desired?.rule ?? this.s.current?.rule;
    return r ? explainNft(r, this.table) : `# ${this.s.current?.id}: not a pktmark rule`;
  }
  toJSON(): PlanStep {
    const { s: _s, table: _t, ...rest } = this as unknown as Record<string, unknown>;
    return { ...(rest as unknown as PlanStep), text: this.text };
  }
}

function stepsOf(plan: Plan, table: string, made: Made): PlanStep[] {
  return plan.steps.map((s, i) => new Step(s, table, made.id(i) ?? (s.action === 'move' ? undefined : s.current?.id)));
}

/** Send the plan's batch; ERESTART/EBUSY → 'retry'. Other kernel errors name the desired rule. */
async function send(t: Transport, table: string, desired: DesiredState, plan: Plan, state: CurrentState, pool: WriterPool): Promise<Made | 'retry'> {
  const { batch, newRuleSteps } = encodeApplyBatch(plan, table, state.table, state.generation, () => t.nextSeq(), pool);
  let replies;
  try {
    replies = await t.exchange(batch.bytes, { seq: batch.ackSeq, until: 'ack' });
  } finally {
    pool.give(batch.writer);
  }
  const errors = errorsOf(replies);
  if (errors.length > 0) {
    if (errors.some((e) => LOST_RACE_ERRNOS.has(e.errno))) return 'retry';
    errors.sort((a, b) => batch.indexOfSeq(a.request.seq) - batch.indexOfSeq(b.request.seq));
    const describe = (i: number): string => {
      const s = plan.steps[i];
      return s.desired ? `${ruleLabel(s.desired, desired.source)} (${explainNft(s.desired.rule, table)})` : `rule ${s.current?.id}`;
    };
    const e = batchError('apply', errors[0], batch, describe);
    const at = batch.sentAt(batch.indexOfSeq(errors[0].request.seq));
    const d = at.item !== undefined ? plan.steps[at.item]?.desired : undefined;
    throw new PktmarkError(e.code, `${e.message}: nothing was applied`, {
      ...e.toJSON(),
      ...(d ? { messageIndex: d.index, field: `rules[${d.index}]${e.field !== undefined ? `.${e.field}` : ''}` } : {}),
    });
  }
  // handles of the new rules follow their send order (nf_tables_alloc_handle per NEWRULE)
  let first: bigint | undefined;
  let last: bigint | undefined;
  for (const m of replies) if (m.header.type === nftType(NFT_MSG_NEWRULE)) { const h = decodeRule(m).handle; if (h !== undefined) { first ??= h; last = h; } }
  if (first === undefined || last === undefined || newRuleSteps.length === 0 || last - first !== BigInt(newRuleSteps.length - 1)) return NOTHING_MADE;
  return new Made(plan.steps, first, newRuleSteps);
}

/**
 * apply (or, with `plan`, only compute) the desired state: nft rules in the Marker's table in one
 * atomic batch, and tc, bpf and xdp rules around it in the order others.ts explains.
 */
export async function apply(ctx: BackendContext, input: DesiredArg, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const started = performance.now();
  checkOptions(opts);
  const desired = toDesired(input);
  const prune = opts.prune ?? true;
  const wanted = new Set<OtherVia>();
  for (const d of desired.rules) {
    const via = d.rule.via;
    if (d.rule.srcList || d.rule.dstList) {
      throw new PktmarkError('UNSUPPORTED', `${ruleLabel(d, desired.source)}: apply does not manage address lists (sets) yet`,
        { field: `rules[${d.index}].${d.rule.srcList ? 'src' : 'dst'}`, messageIndex: d.index, hint: 'add the list rule with add (--src @FILE) and change it with update (pktmark set add|del)' });
    }
    // a port list is an anonymous set the kernel names (__setN): apply would have to read the sets back to diff it
    const portList = needsSet(d.rule.sports) ? 'sport' : needsSet(d.rule.dports) ? 'dport' : undefined;
    if (portList) {
      throw new PktmarkError('UNSUPPORTED', `${ruleLabel(d, desired.source)}: apply does not manage port lists (anonymous sets) yet`,
        { field: `rules[${d.index}].${portList}`, messageIndex: d.index, hint: 'one rule per port or a port range, or add the list rule with add' });
    }
    if (via === 'nft') continue;
    if (!isOtherVia(via)) {
      throw new PktmarkError('UNSUPPORTED', `${ruleLabel(d, desired.source)}: apply manages nft, tc, bpf and xdp rules; via ${JSON.stringify(via)} attaches host-wide, outside any namespace`,
        { field: `rules[${d.index}].via`, messageIndex: d.index, hint: 'use add for cgroup rules' });
    }
    if (d.autoMask !== undefined) {
      throw new PktmarkError('UNSUPPORTED', `${ruleLabel(d, desired.source)}: an auto mark is kept in an nft rule's userdata; a ${via} rule needs its mark as V/M`,
        { field: `rules[${d.index}].mark`, messageIndex: d.index, hint: 'pick one with pktmark conflicts, or make the rule an nft one' });
    }
    wanted.add(via);
  }
  // where apply's rules may be: the file's backends, and (pruning) wherever the last apply left some
  const known = opts.cache?.others;
  const vias = OTHER_VIAS.filter((v) => wanted.has(v) || (prune !== false && (known === undefined || known.has(v))));
  const current = await readOthers(ctx, vias, wanted);
  const others = vias.flatMap((v) => diffOthers(v, desired.rules.filter((d) => d.rule.via === v), current.get(v)!, prune));
  const nft = narrowDesired(desired, (d) => d.rule.via === 'nft');
  const changes = others.some((s) => s.action !== 'keep');
  const remember = (): void => {
    if (opts.cache) opts.cache.others = new Set(others.filter((s) => s.action !== 'remove').map((s) => s.via));
  };
  if (opts.plan || !changes) {
    const r = await applyNft(ctx, nft, opts, started);
    if (!opts.plan) remember();
    return withOthers(r, others, new Map(), ctx.table, false);
  }
  const added = await addOthers(ctx, others);
  let r: ApplyResult;
  try {
    r = await applyNft(ctx, nft, opts, started);
  } catch (e) {
    await undoAdded(ctx, added);
    throw e;
  }
  await removeOthers(ctx, others);
  remember();
  return withOthers(r, others, added, ctx.table, true);
}

/** The nft half: read, diff, one batch guarded by the generation, retried when another writer moved it. */
async function applyNft(ctx: BackendContext, input: DesiredState, opts: ApplyOptions, started: number): Promise<ApplyResult> {
  let desired = input;
  const picks = new Map<string, AutoMarkPick>();
  const t = await ctx.transport(NETLINK_NETFILTER);
  const max = opts.maxRetries ?? DEFAULT_MAX_RETRIES;
  // the desired rules as a dump shows them, made on the first read that needs them
  let known: KnownRules | undefined;
  const knownRules = (): KnownRules => (known ??= new KnownRules(input.rules, ctx.table));
  for (let attempt = 0; ; attempt++) {
    const generation = await readGeneration(t);
    if (attempt === 0 && opts.unlessGeneration === generation) {
      return { added: 0, removed: 0, replaced: 0, moved: 0, kept: 0, steps: [], sent: false, retries: 0, generation, generationAfter: generation, skipped: true, durationMs: performance.now() - started };
    }
    const cache = opts.cache;
    let state = cache?.state && cache.generation === generation ? cache.state : await readState(t, ctx.table, generation, knownRules);
    // auto marks: kept from the named rule in the table, else picked by a live scan (once)
    if (desired.rules.some((d) => d.autoMask !== undefined)) desired = await resolveAutoMarks(ctx, desired, state.rules, picks);
    let plan = diff(desired, state.rules, opts.prune ?? true);
    if (state === cache?.state && (plan.counts.replaced > 0 || plan.counts.moved > 0)) {
      state = await readState(t, ctx.table, generation, knownRules); // fresh counters to carry over
      plan = diff(desired, state.rules, opts.prune ?? true);
    }
    const done = (sent: boolean, made: Made = NOTHING_MADE): ApplyResult => ({
      ...plan.counts, steps: stepsOf(plan, ctx.table, made), sent, retries: attempt, generation: state.generation,
      generationAfter: sent ? nextGeneration(state.generation) : state.generation,
      durationMs: performance.now() - started,
      ...(picks.size ? { autoMarks: [...picks.values()] } : {}),
    });
    if (opts.plan) return done(false);
    if (isEmpty(plan)) {
      // a fresh dump's records are kept as records of the desired rules (one MarkRule per rule, not two)
      if (cache) { cache.generation = generation; cache.state = state === cache.state ? state : stateAfter(plan, NOTHING_MADE, generation, state.table) ?? state; }
      return done(false);
    }
    let r: Made | 'retry';
    try {
      r = await send(t, ctx.table, desired, plan, state, pool);
    } catch (e) { cache?.clear(); throw e; }
    if (r !== 'retry') {
      if (cache) {
        const next = nextGeneration(state.generation);
        const after = stateAfter(plan, r, next);
        if (after) { cache.generation = next; cache.state = after; } else cache.clear();
      }
      return done(true, r);
    }
    cache?.clear();
    if (attempt >= max) {
      throw new PktmarkError('BUSY', `apply lost the race with other writers ${attempt + 1} times (the ruleset generation moved between read and batch); nothing was applied`,
        { hint: 'another program keeps changing nftables; try again' });
    }
  }
}

/**
 * `apply --dry-run`: the plan and the batch's messages against an empty kernel (no table, no
 * generation to guard), without a socket or privileges.
 */
export function dryRunApply(input: DesiredArg, table: string, opts: Pick<ApplyOptions, 'ifindex'> = {}): { result: ApplyResult; messages: Uint8Array[] } {
  const started = performance.now();
  const all = toDesired(input);
  const auto = all.rules.find((d) => d.autoMask !== undefined);
  if (auto) {
    throw new PktmarkError('INVALID_MARK', `${ruleLabel(auto, all.source)}: an auto mark is picked by a live scan of this system's mark users, so it cannot be encoded offline`,
      { field: `rules[${auto.index}].mark`, messageIndex: auto.index, hint: 'run without --dry-run (then the scan picks it), or give the mark as V/M' });
  }
  const desired = narrowDesired(all, (d) => d.rule.via === 'nft');
  const plan = diff(desired, [], true);
  let seq = 0;
  const messages = isEmpty(plan) ? [] : encodeApplyBatch(plan, table, 'absent', undefined, () => ++seq).batch.messages();
  const others: OtherStep[] = [];
  for (const via of OTHER_VIAS) {
    const mine = all.rules.filter((d) => d.rule.via === via);
    if (mine.length === 0) continue;
    others.push(...mine.map((d): OtherStep => ({ action: 'add', via, desired: d })));
    messages.push(...BACKENDS[via].encodeAdd(mine.map((d) => d.rule), { table, nextSeq: () => ++seq, ...(opts.ifindex ? { ifindex: opts.ifindex } : {}) }));
  }
  const nftResult: ApplyResult = { ...plan.counts, steps: stepsOf(plan, table, NOTHING_MADE), sent: false, retries: 0, generation: 0, generationAfter: 0, durationMs: performance.now() - started };
  return { result: withOthers(nftResult, others, new Map(), table, false), messages };
}
