/**
 * `mark: auto[/MASK]` in a desired-state file: a named rule's mark is picked once and then kept.
 * The pick lives where the rule does — in the kernel: the managed rule of the same name already
 * carries its mark, so a later apply reads it back from the table (apply/state.ts) and reuses
 * it, whatever a scan would say now. Only a rule with no kept mark (new, or its mark no longer a
 * single bit within MASK) is picked, by one live scan for all of them.
 */
import type { CurrentRule } from '../apply/state.js';
import type { DesiredState } from '../apply/desired.js';
import type { BackendContext } from '../backends/backend.js';
import type { Mark, Mask } from '../rule.js';
import { pickAutoMark } from './auto.js';
import { scan } from './scan.js';
import type { MarkUser } from './types.js';

export interface AutoMarkPick {
  readonly name: string;
  readonly mark: number;
  readonly mask: number;
  /** `kept`: the rule already had it in the table; `picked`: chosen by this apply's scan */
  readonly how: 'kept' | 'picked';
  readonly why: string;
}

const usable = (k: { mark: number; mask: number } | undefined, within: number): boolean =>
  k !== undefined && k.mark === k.mask && k.mask !== 0 && (k.mask & (k.mask - 1)) === 0 && (k.mask & ~within) === 0;

/** The desired state with every auto mark replaced; `picks` (by name) is filled and reused across an apply's retries. */
export async function resolveAutoMarks(
  ctx: Pick<BackendContext, 'transport' | 'table'>, desired: DesiredState, current: readonly CurrentRule[], picks: Map<string, AutoMarkPick>,
): Promise<DesiredState> {
  const kept = new Map<string, { mark: number; mask: number }>();
  for (const c of current) if (c.managed && c.name !== undefined && c.rule) kept.set(c.name, { mark: c.rule.mark, mask: c.rule.mask });
  // kept marks first, so a new pick never takes a bit another auto rule of the file keeps
  let taken = 0;
  for (const d of desired.rules) {
    if (d.autoMask === undefined || d.name === undefined) continue;
    const k = picks.get(d.name) ?? kept.get(d.name);
    if (usable(k, d.autoMask)) {
      taken |= k!.mask;
      if (!picks.has(d.name)) picks.set(d.name, { name: d.name, mark: k!.mark, mask: k!.mask, how: 'kept', why: 'the rule already has it (chosen by an earlier apply)' });
    }
  }
  let users: readonly MarkUser[] | undefined;
  for (const d of desired.rules) {
    if (d.autoMask === undefined || d.name === undefined || picks.has(d.name)) continue;
    users ??= (await scan(ctx)).users;
    const c = pickAutoMark(users, d.autoMask, taken);
    taken |= c.mask;
    picks.set(d.name, { name: d.name, mark: c.mark, mask: c.mask, how: 'picked', why: c.why });
  }
  return {
    ...desired,
    rules: desired.rules.map((d) => {
      const c = d.name === undefined || d.autoMask === undefined ? undefined : picks.get(d.name);
      return c ? { ...d, rule: { ...d.rule, mark: c.mark as Mark, mask: c.mask as Mask } } : d;
    }),
  };
}
