/**
 * MarkRule ⇄ BpfRuleSpec: the one translation the eBPF backends (bpf, xdp, cgroup) share. The
 * spec is what the program generators compile and what the config map stores, so `list` reads a
 * rule back from the kernel with no state file.
 */
import { addressBytes, formatAddress } from '../../../codecs/address.js';
import type { BpfAddrMatch, BpfPortMatch, BpfRuleSpec } from '../../../codecs/bpf/programs/index.js';
import type { AddressMatch, MarkRule, MarkRuleInput } from '../../rule.js';

const addr = (a: AddressMatch | undefined): BpfAddrMatch | undefined =>
  a && { family: a.family, address: addressBytes(a), prefix: a.prefix, negate: a.negate };

const port = (p: number | undefined): BpfPortMatch | undefined => (p === undefined ? undefined : { from: p, to: p, negate: false });

export function ruleToSpec(r: MarkRule): BpfRuleSpec {
  const s: { -readonly [K in keyof BpfRuleSpec]?: BpfRuleSpec[K] } = { mark: r.mark, mask: r.mask, xor: r.xor === true };
  if (r.family) s.family = r.family;
  if (r.src) s.src = addr(r.src);
  if (r.dst) s.dst = addr(r.dst);
  if (r.proto !== undefined) s.proto = r.proto;
  if (r.sport !== undefined) s.sport = port(r.sport);
  if (r.dport !== undefined) s.dport = port(r.dport);
  if (r.rate) s.rate = { rate: r.rate.rate, unit: r.rate.unit, burst: r.rate.burst };
  if (r.comment !== undefined) s.comment = r.comment;
  return s as BpfRuleSpec;
}

const addrText = (a: BpfAddrMatch): string => `${a.negate ? '!' : ''}${formatAddress(a.address)}/${a.prefix}`;

/**
 * A stored spec as rule input (for the backend's normalizeWith): the shared fields only, the
 * backend adds where the rule sits (dev, direction, cgroup). A port range or negated port — which
 * MarkRule cannot hold yet — returns undefined, and the caller keeps the rule raw.
 */
export function specToInput(s: BpfRuleSpec): Omit<MarkRuleInput, 'via'> | undefined {
  const single = (p: BpfPortMatch | undefined): number | undefined | null => (p === undefined ? undefined : p.from === p.to && !p.negate ? p.from : null);
  const sport = single(s.sport), dport = single(s.dport);
  if (sport === null || dport === null) return undefined;
  return {
    ...(s.family ? { family: s.family } : {}),
    ...(s.src ? { src: addrText(s.src) } : {}),
    ...(s.dst ? { dst: addrText(s.dst) } : {}),
    ...(s.proto !== undefined ? { proto: s.proto } : {}),
    ...(sport !== undefined ? { sport } : {}),
    ...(dport !== undefined ? { dport } : {}),
    mark: s.mark, mask: s.mask, ...(s.xor ? { xor: true } : {}),
    ...(s.rate ? { rate: `${s.rate.rate}/${s.rate.unit}`, burst: s.rate.burst } : {}),
    ...(s.comment !== undefined ? { comment: s.comment } : {}),
  };
}
