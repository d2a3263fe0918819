/**
 * MarkRule ⇄ BpfRuleSpec: the one translation the eBPF backends (bpf, xdp, cgroup) share. The
 * spec is what the program generators compile and what the config map stores, so `list` reads a
 * rule back from the kernel with no state file.
 */
import { addressBytes, formatAddress } from '../../../codecs/address.js';
import type { BpfAddrMatch, BpfPortMatch, BpfRuleSpec } from '../../../codecs/bpf/programs/index.js';
import { PktmarkError } from '../../errors.js';
import { formatPortMatch, type PortMatch } from '../../ports.js';
import type { AddressMatch, MarkRule, MarkRuleInput } from '../../rule.js';
import type { ApplyTag } from '../backend.js';

function addr(a: AddressMatch | undefined, field: 'src' | 'dst'): BpfAddrMatch | undefined {
  if (a?.netmask !== undefined) throw new PktmarkError('UNSUPPORTED', `${field}: the eBPF programs match prefixes, not the mask ${a.netmask}`, { field, hint: "use via: 'nft'" });
  return a && { family: a.family, address: addressBytes(a), prefix: a.prefix, negate: a.negate };
}

/** A range or negated port maps onto BpfPortMatch directly; a list of several does not. */
function portRange(p: PortMatch, field: 'sport' | 'dport'): BpfPortMatch {
  if (p.ranges.length !== 1) throw new PktmarkError('UNSUPPORTED', `${field} ${formatPortMatch(p)}: the eBPF programs match one port range`, { field, hint: "use via: 'nft'" });
  return { from: p.ranges[0].from, to: p.ranges[0].to, negate: p.negate };
}

const port = (p: number | undefined): BpfPortMatch | undefined => (p === undefined ? undefined : { from: p, to: p, negate: false });

export function ruleToSpec(r: MarkRule): BpfRuleSpec {
  for (const f of ['markMatch', 'ctmarkMatch'] as const) {
    if (r[f]) throw new PktmarkError('UNSUPPORTED', `${f}: the eBPF programs do not match on marks`, { field: f, hint: "use via: 'nft'" });
  }
  const s: { -readonly [K in keyof BpfRuleSpec]?: BpfRuleSpec[K] } = { mark: r.mark, mask: r.mask, xor: r.xor === true };
  if (r.family) s.family = r.family;
  if (r.src) s.src = addr(r.src, 'src');
  if (r.dst) s.dst = addr(r.dst, 'dst');
  if (r.proto !== undefined) s.proto = r.proto;
  if (r.sport !== undefined) s.sport = port(r.sport);
  if (r.dport !== undefined) s.dport = port(r.dport);
  if (r.sports) s.sport = portRange(r.sports, 'sport');
  if (r.dports) s.dport = portRange(r.dports, 'dport');
  if (r.rate) s.rate = { rate: r.rate.rate, unit: r.rate.unit, burst: r.rate.burst };
  if (r.comment !== undefined) s.comment = r.comment;
  return s as BpfRuleSpec;
}

/** The spec a rule is stored as, with apply's tag when apply made it. */
export const taggedSpec = (r: MarkRule, tag: ApplyTag | undefined): BpfRuleSpec => (tag ? { ...ruleToSpec(r), applyTag: tag.nameHash } : ruleToSpec(r));

const addrText = (a: BpfAddrMatch): string => `${a.negate ? '!' : ''}${formatAddress(a.address)}/${a.prefix}`;

/**
 * A stored spec as rule input (for the backend's normalizeWith): the shared fields only, the
 * backend adds where the rule sits (dev, direction, cgroup). Port ranges and negated ports come
 * back as text (`!1024-2048`), which normalizeWith turns into the model's sports/dports.
 */
export function specToInput(s: BpfRuleSpec): Omit<MarkRuleInput, 'via'> | undefined {
  // a port range or negated port as rule input text (`!1024-2048`); normalizeWith makes one plain port a number again
  const text = (p: BpfPortMatch | undefined): string | undefined => (p === undefined ? undefined : `${p.negate ? '!' : ''}${p.from}-${p.to}`);
  const sport = text(s.sport), dport = text(s.dport);
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
