/**
 * The `text` of a bpf/xdp rule in list and add output. No real tool writes these programs, so
 * there is no command line to give back; instead one comment line in nft's match words, which
 * reads like the nft rule that would do the same:
 *   `# bpf: dev d0 ingress: ip saddr 10.0.0.1 udp dport 53 limit rate 1/second burst 1 → mark 0xdeadbeef`
 */
import { formatAddress } from '../../../codecs/address.js';
import type { BpfAddrMatch, BpfPortMatch, BpfRuleSpec } from '../../../codecs/bpf/programs/index.js';
import { protocolName } from '../../rule.js';

const addr = (a: BpfAddrMatch): string => {
  const full = a.family === 'ip' ? 32 : 128;
  return `${a.negate ? '!= ' : ''}${formatAddress(a.address)}${a.prefix === full ? '' : `/${a.prefix}`}`;
};
const ports = (p: BpfPortMatch): string => `${p.negate ? '!= ' : ''}${p.from === p.to ? p.from : `${p.from}-${p.to}`}`;
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export function specWords(s: BpfRuleSpec): string {
  const w: string[] = [];
  const fam = s.family ?? s.src?.family ?? s.dst?.family;
  const l3 = fam === 'ip6' ? 'ip6' : 'ip';
  if (s.src) w.push(`${l3} saddr ${addr(s.src)}`);
  if (s.dst) w.push(`${l3} daddr ${addr(s.dst)}`);
  if (!s.src && !s.dst && s.family) w.push(`meta nfproto ${s.family === 'ip' ? 'ipv4' : 'ipv6'}`);
  const proto = s.proto === undefined ? undefined : protocolName(s.proto);
  if (proto !== undefined && !s.sport && !s.dport) w.push(`meta l4proto ${proto}`);
  if (s.sport) w.push(`${proto} sport ${ports(s.sport)}`);
  if (s.dport) w.push(`${proto} dport ${ports(s.dport)}`);
  if (s.rate) w.push(`limit rate ${s.rate.rate}/${s.rate.unit} burst ${s.rate.burst} packets`);
  const mark = s.xor ? `mark ^ ${hex(s.mark)} (mask ${hex(s.mask)})` : s.mask === 0xffffffff ? `mark ${hex(s.mark)}` : `mark ${hex(s.mark)}/${hex(s.mask)}`;
  return `${w.length ? `${w.join(' ')} ` : ''}→ ${mark}${s.comment !== undefined ? ` comment ${JSON.stringify(s.comment)}` : ''}`;
}

/** `# bpf: dev d0 ingress: …` */
export const ruleText = (via: string, where: string, s: BpfRuleSpec): string => `# ${via}: ${where}: ${specWords(s)}`;
