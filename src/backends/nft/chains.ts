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
  // a loop over four, not find() with a closure: chainOf asks for every rule of a bulk add
  for (let i = 0; i < BASE_CHAINS.length; i++) {
    const c = BASE_CHAINS[i];
    if (c.hook === hook && c.table === table) return c;
  }
  return undefined!;
}

/** The nft chain a rule goes to: its user chain (userChainNft below), or the base chain of its hook and table. */
export const chainOf = (r: Pick<MarkRule, 'hook' | 'table' | 'chain'>): string =>
  (r.chain !== undefined ? userChainNft(r.table ?? 'mangle', r.chain) : baseChain(r.hook ?? 'prerouting', r.table).name);

export const chainByName = (name: string): BaseChain | undefined => BASE_CHAINS.find((c) => c.name === name);

/**
 * User-defined chains (iptables -N) are regular chains of pktmark's table, named
 * `TABLE.NAME` (`mangle.MYCHAIN`), so raw's and mangle's chains of one name do not collide and
 * no user chain can take a base chain's name (base names have no dot). Names follow iptables
 * (at most 28 bytes, not a built-in chain or a target) within what an id can carry (no `:`).
 */
export const MAX_USER_CHAIN = 28;
const RESERVED = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING', 'RETURN', 'ACCEPT', 'DROP', 'QUEUE', 'MARK', 'CONNMARK']);

/** Why `name` cannot be a user chain, or undefined when it can. */
export function userChainProblem(name: string): string | undefined {
  if (name.length === 0) return 'a chain name is empty';
  if (new TextEncoder().encode(name).length > MAX_USER_CHAIN) return `chain name ${JSON.stringify(name)} is too long (at most ${MAX_USER_CHAIN} bytes)`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(name)) return `chain name ${JSON.stringify(name)}: use letters, digits and _ . + - (not first: . + -)`;
  if (RESERVED.has(name)) return `chain name ${name} is a built-in chain or a target`;
  return undefined;
}

export const userChainNft = (table: XtTable, name: string): string => `${table}.${name}`;

/** A user chain's table and iptables name from its nft name, or undefined for other chains. */
export function userChainOf(nftName: string): { table: XtTable; name: string } | undefined {
  const m = /^(raw|mangle)\.(.+)$/.exec(nftName);
  if (!m || userChainProblem(m[2]) !== undefined) return undefined;
  return { table: m[1] as XtTable, name: m[2] };
}

/** The table comment that says "pktmark made this table". */
export const OWNER_COMMENT = 'pktmark';
