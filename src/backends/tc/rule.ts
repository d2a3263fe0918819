/**
 * MarkRule ⇄ tc filter (cls_u32 + act_police + act_skbedit), and the equivalent `tc` command
 * lines. Pure: no kernel here; tc.ts does the talking.
 */
import { addressBytes, canonicalIPv4, formatCidr, formatIPv4, formatIPv6, type Family } from '../../../codecs/address.js';
import {
  ETH_P_ALL, ETH_P_IP, ETH_P_IPV6, PARENT_EGRESS, PARENT_INGRESS, INGRESS_QDISC_HANDLE, TC_ACT_OK, TC_ACT_PIPE,
} from '../../../codecs/tc/constants.js';
import type { TcFilter } from '../../../codecs/tc/filter.js';
import type { SkbeditOptions, TcAction } from '../../../codecs/tc/actions/index.js';
import type { TcGen } from '../../../codecs/tc/actions/types.js';
import { emptyTcPolice, pktBurstPackets, pktBurstTicks } from '../../../codecs/tc/actions/police.js';
import { selector, TC_U32_TERMINAL, type U32Key, type U32Options } from '../../../codecs/tc/classifiers/u32.js';
import { addressKeys, IP4, IP6, ipv4Key, portKey, prefixLength, protocolKey } from '../../../codecs/tc/classifiers/u32-match.js';
import type { IngressKind } from '../../../codecs/tc/qdisc.js';
import { PktmarkError } from '../../errors.js';
import { tcFields } from './fields.js';
import { formatPortMatch } from '../../ports.js';
import { formatMark, normalizeWith, type MarkRule, type MarkRuleInput, type RateUnit } from '../../rule.js';
import type { RawPart } from '../backend.js';

// the owner cookie is cookie.ts's; its importers still find it here
export { COOKIE_EGRESS, COOKIE_MAGIC, COOKIE_QDISC_OWNED, cookieHex, ownerCookie, parseOwnerCookie } from './cookie.js';
import { cookieHex } from './cookie.js';

const unsupported = (field: string, why: string, hint?: string): PktmarkError =>
  new PktmarkError('UNSUPPORTED', `via "tc": ${why}`, { field, hint: hint ?? "use via: 'nft' for this rule" });

const ETH_P: Readonly<Record<Family, number>> = { ip: ETH_P_IP, ip6: ETH_P_IPV6 };
export const protocolOf = (r: MarkRule): number => (r.family ? ETH_P[r.family] : ETH_P_ALL);

const PER_SECOND: Readonly<Record<RateUnit, number>> = { second: 1, minute: 60, hour: 3600, day: 86400 };

/** act_police counts whole packets per second: N/minute works only when it is a whole number per second. */
export function packetsPerSecond(r: MarkRule): number | undefined {
  if (!r.rate) return undefined;
  const div = PER_SECOND[r.rate.unit];
  if (r.rate.rate % div !== 0) {
    throw unsupported('rate', `act_police takes whole packets per second; ${r.rate.rate}/${r.rate.unit} is not`,
      `use a per-second rate, or via: 'nft' (limit rate ${r.rate.rate}/${r.rate.unit})`);
  }
  return r.rate.rate / div;
}

/** Check that tc can express the rule, naming the first field it cannot. */
export function checkTcRule(r: MarkRule): void {
  if (r.xor) throw unsupported('xor', 'act_skbedit sets (old & ~mask) | mark; it cannot toggle bits (--set-xmark)');
  if (r.comment !== undefined) throw unsupported('comment', 'a u32 filter has no place for a comment');
  if (r.markMatch) throw unsupported('markMatch', 'pktmark\'s u32 filters do not match on the mark', "use via: 'nft'");
  if (r.ctmarkMatch) throw unsupported('ctmarkMatch', 'tc has no conntrack mark match here', "use via: 'nft'");
  if (r.sports) throw portsUnsupported('sport', r.sports);
  if (r.dports) throw portsUnsupported('dport', r.dports);
  if (r.src) checkPrefix('src', r.src);
  if (r.dst) checkPrefix('dst', r.dst);
  if (!r.family && (r.proto !== undefined || r.sport !== undefined || r.dport !== undefined)) {
    throw unsupported('family', 'u32 finds the protocol and ports at different offsets in IPv4 and IPv6', "add family: 'ip' or 'ip6'");
  }
  if (r.iif !== undefined) throw unsupported('iif', 'a tc filter sits on one device: use dev');
  if (r.oif !== undefined) throw unsupported('oif', 'a tc filter sits on one device: use dev with direction egress');
  packetsPerSecond(r);
}

