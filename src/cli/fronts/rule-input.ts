/** MarkRule (decoded, normalized) → MarkRuleInput, so a listed rule can be compared or re-added. */
import type { MarkRule, MarkRuleInput } from '../../rule.js';
import { addressText } from '../output.js';
import { formatPortMatch } from '../../ports.js';

export function ruleToInput(r: MarkRule): MarkRuleInput {
  const o: Record<string, unknown> = { ...r };
  if (r.src) o.src = addressText(r.src);
  if (r.dst) o.dst = addressText(r.dst);
  if (r.sports) { o.sport = formatPortMatch(r.sports); delete o.sports; }
  if (r.dports) { o.dport = formatPortMatch(r.dports); delete o.dports; }
  if (r.rate) { o.rate = `${r.rate.rate}/${r.rate.unit}`; o.burst = r.rate.burst; }
  // a connmark or jump statement's rule has no mark to give (its 0/0 is the model's "mark unchanged")
  if (r.connmark || r.jump !== undefined) { delete o.mark; delete o.mask; delete o.xor; }
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o as unknown as MarkRuleInput;
}

/** A canonical text of a normalized rule: equal texts ⇔ the same rule. */
export function ruleKey(r: MarkRule): string {
  const o = r as unknown as Record<string, unknown>;
  return JSON.stringify(Object.keys(o).filter((k) => o[k] !== undefined && !(k === 'xor' && o[k] === false)).sort().map((k) => [k, o[k]]));
}
