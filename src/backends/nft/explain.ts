/**
 * The `nft` command for a MarkRule. nft 1.0.6 turns exactly this text into the bytes that
 * ruleToExprs produces (test/golden/nft.test.ts checks both against fixtures/nft/cases.json).
 * Strings are in nft's double quotes; mark arithmetic uses the words `and`/`or`/`xor` so the
 * line survives a shell, but a comment or a wildcard name still wants shell quoting
 * (or `nft -f`).
 */
import { formatCidr } from '../../../codecs/address.js';
import { formatPortMatch, type PortMatch } from '../../ports.js';
import { BASE_CHAINS, chainOf, DEFAULT_TABLE, userChainNft } from './chains.js';
import { familyParts } from './address-sets.js';
import type { ConnmarkStatement } from '../../connmark.js';
import { FULL_MASK, type AddressList, type AddressMatch, type MarkRule, type MarkValueMatch } from '../../rule.js';
import { safeField } from '../../terminal-text.js';

/** Protocol words nft resolves (via /etc/protocols or its own table); others are printed as numbers. */
const NFT_PROTO_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function address(family: string, dir: 'saddr' | 'daddr', a: AddressMatch): string {
  if (a.netmask !== undefined) return `${family} ${dir} & ${a.netmask} ${a.negate ? '!=' : '=='} ${a.address}`;
  return `${family} ${dir} ${a.negate ? '!= ' : ''}${formatCidr(a)}`;
}

function ifname(word: string, name: string): string {
  // a name read back from the kernel may hold any byte but NUL: escape it so the line stays one line
  return `${word} "${safeField(name.endsWith('+') ? `${name.slice(0, -1)}*` : name)}"`;
}

/** The statements of the rule, without `nft add rule <table> <chain>`. */
export function nftStatements(rule: MarkRule): string {
  const s: string[] = [];
  const fam = rule.family;
  if (fam && !rule.src && !rule.dst && !rule.srcList && !rule.dstList) s.push(`meta nfproto ${fam === 'ip' ? 'ipv4' : 'ipv6'}`);
  // a list is a named set in pktmark's table; `{ … }` (an anonymous set) is the same match in one line
  const list = (dir: string, l: AddressList): string => `${fam} ${dir} { ${l.entries.join(', ')} }`;
  if (rule.src) s.push(address(fam ?? rule.src.family, 'saddr', rule.src));
  else if (rule.srcList) s.push(list('saddr', rule.srcList));
  if (rule.dst) s.push(address(fam ?? rule.dst.family, 'daddr', rule.dst));
  else if (rule.dstList) s.push(list('daddr', rule.dstList));
  if (rule.iif) s.push(ifname('iifname', rule.iif));
  if (rule.oif) s.push(ifname('oifname', rule.oif));
  if (rule.proto !== undefined) {
    const name = NFT_PROTO_NAMES[rule.proto];
    const ports = (p: PortMatch): string => (p.negate ? '!= ' : '') + (p.ranges.length === 1 ? formatPortMatch({ ...p, negate: false }) : `{ ${formatPortMatch({ ...p, negate: false }).split(',').join(', ')} }`);
    if (rule.sport === undefined && rule.dport === undefined && !rule.sports && !rule.dports) s.push(`meta l4proto ${name ?? rule.proto}`);
    // `tcp dport N` brings nft's implicit `meta l4proto tcp`, the same bytes as pktmark's match
    if (rule.sport !== undefined) s.push(`${name} sport ${rule.sport}`);
    if (rule.sports) s.push(`${name} sport ${ports(rule.sports)}`);
    if (rule.dport !== undefined) s.push(`${name} dport ${rule.dport}`);
    if (rule.dports) s.push(`${name} dport ${ports(rule.dports)}`);
  }
  const markMatch = (word: string, m: MarkValueMatch): string =>
    `${word}${m.mask === FULL_MASK ? '' : ` and ${hex(m.mask)}`} ${m.negate ? '!=' : '=='} ${hex(m.value)}`;
  if (rule.markMatch) s.push(markMatch('meta mark', rule.markMatch));
  if (rule.ctmarkMatch) s.push(markMatch('ct mark', rule.ctmarkMatch));
  if (rule.rate) s.push(`limit rate ${rule.rate.rate}/${rule.rate.unit} burst ${rule.rate.burst} packets`);
  s.push('counter');
  if (rule.connmark) s.push(connmarkText(rule.connmark));
  else if (rule.jump === 'RETURN') s.push('return');
  else if (rule.jump !== undefined) s.push(`jump ${chainWord(userChainNft(rule.table ?? DEFAULT_TABLE[rule.hook ?? 'prerouting'], rule.jump))}`);
  else if (rule.mask === FULL_MASK && !rule.xor) s.push(`meta mark set ${hex(rule.mark)}`);
  else s.push(`meta mark set meta mark and ${hex(~rule.mask)} ${rule.xor ? 'xor' : 'or'} ${hex(rule.mark)}`);
  if (rule.comment !== undefined) s.push(`comment "${safeField(rule.comment)}"`);
  return s.join(' ');
}

/**
 * CONNMARK as nft writes it. A masked copy that keeps destination bits (two registers) has no
 * nft 1.0.6 syntax: it is written in newer nft's binary-operator form, `ct mark set ct mark and
 * ~CT xor (meta mark and NF)`, which says the arithmetic but which nft 1.0.6 does not parse.
 */
function connmarkText(c: ConnmarkStatement): string {
  if (c.op === 'set') return c.mask === FULL_MASK ? `ct mark set ${hex(c.value)}` : `ct mark set ct mark and ${hex(~c.mask)} xor ${hex(c.value)}`;
  const [src, dst, srcMask, keep] = c.op === 'save' ? ['meta mark', 'ct mark', c.nfmask, c.ctmask] : ['ct mark', 'meta mark', c.ctmask, c.nfmask];
  let v = srcMask === FULL_MASK ? src : `${src} and ${hex(srcMask)}`;
  if (c.shift) v = `${srcMask === FULL_MASK ? v : `(${v})`} ${c.shift.dir === 'left' ? '<<' : '>>'} ${c.shift.bits}`;
  return keep === FULL_MASK ? `${dst} set ${v}` : `${dst} set ${dst} and ${hex(~keep)} xor (${v})`;
}

/** nft's scanner takes `[a-zA-Z_.][a-zA-Z0-9/_.-]*` bare; other chain names (a `+`) go in quotes. */
export const chainWord = (name: string): string => (/^[A-Za-z_.][A-Za-z0-9/_.-]*$/.test(name) ? name : `"${name}"`);

export function explainNft(rule: MarkRule, table: string, first = false): string {
  // a mixed v4/v6 list is one rule per family
  return familyParts(rule).map((r) => `nft ${first ? 'insert' : 'add'} rule inet ${table} ${chainWord(chainOf(r))} ${nftStatements(r)}`).join('\n');
}

/** `nft add table/chain` lines that create what pktmark creates on first use. */
export function explainNftSetup(table: string, hooks: readonly string[]): string[] {
  const out = [`nft add table inet ${table} { comment "pktmark" ; }`];
  for (const c of BASE_CHAINS) {
    if (c.name === 'output' || !hooks.includes(c.name)) continue;
    out.push(`nft add chain inet ${table} ${c.name} { type ${c.type} hook ${c.hook} priority ${c.table} ; }`);
  }
  if (hooks.includes('output')) out.push(`nft add chain inet ${table} output { type route hook output priority mangle ; }`);
  return out;
}