const portsUnsupported = (field: 'sport' | 'dport', m: NonNullable<MarkRule['sports']>): PktmarkError =>
  unsupported(field, `u32 matches a port under a mask; it cannot say a range, a list or a negation (${field} ${formatPortMatch(m)})`, "use via: 'nft'");
function checkPrefix(f: 'src' | 'dst', a: NonNullable<MarkRule['src']>): void {
  if (a.netmask !== undefined) throw unsupported(f, `pktmark's u32 path takes prefixes only (${f} mask ${a.netmask})`, "use via: 'nft'");
  if (a.negate) throw unsupported(f, `u32 keys cannot be negated (${f} "!${formatCidr(a)}")`);
}

/** `match ip|ip6 src|dst A/P`: a normalized IPv4 address is canonical text, read as its word (no byte array per rule of a bulk add). */
function addressMatch(keys: U32Key[], a: NonNullable<MarkRule['src']>, off: number): void {
  const word = a.family === 'ip' ? canonicalIPv4(a.address) : -1;
  if (word >= 0) ipv4Key(keys, word, a.prefix, off);
  else addressKeys(keys, addressBytes(a), a.prefix, off);
}

/** The u32 keys, in the order `tc … match ip src … match ip dst … match ip protocol … match ip sport/dport` packs them. */
export function ruleKeys(r: MarkRule): U32Key[] {
  const keys: U32Key[] = [];
  const fam = r.family;
  if (fam) {
    const at = fam === 'ip' ? IP4 : IP6;
    if (r.src) addressMatch(keys, r.src, at.src);
    if (r.dst) addressMatch(keys, r.dst, at.dst);
    if (r.proto !== undefined) protocolKey(keys, fam, r.proto);
    if (r.sport !== undefined) portKey(keys, fam, 'sport', r.sport);
    if (r.dport !== undefined) portKey(keys, fam, 'dport', r.dport);
  }
  // `match u32 0 0`: the usual "every packet" selector; a /0 prefix adds no key either
  if (keys.length === 0) keys.push({ mask: 0, val: 0, off: 0, offmask: 0 });
  return keys;
}

/** skbedit's tc_gen as every pktmark filter sends it: one object for all (nothing writes to it) */
const SKBEDIT_PARMS: TcGen = Object.freeze({ index: 0, capab: 0, action: TC_ACT_PIPE, refcnt: 0, bindcnt: 0 });
const NO_EXTRA: readonly never[] = Object.freeze([]);

/**
 * The action list of the last rule without a rate: the rules of a bulk add mostly set one mark
 * with one cookie, and a list that equal is the same list (nothing writes to one once made), so
 * they share it instead of making four objects each.
 */
let lastMarkOnly: { mark: number; mask: number; cookie: Uint8Array | undefined; actions: readonly TcAction[] } | undefined;

export function ruleActions(r: MarkRule, cookie?: Uint8Array): readonly TcAction[] {
  if (r.rate === undefined) {
    const l = lastMarkOnly;
    if (l !== undefined && l.mark === r.mark && l.mask === r.mask && l.cookie === cookie) return l.actions;
    const actions = markActions(r, cookie);
    lastMarkOnly = { mark: r.mark, mask: r.mask, cookie, actions };
    return actions;
  }
  return markActions(r, cookie);
}

function markActions(r: MarkRule, cookie: Uint8Array | undefined): TcAction[] {
  const actions: TcAction[] = [];
  const pps = packetsPerSecond(r);
  if (pps !== undefined) {
    // conform → PIPE (go on to skbedit, i.e. mark), exceed → OK (accept the packet unmarked):
    // `police pkts_rate N pkts_burst B conform-exceed pass/pipe`
    actions.push({
      order: 1,
      options: { kind: 'police', tbf: { ...emptyTcPolice(), action: TC_ACT_OK }, result: TC_ACT_PIPE, pktRate: BigInt(pps), pktBurst: pktBurstTicks(pps, r.rate!.burst), extra: [] },
    });
  }
  // built without spreads of optional parts: one rule of a bulk add makes these objects and no others
  const options: SkbeditOptions = r.mask === 0xffffffff
    ? { kind: 'skbedit', parms: SKBEDIT_PARMS, mark: r.mark, extra: NO_EXTRA }
    : { kind: 'skbedit', parms: SKBEDIT_PARMS, mark: r.mark, mask: r.mask, extra: NO_EXTRA };
  actions.push(cookie ? { order: actions.length + 1, options, cookie } : { order: actions.length + 1, options });
  return actions;
}

