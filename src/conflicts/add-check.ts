/**
 * What `add` does with a scan: replace each `mark: 'auto[/MASK]'` by a picked free bit (later
 * rules of the same add avoid earlier picks), and collect every live user the marks overlap.
 * The caller decides: the CLI warns (or refuses with --strict), Marker.add with
 * `checkConflicts: true` refuses with MARK_CONFLICT. Nothing is sent here.
 */
import type { MarkRuleInput } from '../rule.js';
import { parseMarkSpec } from '../rule.js';
import { autoMask, liveOverlaps, pickAutoMark, type AutoChoice } from './auto.js';
import type { MarkUser } from './types.js';

export interface AddCheck {
  /** the rules with every auto mark replaced by its pick (as `V/M`) */
  readonly inputs: MarkRuleInput[];
  /** one per auto rule, by input index */
  readonly choices: readonly (AutoChoice & { readonly index: number })[];
  /** live users each non-auto rule overlaps, by input index */
  readonly overlaps: readonly { readonly index: number; readonly mark: number; readonly mask: number; readonly users: readonly MarkUser[] }[];
}

export function checkAdd(inputs: readonly MarkRuleInput[], users: readonly MarkUser[]): AddCheck {
  let taken = 0;
  const out: MarkRuleInput[] = [];
  const choices: (AutoChoice & { index: number })[] = [];
  const overlaps: AddCheck['overlaps'][number][] = [];
  inputs.forEach((r, index) => {
    const within = autoMask(r.mark);
    if (within !== undefined) {
      const c = pickAutoMark(users, within, taken);
      taken = (taken | c.mask) >>> 0;
      choices.push({ ...c, index });
      out.push({ ...r, mark: `0x${c.mark.toString(16)}/0x${c.mask.toString(16)}` });
      return;
    }
    out.push(r);
    const { mark, mask } = parseMarkSpec(r.mark, r.mask, r.xor === true);
    const hit = liveOverlaps(users, mark, mask);
    if (hit.length) overlaps.push({ index, mark, mask, users: hit });
  });
  return { inputs: out, choices, overlaps };
}
