/** The tc, bpf and xdp steps of an apply as plan lines, merged into the nft half's result. */
import { BACKENDS } from '../backends/index.js';
import type { ApplyResult, PlanStep } from './index.js';
import type { Added, OtherStep } from './others.js';

/** The ids the backends gave the rules they made, by step. */
function madeIds(added: Added): Map<OtherStep, string> {
  const ids = new Map<OtherStep, string>();
  for (const a of added.values()) a.steps.forEach((s, k) => { const r = a.records[k]; if (r) ids.set(s, r.id); });
  return ids;
}

function planStep(s: OtherStep, table: string, made: ReadonlyMap<OtherStep, string>): PlanStep {
  const b = BACKENDS[s.via];
  const d = s.desired, c = s.current;
  const rule = d?.rule ?? c?.rule;
  // the one-line summary (bpf's explain goes on with the disassembly)
  const text = s.action === 'remove' || s.action === 'keep' ? c!.text : b.explain(d!.rule, { table }).split('\n')[0];
  const id = s.action === 'add' || s.action === 'replace' ? made.get(s) : c?.id;
  const name = d?.name;
  return {
    action: s.action,
    chain: rule ? `${s.via} ${b.where(rule)}` : s.via,
    ...(id !== undefined ? { id } : {}),
    ...(d ? { index: d.index } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(d?.line !== undefined ? { line: d.line } : {}),
    text,
    ...(s.action === 'replace' ? { reason: `replaces ${c!.id} (a ${s.via} match cannot change in place: the new rule goes in first, then the old one is deleted)` } : {}),
    ...(c && s.action === 'keep' ? { packets: c.packets, bytes: c.bytes } : {}),
  };
}

/** `sentOthers`: tc, bpf or xdp rules were added or deleted (a plan, or nothing to change, sends none). */
export function withOthers(r: ApplyResult, others: readonly OtherStep[], added: Added, table: string, sentOthers: boolean): ApplyResult {
  if (others.length === 0) return r;
  const made = madeIds(added);
  const count = (a: OtherStep['action']): number => others.filter((s) => s.action === a).length;
  const { skipped: _skipped, ...rest } = r;
  return {
    ...rest,
    ...(r.skipped && !sentOthers ? { skipped: true } : {}),
    added: r.added + count('add'),
    removed: r.removed + count('remove'),
    replaced: r.replaced + count('replace'),
    kept: r.kept + count('keep'),
    steps: [...r.steps, ...others.map((s) => planStep(s, table, made))],
    sent: r.sent || sentOthers,
  };
}
