/**
 * Where verify watches a rule's traffic: the netfilter points after the place the mark is set,
 * in the order a packet meets them. A prerouting mark (nft prerouting, or tc/bpf/xdp ingress,
 * which run before netfilter) is watched right after it is set, at the end of prerouting, at the
 * end of input or forward, and (forwarded packets) at the end of postrouting; an output mark at
 * the end of output and of postrouting. "The end" is priority INT32_MAX (NF_IP_PRI_LAST), so
 * every other chain of the hook has run.
 */
import { PktmarkError } from '../errors.js';
import { FULL_MASK, type MarkRule } from '../rule.js';
import { chainByName, chainOf } from '../backends/nft/chains.js';

/** linux/netfilter.h enum nf_inet_hooks */
export const HOOKS = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 } as const;
export type HookName = keyof typeof HOOKS;

/** NF_IP_PRI_FIRST / NF_IP_PRI_LAST (linux/netfilter_ipv4.h) */
export const PRI_FIRST = -0x80000000;
export const PRI_LAST = 0x7fffffff;

export type PointName = 'marked' | 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface ObservationPoint {
  /** also the observer chain's name */
  readonly name: PointName;
  readonly hook: HookName;
  readonly priority: number;
}

/** A step of the path: packets counted at `from` go on to one of `to` (input or forward split). */
export interface Edge { readonly from: PointName; readonly to: readonly PointName[] }

export interface VerifyPlan {
  /** the fields observers match: the rule's packet matches, without its rate, mark match and mark */
  readonly match: MarkRule;
  readonly mark: number;
  readonly mask: number;
  readonly points: readonly ObservationPoint[];
  readonly edges: readonly Edge[];
  /** what verify cannot see for this rule, in words for the report */
  readonly limits: readonly string[];
}

const NAT_LIMIT = 'observers match the packet\'s current addresses and ports: where NAT rewrites them (DNAT in prerouting, SNAT in postrouting), later points see fewer packets of the rule\'s traffic, reported as not seen';

function unsupported(message: string, hint?: string): never {
  throw new PktmarkError('UNSUPPORTED', message, { field: 'id', ...(hint ? { hint } : {}) });
}

/** The plan for a rule, or UNSUPPORTED when netfilter cannot watch its mark. */
export function planFor(rule: MarkRule): VerifyPlan {
  if (rule.xor) unsupported('an xor rule toggles bits of the old mark: there is no single mark to look for');
  let markedAt: ObservationPoint;
  const match: { -readonly [K in keyof MarkRule]?: MarkRule[K] } = { ...rule };
  delete match.rate;
  delete match.markMatch;
  const limits: string[] = [];
  if (rule.via === 'nft') {
    const chain = chainByName(chainOf(rule))!;
    markedAt = { name: 'marked', hook: chain.hook === 'output' ? 'output' : 'prerouting', priority: chain.priority + 1 };
    limits.push('"marked" is counted just after pktmark\'s chain (priority +1): a later pktmark rule in the same chain changes it too');
  } else if (rule.via === 'cgroup') {
    return unsupported('a cgroup rule marks sockets, and nft observers cannot select a cgroup\'s packets without changing them',
      'verify an nft rule for the same traffic (e.g. --hook output --src ADDR), or watch with ipft (pktmark ipft-args)');
  } else if ((rule.direction ?? 'ingress') === 'egress') {
    return unsupported(`a ${rule.via} egress rule sets the mark after netfilter's last hook (postrouting): nothing in netfilter can overwrite it later`,
      'only a later tc filter or qdisc on the device can; check with tc -s filter show');
  } else {
    // tc, bpf and xdp ingress run before netfilter: the mark is there from prerouting's first chain on
    markedAt = { name: 'marked', hook: 'prerouting', priority: PRI_FIRST };
    if (rule.dev) match.iif = rule.dev;
    limits.push(`the ${rule.via} mark is counted at the first prerouting priority: a netdev ingress chain after tc is not watched`);
  }
  limits.push(NAT_LIMIT);
  const last = (name: Exclude<PointName, 'marked'>): ObservationPoint => ({ name, hook: name, priority: PRI_LAST });
  const prerouting = markedAt.hook === 'prerouting';
  const points = prerouting
    ? [markedAt, last('prerouting'), last('input'), last('forward'), last('postrouting')]
    : [markedAt, last('output'), last('postrouting')];
  const edges: Edge[] = prerouting
    ? [{ from: 'marked', to: ['prerouting'] }, { from: 'prerouting', to: ['input', 'forward'] }, { from: 'forward', to: ['postrouting'] }]
    : [{ from: 'marked', to: ['output'] }, { from: 'output', to: ['postrouting'] }];
  if (prerouting && rule.iif !== undefined) limits.push('postrouting cannot match the input interface: there it counts every forwarded packet of the other matches');
  return { match: match as MarkRule, mark: rule.mark >>> 0, mask: (rule.mask ?? FULL_MASK) >>> 0, points, edges, limits };
}

/** Fields a point's observer can match: the input interface is unknown in postrouting (and output). */
export function matchAt(plan: VerifyPlan, p: ObservationPoint): MarkRule {
  if (p.hook !== 'postrouting' && p.hook !== 'output') return plan.match;
  const m: { -readonly [K in keyof MarkRule]?: MarkRule[K] } = { ...plan.match };
  delete m.iif;
  return m as MarkRule;
}
