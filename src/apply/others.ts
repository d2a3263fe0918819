/**
 * apply's part for the backends that are not one nftables batch: tc filters and the bpf and xdp
 * programs. The kernel has no transaction across them, so apply orders the work to keep
 * "nothing applied" true on every error it can see coming: every new rule is added first (each
 * backend rolls back its own half-made add), then the nft batch goes, and only after both the
 * rules that are no longer wanted are deleted. A failure before the deletes removes what was
 * added; a failure in the deletes is reported with what was left.
 *
 * Ownership: a rule apply made carries an ApplyTag with it in the kernel (tc: its action cookie;
 * bpf, xdp: its config slot) — the hash of its name, or 0 — so apply finds its own rules with no
 * state file, and leaves rules made by `add` alone unless pruning is 'all'.
 */
import { PktmarkError } from '../errors.js';
import type { MarkRule } from '../rule.js';
import { BACKENDS, type Via } from '../backends/index.js';
import type { ApplyTag, BackendContext, RuleRecord } from '../backends/backend.js';
import type { DesiredRule } from './desired.js';
import { ruleKey, type Prune, type StepAction } from './diff.js';

/** The backends apply reconciles besides nft, in the order it visits them. cgroup rules are host-wide, not per namespace: `add` only. */
export const OTHER_VIAS = ['tc', 'bpf', 'xdp'] as const satisfies readonly Via[];
export type OtherVia = (typeof OTHER_VIAS)[number];
export const isOtherVia = (v: Via): v is OtherVia => (OTHER_VIAS as readonly Via[]).includes(v);

/** 32-bit FNV-1a of the name's UTF-8; unnamed rules are 0, so a named rule never hashes to 0. */
export function nameHash(name: string | undefined): number {
  if (name === undefined) return 0;
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h === 0 ? 1 : h;
}
export const tagOf = (d: DesiredRule): ApplyTag => ({ nameHash: nameHash(d.name) });

export interface OtherStep {
  readonly action: Exclude<StepAction, 'move'>;
  readonly via: OtherVia;
  readonly desired?: DesiredRule;
  /** the kernel's rule: kept, replaced (the old one) or removed */
  readonly current?: RuleRecord;
}

/** The rule's content identity; the kernel fills in a tc/bpf prio the file did not ask for, so it is left out then. */
function contentKey(r: MarkRule, withPrio: boolean): string {
  if (withPrio || r.prio === undefined) return ruleKey(r);
  const { prio: _p, ...rest } = r;
  return ruleKey(rest as MarkRule);
}

/** What each backend holds now (`vias` in order); rules apply did not make count only for prune 'all'. */
export async function readOthers(ctx: BackendContext, vias: readonly OtherVia[], required: ReadonlySet<OtherVia>): Promise<Map<OtherVia, RuleRecord[]>> {
  const out = new Map<OtherVia, RuleRecord[]>();
  for (const via of vias) {
    try {
      out.set(via, await BACKENDS[via].list(ctx));
    } catch (e) {
      // a backend this file does not use and this host cannot read (no bpf(), no permission) holds nothing apply could own
      if (required.has(via)) throw e;
      out.set(via, []);
    }
  }
  return out;
}

/**
 * The plan for one backend: a named rule is found by its name's hash, an unnamed one by its
 * content among apply's unnamed rules. A named rule whose content changed is replaced (added
 * anew, the old one deleted after), since tc and bpf have no replace-in-place for a match.
 */
export function diffOthers(via: OtherVia, desired: readonly DesiredRule[], current: readonly RuleRecord[], prune: Prune): OtherStep[] {
  const steps: OtherStep[] = [];
  const used = new Set<RuleRecord>();
  const managed = current.filter((c) => c.applyTag !== undefined);
  for (const d of desired) {
    const withPrio = d.rule.prio !== undefined;
    const want = contentKey(d.rule, withPrio);
    const h = nameHash(d.name);
    const sameName = managed.filter((c) => !used.has(c) && c.applyTag!.nameHash === h);
    const same = sameName.find((c) => c.rule !== undefined && contentKey(c.rule, withPrio) === want);
    if (same) { used.add(same); steps.push({ action: 'keep', via, desired: d, current: same }); continue; }
    if (d.name !== undefined && sameName.length > 0) {
      used.add(sameName[0]);
      steps.push({ action: 'replace', via, desired: d, current: sameName[0] });
      continue;
    }
    steps.push({ action: 'add', via, desired: d });
  }
  if (prune !== false) {
    for (const c of current) {
      if (used.has(c) || (c.applyTag === undefined && prune !== 'all')) continue;
      steps.push({ action: 'remove', via, current: c });
    }
  }
  return steps;
}

/** The added rules' records, by via, for the rollback and for the result's ids. */
export type Added = Map<OtherVia, { readonly steps: readonly OtherStep[]; readonly records: readonly RuleRecord[] }>;

/** Add every new rule (add and replace steps), one backend call per via; a later failure removes the earlier vias' rules. */
export async function addOthers(ctx: BackendContext, steps: readonly OtherStep[]): Promise<Added> {
  const added: Added = new Map();
  try {
    for (const via of OTHER_VIAS) {
      const mine = steps.filter((s) => s.via === via && (s.action === 'add' || s.action === 'replace'));
      if (mine.length === 0) continue;
      const records = await BACKENDS[via].add(mine.map((s) => s.desired!.rule), ctx, { tags: mine.map((s) => tagOf(s.desired!)) });
      added.set(via, { steps: mine, records });
    }
    return added;
  } catch (e) {
    await undoAdded(ctx, added);
    throw e;
  }
}

/** Remove what addOthers made (best effort: the original error is the one reported). */
export async function undoAdded(ctx: BackendContext, added: Added): Promise<void> {
  for (const [via, a] of [...added].reverse()) {
    try { await BACKENDS[via].delete(a.records.map((r) => r.id), ctx); } catch { /* keep the first error */ }
  }
}

/** Delete the rules no longer wanted (remove steps, and the old half of replace steps). */
export async function removeOthers(ctx: BackendContext, steps: readonly OtherStep[]): Promise<void> {
  for (const via of OTHER_VIAS) {
    const ids = steps.filter((s) => s.via === via && (s.action === 'remove' || s.action === 'replace')).map((s) => s.current!.id);
    if (ids.length === 0) continue;
    try {
      await BACKENDS[via].delete(ids, ctx);
    } catch (e) {
      const base = e instanceof PktmarkError ? e : new PktmarkError('KERNEL', String(e));
      throw new PktmarkError(base.code, `apply added its new rules but could not delete ${ids.join(', ')}: ${base.message}`, { ...base.toJSON(), hint: 'run apply again to finish; the new rules are in place' });
    }
  }
}