export function parentFor(r: MarkRule, qdisc: IngressKind): number {
  if (r.direction === 'egress') return PARENT_EGRESS;
  // the classic ingress qdisc is addressed as `parent ffff:` (what the cheat sheet writes)
  return qdisc === 'ingress' ? INGRESS_QDISC_HANDLE : PARENT_INGRESS;
}

export interface FilterOptions {
  readonly ifindex: number;
  readonly qdisc: IngressKind;
  readonly cookie?: Uint8Array;
  /** prio 0 lets the kernel pick (49152 for the first filter of a block, then one less each) */
  readonly prio?: number;
}

export function ruleToFilter(r: MarkRule, o: FilterOptions): TcFilter {
  checkTcRule(r);
  const options: U32Options = { kind: 'u32', actions: ruleActions(r, o.cookie), sel: selector(ruleKeys(r), TC_U32_TERMINAL), extra: NO_EXTRA };
  return { ifindex: o.ifindex, parent: parentFor(r, o.qdisc), prio: o.prio ?? r.prio ?? 0, protocol: protocolOf(r), handle: 0, options };
}

// ---- decoding -------------------------------------------------------------------------------

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const wordBytes = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

/** Rebuild `ADDR/P` from consecutive words; undefined if the masks are not one prefix. */
function addressFrom(keys: Map<number, U32Key>, base: number, words: number, fam: Family): string | undefined {
  const bytes: number[] = [];
  let prefix = 0, ended = false;
  for (let i = 0; i < words; i++) {
    const k = keys.get(base + 4 * i);
    if (!k) { ended = true; bytes.push(0, 0, 0, 0); continue; }
    if (ended) return undefined;
    const p = prefixLength(k.mask);
    if (p < 0 || (p < 32 && i < words - 1 && keys.has(base + 4 * (i + 1)))) return undefined;
    prefix += p;
    if (p < 32) ended = true;
    keys.delete(base + 4 * i);
    bytes.push(...wordBytes(k.val));
  }
  if (prefix === 0) return undefined;
  const b = Uint8Array.from(bytes);
  return `${fam === 'ip' ? formatIPv4(b) : formatIPv6(b)}/${prefix}`;
}

