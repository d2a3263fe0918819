/**
 * What a sent batch made, and the table after it as ApplyCache keeps it: the model a warm agent
 * diffs its next change against instead of dumping 10,000 rules again.
 */
import { ruleId } from '../backends/nft/index.js';
import { BASE_CHAINS } from '../backends/nft/chains.js';
import type { Plan, Step } from './diff.js';
import type { CurrentRule, CurrentState } from './state.js';
import type { TableState } from '../backends/nft/index.js';

/**
 * The rules a batch made, by plan step: their handles are consecutive from `first`, in send order
 * (nf_tables_alloc_handle per NEWRULE). Handles and ids are worked out when asked for, not kept
 * per rule: an apply into an empty table makes 10,000.
 */
export class Made {
  /** per plan step: 1 + its place in send order; 0 for a step that made no rule */
  private readonly order: Int32Array;
  /** `first` as a number when every handle of the batch is a safe one (ids print the same) */
  private readonly base: number | undefined;
  constructor(private readonly steps: readonly Step[], private readonly first: bigint, newRuleSteps: readonly number[]) {
    this.order = new Int32Array(newRuleSteps.length > 0 ? steps.length : 0);
    for (let k = 0; k < newRuleSteps.length; k++) this.order[newRuleSteps[k]] = k + 1;
    this.base = first + BigInt(newRuleSteps.length) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(first) : undefined;
  }
  handle(i: number): bigint | undefined {
    const k = this.order.length > 0 ? this.order[i] : 0;
    return k > 0 ? this.first + BigInt(k - 1) : undefined;
  }
  id(i: number): string | undefined {
    const k = this.order.length > 0 ? this.order[i] : 0;
    if (k === 0) return undefined;
    return ruleId(this.steps[i].chain, this.base !== undefined ? this.base + k - 1 : this.first + BigInt(k - 1));
  }
}

/** Nothing made (a plan, an apply with nothing to send, handles not learned). */
export const NOTHING_MADE = new Made([], 0n, []);

/**
 * The table after `plan` was committed, as far as diff cares: unmanaged rules, then each chain's
 * rules in desired order. `table`: 'ours' after a sent batch (it makes the table when absent);
 * an apply that sent nothing leaves it as it was, and an absent table must stay absent in the
 * model, or the next apply would send NEWRULEs without the NEWTABLE (ENOENT).
 */
export function stateAfter(plan: Plan, made: Made, generation: number, table: TableState = 'ours'): CurrentState | undefined {
  // every rule the plan names was kept, replaced, moved or removed: the others stay as they were
  const rules: CurrentRule[] = plan.untouched.slice();
  const steps = plan.steps;
  // chain by chain (a pass over the steps per base chain: cheaper than a list of indices per chain)
  for (const { name: h } of BASE_CHAINS) {
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      if (s.chain !== h || s.action === 'remove') continue;
      const d = s.desired!;
      const c = s.current;
      // a kept rule that already is this record (the last apply's, as this function made it): reuse it
      if (s.action === 'keep' && c!.rule === d.rule && c!.name === d.name && c!.packets === 0n && c!.bytes === 0n) { rules.push(c!); continue; }
      let handle: bigint;
      let id: string;
      if (s.action === 'keep' || s.action === 'replace') { handle = c!.handle; id = c!.id; }
      else {
        const m = made.handle(i);
        if (m === undefined) return undefined; // handles not learned: the next apply dumps
        handle = m; id = made.id(i)!;
      }
      rules.push({ chain: h, handle, id, rule: d.rule, managed: true, packets: 0n, bytes: 0n, ...(d.name !== undefined ? { name: d.name } : {}) });
    }
  }
  return { generation, table, rules };
}
