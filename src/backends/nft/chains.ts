/**
 * pktmark's base chains: one per iptables table and hook, at iptables' priorities, so `*raw`
 * rules run before conntrack (-200) and `*mangle` rules after it (where `ct mark` is known),
 * in the same order as iptables'. The two chains pktmark had before keep their names (and so
 * their rule ids): raw PREROUTING is `prerouting`, mangle OUTPUT is `output`; the other two are
 * `mangle_prerouting` and `raw_output`. Ids are `nft:CHAIN:HANDLE` with one of these four.
 */
import { NF_INET_LOCAL_OUT, NF_INET_PRE_ROUTING } from '../../../codecs/nftables/messages.js';
import type { Hook, MarkRule, XtTable } from '../../rule.js';

export interface BaseChain {
  readonly name: string;
  readonly hook: Hook;
  readonly table: XtTable;
  readonly type: 'filter' | 'route';
  readonly num: number;
  readonly priority: number;
}

/** In the order a batch creates them and `list` shows them: by hook, then by priority. */
export const BASE_CHAINS: readonly BaseChain[] = [
  { name: 'prerouting', hook: 'prerouting', table: 'raw', type: 'filter', num: NF_INET_PRE_ROUTING, priority: -300 },
  { name: 'mangle_prerouting', hook: 'prerouting', table: 'mangle', type: 'filter', num: NF_INET_PRE_ROUTING, priority: -150 },
  { name: 'raw_output', hook: 'output', table: 'raw', type: 'filter', num: NF_INET_LOCAL_OUT, priority: -300 },
  // type route: a mark set in mangle OUTPUT re-routes the packet, as in iptables
  { name: 'output', hook: 'output', table: 'mangle', type: 'route', num: NF_INET_LOCAL_OUT, priority: -150 },
];

/** The iptables table a hook's rules go to when the rule names none (what pktmark did before tables). */
export const DEFAULT_TABLE: Readonly<Record<Hook, XtTable>> = { prerouting: 'raw', output: 'mangle' };

export function baseChain(hook: Hook, table: XtTable = DEFAULT_TABLE[hook]): BaseChain {
  return BASE_CHAINS.find((c) => c.hook === hook && c.table === table)!;
}

export const chainOf = (r: Pick<MarkRule, 'hook' | 'table'>): string => baseChain(r.hook ?? 'prerouting', r.table).name;

export const chainByName = (name: string): BaseChain | undefined => BASE_CHAINS.find((c) => c.name === name);
