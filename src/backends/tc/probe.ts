/**
 * tc's probe: clsact, cls_u32, and the actions. An action module is loaded when a filter that
 * uses it is added, so a u32 filter carrying only that action says whether it exists.
 */
import { PARENT_INGRESS, ETH_P_ALL } from '../../../codecs/tc/constants.js';
import { encodeNewFilter } from '../../../codecs/tc/filter.js';
import { encodeNewIngressQdisc } from '../../../codecs/tc/qdisc.js';
import { normalizeWith } from '../../rule.js';
import { execute } from '../../transport/execute.js';
import type { Check, ProbeContext, ProbeResult } from '../backend.js';
import { LO, probeCheck } from '../probe.js';
import { tcFields } from './fields.js';
import { ruleActions, ruleToFilter } from './rule.js';

export async function probeTc({ route }: ProbeContext): Promise<ProbeResult> {
  const tcRule = normalizeWith(tcFields, { via: 'tc', dev: 'lo', mark: 1, rate: '1/second', burst: 1 });
  const base = ruleToFilter(tcRule, { ifindex: LO, qdisc: 'clsact' });
  const u32 = base.options as Extract<NonNullable<typeof base.options>, { kind: 'u32' }>;
  const [police, skbedit] = ruleActions(tcRule);
  const filter = (prio: number, actions: typeof u32.actions) => (w: Parameters<typeof encodeNewFilter>[0], seq: number): void =>
    encodeNewFilter(w, seq, { ...base, prio, parent: PARENT_INGRESS, protocol: ETH_P_ALL, options: { ...u32, actions } });

  const checks: Check[] = [];
  const clsact = await probeCheck('clsact', '', () => execute(route, 'add clsact qdisc', (w, seq) => encodeNewIngressQdisc(w, seq, LO, 'clsact')));
  const u32Check = await probeCheck('cls_u32', 'u32 filter accepted', () => execute(route, 'add u32 filter', filter(1, [])));
  checks.push(clsact.status === 'yes' ? u32Check : { ...u32Check, status: 'unknown', detail: `not probed: the clsact qdisc was refused (${clsact.detail})` });
  for (const [name, prio, action] of [['act_skbedit', 2, { ...skbedit, order: 1 }], ['act_police', 3, { ...police, order: 1 }]] as const) {
    const c = await probeCheck(name, `${name.slice(4)} action accepted`, () => execute(route, `add u32 filter with ${name.slice(4)}`, filter(prio, [action])));
    checks.push(u32Check.status === 'yes' ? c : { ...c, status: 'unknown', detail: `not probed: needs cls_u32 (${c.detail})` });
  }
  const ok = (n: string): boolean => checks.find((c) => c.name === n)?.status === 'yes';
  return { checks, usable: ok('cls_u32') && ok('act_skbedit') };
}