/** Map a dumped u32 filter back to a MarkRule, or say which parts do not fit the model. */
export function filterToRule(f: TcFilter, dev: string, direction: 'ingress' | 'egress'): { rule?: MarkRule; raw?: RawPart[] } {
  const raw: RawPart[] = [];
  const o = f.options;
  if (!o || o.kind !== 'u32' || !o.sel) return { raw: [{ name: o?.kind === 'raw' ? o.name : (f.kind ?? 'unknown'), bytes: new Uint8Array(0) }] };
  const input: { -readonly [K in keyof MarkRuleInput]: MarkRuleInput[K] } = { via: 'tc', dev, direction, prio: f.prio, mark: 0 };
  const fam: Family | undefined = f.protocol === ETH_P_IP ? 'ip' : f.protocol === ETH_P_IPV6 ? 'ip6' : undefined;
  if (fam) input.family = fam;
  else if (f.protocol !== ETH_P_ALL) raw.push({ name: `protocol 0x${f.protocol.toString(16)}`, bytes: new Uint8Array(0) });
  const keys = new Map<number, U32Key>();
  for (const k of o.sel.keys) {
    if (k.mask === 0 && k.val === 0) continue;
    if (k.offmask !== 0 || keys.has(k.off) || !fam) { raw.push({ name: `u32 key ${hex32(k.val)}/${hex32(k.mask)} at ${k.off}`, bytes: new Uint8Array(0) }); continue; }
    keys.set(k.off, k);
  }
  if (fam) {
    const at = fam === 'ip' ? IP4 : IP6;
    const words = fam === 'ip' ? 1 : 4;
    const src = addressFrom(keys, at.src, words, fam);
    if (src) input.src = src;
    const dst = addressFrom(keys, at.dst, words, fam);
    if (dst) input.dst = dst;
    const pk = keys.get(fam === 'ip' ? IP4.protocol : IP6.nexthdr);
    const pmask = fam === 'ip' ? 0x00ff0000 : 0x0000ff00;
    if (pk && pk.mask === pmask) { input.proto = fam === 'ip' ? pk.val >>> 16 : pk.val >>> 8; keys.delete(pk.off); }
    const ports = keys.get(at.ports);
    if (ports && (ports.mask === 0xffff0000 || ports.mask === 0x0000ffff || ports.mask === 0xffffffff)) {
      if (ports.mask & 0xffff0000) input.sport = ports.val >>> 16;
      if (ports.mask & 0xffff) input.dport = ports.val & 0xffff;
      keys.delete(at.ports);
    }
    for (const k of keys.values()) raw.push({ name: `u32 key ${hex32(k.val)}/${hex32(k.mask)} at ${k.off}`, bytes: new Uint8Array(0) });
  }
  let marked = false;
  for (const a of o.actions ?? []) {
    const opt = a.options;
    if (opt.kind === 'skbedit' && opt.mark !== undefined && !marked) {
      input.mark = opt.mark;
      if (opt.mask !== undefined) input.mask = opt.mask;
      marked = true;
    } else if (opt.kind === 'police' && opt.pktRate !== undefined && opt.result === TC_ACT_PIPE && opt.tbf.action === TC_ACT_OK && !marked) {
      input.rate = `${opt.pktRate}/second`;
      input.burst = pktBurstPackets(opt.pktRate, opt.pktBurst ?? 0n);
    } else {
      raw.push({ name: opt.kind === 'raw' ? opt.name : opt.kind, bytes: opt.kind === 'raw' ? opt.data : new Uint8Array(0) });
    }
  }
  if (!marked) raw.push({ name: 'no skbedit mark', bytes: new Uint8Array(0) });
  if (raw.length) return { raw };
  try {
    return { rule: normalizeWith(tcFields, input) };
  } catch (e) {
    return { raw: [{ name: `undecodable: ${(e as Error).message}`, bytes: new Uint8Array(0) }] };
  }
}

// ---- explain ------------------------------------------------------------------------------------

const PROTO_WORD: Readonly<Record<Family, string>> = { ip: 'ip', ip6: 'ipv6' };

/** The `tc filter add …` words after `protocol P prio N`, as this rule's filter would be written. */
export function filterWords(r: MarkRule, cookie?: Uint8Array): string {
  const w: string[] = ['u32'];
  const fam = r.family;
  if (fam) {
    const m = fam === 'ip' ? 'ip' : 'ip6';
    const addr = (c: NonNullable<MarkRule['src']>): string => (c.prefix === (fam === 'ip' ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`);
    if (r.src) w.push(`match ${m} src ${addr(r.src)}`);
    if (r.dst) w.push(`match ${m} dst ${addr(r.dst)}`);
    if (r.proto !== undefined) w.push(`match ${m} protocol ${r.proto} 0xff`);
    if (r.sport !== undefined) w.push(`match ${m} sport ${r.sport} 0xffff`);
    if (r.dport !== undefined) w.push(`match ${m} dport ${r.dport} 0xffff`);
  }
  if (w.length === 1) w.push('match u32 0 0');
  const pps = packetsPerSecond(r);
  if (pps !== undefined) w.push(`action police pkts_rate ${pps} pkts_burst ${r.rate!.burst} conform-exceed pass/pipe`);
  w.push(`action skbedit mark ${formatMark(r)}`);
  if (cookie) w.push(`cookie ${cookieHex(cookie)}`);
  return w.join(' ');
}

/** `tc qdisc add dev D clsact` + `tc filter add dev D ingress|egress protocol P [prio N] u32 …` */
export function explainRule(r: MarkRule, o: { qdisc?: IngressKind | 'existing'; cookie?: Uint8Array } = {}): string {
  checkTcRule(r);
  const lines: string[] = [];
  const q = o.qdisc ?? 'clsact';
  if (q !== 'existing') lines.push(`tc qdisc add dev ${r.dev} ${q}`);
  const where = r.direction === 'egress' ? 'egress' : q === 'ingress' ? 'parent ffff:' : 'ingress';
  const proto = r.family ? PROTO_WORD[r.family] : 'all';
  lines.push(`tc filter add dev ${r.dev} ${where} protocol ${proto}${r.prio ? ` prio ${r.prio}` : ''} ${filterWords(r, o.cookie)}`);
  return lines.join('\n');
}

