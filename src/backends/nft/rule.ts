/**
 * MarkRule ⇄ nftables expressions, exactly as nft 1.0.6 encodes the rule text that
 * `explainNft` prints (fixtures/nft/*.json are the proof). Statement order, shared with the
 * text: [meta nfproto] [saddr] [daddr] [iifname] [oifname] [meta l4proto [ports]] [limit]
 * counter, mark set. The counter sits after the limit so that, like an iptables rule counter,
 * it counts the packets that were marked.
 */
import { addressBytes, formatAddress, prefixMask } from '../../../codecs/address.js';
import { isBoolBitwise, NFT_BITWISE_BOOL, type Bitwise } from '../../../codecs/nftables/expr/bitwise.js';
import { NFT_CMP_EQ, NFT_CMP_GTE, NFT_CMP_LTE, NFT_CMP_NEQ, type Cmp } from '../../../codecs/nftables/expr/cmp.js';
import { NFT_RANGE_NEQ } from '../../../codecs/nftables/expr/range.js';
import { maskBytes } from '../../addresses.js';
import { formatPortMatch, type PortMatch } from '../../ports.js';
import type { Expr } from '../../../codecs/nftables/expr/index.js';
import { NFT_META_IIFNAME, NFT_META_L4PROTO, NFT_META_MARK, NFT_META_NFPROTO, NFT_META_OIFNAME, type Meta } from '../../../codecs/nftables/expr/meta.js';
import { NFT_PAYLOAD_NETWORK_HEADER, NFT_PAYLOAD_TRANSPORT_HEADER, type Payload } from '../../../codecs/nftables/expr/payload.js';
import { NFT_REG_1 } from '../../../codecs/nftables/expr/types.js';
import { HOST_LITTLE_ENDIAN } from '../../../codecs/netlink/struct.js';
import { NFPROTO_IPV4, NFPROTO_IPV6 } from '../../../codecs/nftables/messages.js';
import { PktmarkError } from '../../errors.js';
import { nftFields } from './fields.js';
import { chainByName, DEFAULT_TABLE, userChainOf } from './chains.js';
import { connmarkExprs, decodeConnmark, decodeJump, jumpExprs } from './statements.js';
import { connmarkInput } from '../../connmark.js';
import { NFT_CT_MARK } from '../../../codecs/nftables/expr/ct.js';
import { NFT_LOOKUP_F_INV } from '../../../codecs/nftables/expr/lookup.js';
import { ANON_SET_NAME, defaultSetIds } from './port-sets.js';
import { listOfSet, lookupExprs, type ListSetInfo, type RuleSetIds } from './address-sets.js';
import { FULL_MASK, IFNAMSIZ, normalizeWith, type MarkValueMatch, type AddressMatch, type Family, type MarkRule, type MarkRuleInput, type RateUnit } from '../../rule.js';

/** Which MarkRule field produced an expression: lets an ext-ack offset name the field. */
export type RuleField = 'family' | 'src' | 'dst' | 'iif' | 'oif' | 'proto' | 'sport' | 'dport' | 'markMatch' | 'ctmarkMatch' | 'rate' | 'counter' | 'mark' | 'connmark' | 'jump';
export interface TaggedExpr { readonly expr: Expr; readonly field: RuleField }

export const UNIT_SECONDS: Readonly<Record<RateUnit, bigint>> = { second: 1n, minute: 60n, hour: 3600n, day: 86400n };

/** ip: saddr at 12, daddr at 16 (4 bytes); ip6: saddr at 8, daddr at 24 (16 bytes). */
const ADDR = {
  ip: { src: 12, dst: 16, len: 4, nfproto: NFPROTO_IPV4 },
  ip6: { src: 8, dst: 24, len: 16, nfproto: NFPROTO_IPV6 },
} as const;

const r1 = NFT_REG_1;
const metaLoad = (key: number): Meta => ({ kind: 'meta', key, dreg: r1 });
const cmpEq = (data: Uint8Array, op = NFT_CMP_EQ): Cmp => ({ kind: 'cmp', sreg: r1, op, data });
const u8 = (v: number): Uint8Array => Uint8Array.of(v);
const be16 = (v: number): Uint8Array => Uint8Array.of(v >> 8, v & 0xff);
/** meta mark, and mark data in immediate/bitwise, are host order (the register holds skb->mark). */
function hostU32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, HOST_LITTLE_ENDIAN);
  return b;
}
function readHostU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, HOST_LITTLE_ENDIAN);
}

/**
 * An address match as nft does it: a full address loads the whole field; a byte-aligned
 * prefix loads only its bytes (`ip saddr 10.1.2.0/24` loads 3); any other prefix (and /0)
 * loads the whole field and masks it with a bitwise before the compare.
 */
function addressExprs(family: Family, which: 'src' | 'dst', a: AddressMatch): Expr[] {
  const f = ADDR[family];
  const bytes = addressBytes(a);
  const op = a.negate ? NFT_CMP_NEQ : NFT_CMP_EQ;
  const load = (len: number): Payload => ({ kind: 'payload', dreg: r1, base: NFT_PAYLOAD_NETWORK_HEADER, offset: f[which], len });
  if (a.netmask === undefined && a.prefix === f.len * 8) return [load(f.len), cmpEq(bytes, op)];
  if (a.netmask === undefined && a.prefix > 0 && a.prefix % 8 === 0) return [load(a.prefix / 8), cmpEq(bytes.slice(0, a.prefix / 8), op)];
  // other prefixes, /0 and non-contiguous masks: `ip saddr & MASK == ADDR`
  // nft writes NFTA_BITWISE_OP (bool) for an explicit `& MASK`, not for a prefix (fixtures/nft/src-bitwise-mask.json)
  const mask: Bitwise = { kind: 'bitwise', sreg: r1, dreg: r1, ...(a.netmask !== undefined ? { op: NFT_BITWISE_BOOL } : {}), len: f.len, mask: maskBytes(a, prefixMask), xor: new Uint8Array(f.len) };
  return [load(f.len), mask, cmpEq(bytes, op)];
}

/** iifname "eth0" compares all IFNAMSIZ bytes (NUL padded); the wildcard "eth*" (iptables "eth+") only the prefix. */
function ifnameExprs(key: number, name: string): Expr[] {
  const enc = new TextEncoder();
  if (name.endsWith('+')) return [metaLoad(key), cmpEq(enc.encode(name.slice(0, -1)))];
  const b = new Uint8Array(IFNAMSIZ);
  b.set(enc.encode(name));
  return [metaLoad(key), cmpEq(b)];
}

/**
 * A port match after its payload load, as nft 1.0.6 sends it: `!= N` is cmp neq, `A-B` is
 * cmp gte + cmp lte, `!= A-B` is one range neq (netlink_linearize.c, netlink_gen_range), and a
 * list is a lookup in the rule's anonymous set (port-sets.ts), inverted for `!= { … }`.
 */
function portMatchExprs(p: PortMatch, field: 'sport' | 'dport', setId: number | undefined): Expr[] {
  if (p.ranges.length !== 1) {
    if (setId === undefined) throw new PktmarkError('ENCODE', `${field} ${formatPortMatch(p)}: no set id for the port list`, { field });
    return [{ kind: 'lookup', sreg: r1, set: ANON_SET_NAME, setId, ...(p.negate ? { flags: NFT_LOOKUP_F_INV } : {}) }];
  }
  const { from, to } = p.ranges[0];
  if (from === to) return [cmpEq(be16(from), NFT_CMP_NEQ)];
  if (p.negate) return [{ kind: 'range', sreg: r1, op: NFT_RANGE_NEQ, from: be16(from), to: be16(to) }];
  return [cmpEq(be16(from), NFT_CMP_GTE), cmpEq(be16(to), NFT_CMP_LTE)];
}

/** `mark and M == V` after the load; a full mask has no bitwise (nft drops `& 0xffffffff`). */
function markMatchExprs(m: MarkValueMatch): Expr[] {
  const op = m.negate ? NFT_CMP_NEQ : NFT_CMP_EQ;
  if (m.mask === FULL_MASK) return [cmpEq(hostU32(m.value), op)];
  // nft sends NFTA_BITWISE_OP (bool) for `mark and M` (strace of nft 1.0.6), unlike for address prefixes
  return [{ kind: 'bitwise', sreg: r1, dreg: r1, op: NFT_BITWISE_BOOL, len: 4, mask: hostU32(m.mask), xor: hostU32(0) }, cmpEq(hostU32(m.value), op)];
}

/** `setIds`: the batch-local ids of the rule's anonymous port sets (port-sets.ts) and named list sets (address-sets.ts). */
export function ruleToExprs(rule: MarkRule, setIds: RuleSetIds = defaultSetIds(rule), counter?: { readonly packets: bigint; readonly bytes: bigint }): TaggedExpr[] {
  const out: TaggedExpr[] = [];
  const add = (field: RuleField, ...exprs: Expr[]): void => { for (const expr of exprs) out.push({ expr, field }); };
  if (rule.family) add('family', metaLoad(NFT_META_NFPROTO), cmpEq(u8(ADDR[rule.family].nfproto)));
  if (rule.src) add('src', ...addressExprs(rule.family ?? rule.src.family, 'src', rule.src));
  else if (rule.srcList && rule.family) add('src', ...lookupExprs(rule.family, 'src', setIds.src));
  if (rule.dst) add('dst', ...addressExprs(rule.family ?? rule.dst.family, 'dst', rule.dst));
  else if (rule.dstList && rule.family) add('dst', ...lookupExprs(rule.family, 'dst', setIds.dst));
  if (rule.iif) add('iif', ...ifnameExprs(NFT_META_IIFNAME, rule.iif));
  if (rule.oif) add('oif', ...ifnameExprs(NFT_META_OIFNAME, rule.oif));
  if (rule.proto !== undefined) {
    add('proto', metaLoad(NFT_META_L4PROTO), cmpEq(u8(rule.proto)));
    const th = (offset: number, len: number): Payload => ({ kind: 'payload', dreg: r1, base: NFT_PAYLOAD_TRANSPORT_HEADER, offset, len });
    // nft merges adjacent payload matches: `udp sport 53 udp dport 5353` is one 4-byte load at offset 0
    if (rule.sport !== undefined && rule.dport !== undefined) {
      add('sport', th(0, 4), cmpEq(Uint8Array.of(...be16(rule.sport), ...be16(rule.dport))));
    } else {
      if (rule.sport !== undefined) add('sport', th(0, 2), cmpEq(be16(rule.sport)));
      if (rule.sports) add('sport', th(0, 2), ...portMatchExprs(rule.sports, 'sport', setIds.sport));
      if (rule.dport !== undefined) add('dport', th(2, 2), cmpEq(be16(rule.dport)));
      if (rule.dports) add('dport', th(2, 2), ...portMatchExprs(rule.dports, 'dport', setIds.dport));
    }
  }
  if (rule.markMatch) add('markMatch', metaLoad(NFT_META_MARK), ...markMatchExprs(rule.markMatch));
  if (rule.ctmarkMatch) add('ctmarkMatch', { kind: 'ct', key: NFT_CT_MARK, dreg: r1 }, ...markMatchExprs(rule.ctmarkMatch));
  if (rule.rate) {
    add('rate', { kind: 'limit', rate: BigInt(rule.rate.rate), unit: UNIT_SECONDS[rule.rate.unit], burst: rule.rate.burst, type: 'packets', inverted: false });
  }
  // iptables-restore -c starts the counter where the file says (the kernel takes NFTA_COUNTER_BYTES/PACKETS in NEWRULE)
  add('counter', counter ? { kind: 'counter', bytes: counter.bytes, packets: counter.packets } : { kind: 'counter' });
  if (rule.connmark) {
    add('connmark', ...connmarkExprs(rule.connmark));
  } else if (rule.jump !== undefined) {
    add('jump', ...jumpExprs(rule.jump, rule.table ?? DEFAULT_TABLE[rule.hook ?? 'prerouting']));
  } else if (rule.mask === FULL_MASK && !rule.xor) {
    add('mark', { kind: 'immediate', dreg: r1, value: hostU32(rule.mark) }, { kind: 'meta', key: NFT_META_MARK, sreg: r1 });
  } else {
    // `meta mark set meta mark and ~M or V` (xor rules: `… xor V`): nft folds both into one
    // boolean bitwise, mask = ~M, xor = V, and sends NFTA_BITWISE_OP here (not for prefixes)
    add('mark',
      metaLoad(NFT_META_MARK),
      { kind: 'bitwise', sreg: r1, dreg: r1, op: NFT_BITWISE_BOOL, len: 4, mask: hostU32(~rule.mask >>> 0), xor: hostU32(rule.mark) },
      { kind: 'meta', key: NFT_META_MARK, sreg: r1 });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// decoding

/** A cursor over the expressions; each matcher consumes a run or leaves the cursor unchanged. */
class Cursor {
  i = 0;
  /** anonymous port sets by name → their list text (port-sets.ts portListText) */
  constructor(readonly xs: readonly Expr[], readonly sets: ReadonlyMap<string, string> = new Map(), readonly lists: ReadonlyMap<string, ListSetInfo> = new Map()) {}
  /** the list sets matched so far (address-sets.ts): they become srcList/dstList after normalizing */
  readonly found: { src?: ListSetInfo; dst?: ListSetInfo } = {};
  peek(k = 0): Expr | undefined { return this.xs[this.i + k]; }
  get done(): boolean { return this.i >= this.xs.length; }
}

const isMetaLoad = (e: Expr | undefined, key: number): boolean => e?.kind === 'meta' && e.key === key && e.dreg === r1;
const isCmp = (e: Expr | undefined, ops: readonly number[] = [NFT_CMP_EQ]): e is Cmp => e?.kind === 'cmp' && e.sreg === r1 && ops.includes(e.op);

function prefixOfMask(m: Uint8Array): number | undefined {
  let bits = 0;
  let ended = false;
  for (const b of m) {
    for (let k = 7; k >= 0; k--) {
      const on = (b >> k) & 1;
      if (on && ended) return undefined;
      if (on) bits++; else ended = true;
    }
  }
  return bits;
}

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** Mutable draft of a MarkRuleInput built while matching. */
type Draft = { -readonly [K in keyof MarkRuleInput]?: MarkRuleInput[K] };

function matchAddress(c: Cursor, d: Draft, fam: Family | undefined): boolean {
  const p = c.peek();
  if (!fam || p?.kind !== 'payload' || p.base !== NFT_PAYLOAD_NETWORK_HEADER || p.dreg !== r1) return false;
  const f = ADDR[fam];
  const which = p.offset === f.src ? 'src' : p.offset === f.dst ? 'dst' : undefined;
  if (!which || d[which] !== undefined || c.found[which]) return false;
  const lk = c.peek(1);
  if (lk?.kind === 'lookup') {
    // `ip saddr @pm_…_src4`: a list set of this field and family, the whole address loaded
    const info = c.lists.get(lk.set);
    if (!info || info.field !== which || info.family !== fam || p.len !== f.len || lk.sreg !== r1 || lk.dreg !== undefined || (lk.flags ?? 0) !== 0) return false;
    c.found[which] = info;
    c.i += 2;
    return true;
  }
  let prefix: number | undefined;
  let netmask: string | undefined;
  let k = 1;
  const b = c.peek(1);
  if (b?.kind === 'bitwise') {
    if (!isBoolBitwise(b) || p.len !== f.len || b.sreg !== r1 || b.dreg !== r1 || b.len !== f.len || !allZero(b.xor) || b.mask.length !== f.len) return false;
    prefix = prefixOfMask(b.mask);
    if (prefix === undefined) netmask = formatAddress(b.mask);
    k = 2;
  } else if (p.len >= 1 && p.len <= f.len) {
    prefix = p.len * 8;
  }
  const cm = c.peek(k);
  if ((prefix === undefined && netmask === undefined) || !isCmp(cm, [NFT_CMP_EQ, NFT_CMP_NEQ]) || cm.data.length !== (k === 2 ? f.len : p.len)) return false;
  const full = new Uint8Array(f.len);
  full.set(cm.data);
  const mask = netmask !== undefined ? (b as Bitwise).mask : prefixMask(prefix!, f.len);
  if (full.some((x, i) => (x & ~mask[i] & 0xff) !== 0)) return false; // a compare that can never match
  const text = formatAddress(full) + (netmask !== undefined ? `/${netmask}` : prefix === f.len * 8 ? '' : `/${prefix}`);
  d[which] = (cm.op === NFT_CMP_NEQ ? '!' : '') + text;
  c.i += k + 1;
  return true;
}

function matchIfname(c: Cursor, d: Draft): boolean {
  const m = c.peek();
  const which = isMetaLoad(m, NFT_META_IIFNAME) ? 'iif' : isMetaLoad(m, NFT_META_OIFNAME) ? 'oif' : undefined;
  const cm = c.peek(1);
  if (!which || d[which] !== undefined || !isCmp(cm) || cm.data.length === 0 || cm.data.length > IFNAMSIZ) return false;
  const z = cm.data.indexOf(0);
  let name: string;
  if (cm.data.length === IFNAMSIZ && z > 0) {
    if (!allZero(cm.data.subarray(z))) return false;
    name = new TextDecoder().decode(cm.data.subarray(0, z));
  } else if (z < 0) {
    name = `${new TextDecoder().decode(cm.data)}+`;
  } else {
    return false;
  }
  d[which] = name;
  c.i += 2;
  return true;
}

function matchProto(c: Cursor, d: Draft): boolean {
  const cm = c.peek(1);
  if (d.proto !== undefined || !isMetaLoad(c.peek(), NFT_META_L4PROTO) || !isCmp(cm) || cm.data.length !== 1) return false;
  d.proto = cm.data[0];
  c.i += 2;
  const p = c.peek();
  const pc = c.peek(1);
  if (p?.kind === 'payload' && p.base === NFT_PAYLOAD_TRANSPORT_HEADER && p.dreg === r1 && p.offset === 0 && p.len === 4 && isCmp(pc) && pc.data.length === 4) {
    const v = pc.data;
    d.sport = (v[0] << 8) | v[1];
    d.dport = (v[2] << 8) | v[3];
    c.i += 2;
    return true;
  }
  while (matchPort(c, d)) { /* sport, then dport */ }
  return true;
}

const readBe16 = (b: Uint8Array): number => (b[0] << 8) | b[1];

/** One port match after l4proto: a 2-byte transport load then cmp eq/neq, cmp gte+lte, or range neq. */
function matchPort(c: Cursor, d: Draft): boolean {
  const p = c.peek();
  if (p?.kind !== 'payload' || p.base !== NFT_PAYLOAD_TRANSPORT_HEADER || p.dreg !== r1 || p.len !== 2 || (p.offset !== 0 && p.offset !== 2)) return false;
  const field = p.offset === 0 ? 'sport' : 'dport';
  if (d[field] !== undefined) return false;
  const a = c.peek(1);
  const b = c.peek(2);
  const is2 = (e: Expr | undefined): e is Cmp => isCmp(e, [NFT_CMP_EQ, NFT_CMP_NEQ, NFT_CMP_GTE, NFT_CMP_LTE]) && e.data.length === 2;
  if (is2(a) && a.op === NFT_CMP_GTE && is2(b) && b.op === NFT_CMP_LTE) {
    d[field] = `${readBe16(a.data)}-${readBe16(b.data)}`;
    c.i += 3;
  } else if (is2(a) && (a.op === NFT_CMP_EQ || a.op === NFT_CMP_NEQ)) {
    d[field] = `${a.op === NFT_CMP_NEQ ? '!' : ''}${readBe16(a.data)}`;
    c.i += 2;
  } else if (a?.kind === 'range' && a.sreg === r1 && a.op === NFT_RANGE_NEQ && a.from.length === 2 && a.to.length === 2) {
    d[field] = `!${readBe16(a.from)}-${readBe16(a.to)}`;
    c.i += 2;
  } else if (a?.kind === 'lookup' && a.sreg === r1 && a.dreg === undefined && c.sets.has(a.set) && ((a.flags ?? 0) & ~NFT_LOOKUP_F_INV) === 0) {
    d[field] = `${(a.flags ?? 0) & NFT_LOOKUP_F_INV ? '!' : ''}${c.sets.get(a.set)!}`;
    c.i += 2;
  } else {
    return false;
  }
  return true;
}

function matchMark(c: Cursor, d: Draft): boolean {
  const a = c.peek();
  const b = c.peek(1);
  const setter = (e: Expr | undefined): boolean => e?.kind === 'meta' && e.key === NFT_META_MARK && e.sreg === r1;
  if (a?.kind === 'immediate' && a.dreg === r1 && a.value?.length === 4 && setter(b)) {
    d.mark = readHostU32(a.value);
    c.i += 2;
    return true;
  }
  const s = c.peek(2);
  if (isMetaLoad(a, NFT_META_MARK) && isBoolBitwise(b) && b.sreg === r1 && b.dreg === r1 && b.len === 4
      && b.mask.length === 4 && b.xor.length === 4 && setter(s)) {
    const keep = readHostU32(b.mask);
    const value = readHostU32(b.xor);
    d.mark = value;
    d.mask = ~keep >>> 0;
    if ((value & keep) >>> 0) d.xor = true;
    c.i += 3;
    return true;
  }
  return false;
}

/** `meta mark [& M] ==|!= V` or `ct mark [& M] ==|!= V`. */
function matchMarkValue(c: Cursor, d: Draft): boolean {
  const a = c.peek();
  const field = isMetaLoad(a, NFT_META_MARK) ? 'markMatch' : a?.kind === 'ct' && a.key === NFT_CT_MARK && a.dreg === r1 ? 'ctmarkMatch' : undefined;
  if (!field || d[field] !== undefined) return false;
  let k = 1;
  let mask = FULL_MASK as number;
  const b = c.peek(1);
  if (b?.kind === 'bitwise') {
    if (!isBoolBitwise(b) || b.sreg !== r1 || b.dreg !== r1 || b.len !== 4 || b.mask.length !== 4 || !allZero(b.xor) || b.op !== undefined && b.op !== NFT_BITWISE_BOOL) return false;
    mask = readHostU32(b.mask);
    k = 2;
  }
  const cm = c.peek(k);
  if (!isCmp(cm, [NFT_CMP_EQ, NFT_CMP_NEQ]) || cm.data.length !== 4) return false;
  // a mark load followed by a bitwise and a meta set is the mark statement, not a match
  d[field] = `${cm.op === NFT_CMP_NEQ ? '!' : ''}0x${readHostU32(cm.data).toString(16)}/0x${mask.toString(16)}`;
  c.i += k + 1;
  return true;
}

const UNIT_NAMES = new Map<bigint, RateUnit>(Object.entries(UNIT_SECONDS).map(([k, v]) => [v, k as RateUnit]));

/**
 * The MarkRule a pktmark-shaped rule stands for, or undefined when the expressions are anything
 * else (the caller then keeps them raw). The draft goes through normalizeRule, so a decoded rule
 * is exactly what the same input would give — and inconsistent rules (oif in prerouting,
 * ports without a port protocol) do not map.
 */
export function exprsToRule(exprs: readonly Expr[], chain: string, comment?: string, sets?: ReadonlyMap<string, string>, lists?: ReadonlyMap<string, ListSetInfo>): MarkRule | undefined {
  const base = chainByName(chain);
  const user = base ? undefined : userChainOf(chain);
  if (!base && !user) return undefined;
  const table = base?.table ?? user!.table;
  const c = new Cursor(exprs, sets, lists);
  const d: Draft = base ? { via: 'nft', hook: base.hook, table } : { via: 'nft', chain: user!.name, table };
  let fam: Family | undefined;
  if (isMetaLoad(c.peek(), NFT_META_NFPROTO)) {
    const cm = c.peek(1);
    if (!isCmp(cm) || cm.data.length !== 1) return undefined;
    fam = cm.data[0] === NFPROTO_IPV4 ? 'ip' : cm.data[0] === NFPROTO_IPV6 ? 'ip6' : undefined;
    if (!fam) return undefined;
    d.family = fam;
    c.i += 2;
  }
  // matches in any order (nft keeps the order of the text; other writers may differ)
  for (;;) {
    if (matchAddress(c, d, fam) || matchIfname(c, d) || matchProto(c, d)) continue;
    break;
  }
  for (;;) {
    if (matchMarkValue(c, d)) continue;
    break;
  }
  const l = c.peek();
  if (l?.kind === 'limit') {
    const unit = UNIT_NAMES.get(l.unit);
    if (!unit || l.type !== 'packets' || l.inverted || l.rate < 1n || l.rate > 0xffffffffn || l.burst < 1) return undefined;
    d.rate = `${l.rate}/${unit}`;
    d.burst = l.burst;
    c.i++;
  }
  if (c.peek()?.kind !== 'counter') return undefined;
  c.i++;
  // the statement: connmark (native or xt target), a verdict (user chains), or the mark set
  const cm = decodeConnmark(c.xs, c.i);
  const jump = cm ? undefined : decodeJump(c.peek(), table);
  if (cm) { d.connmark = connmarkInput(cm.c); c.i += cm.n; }
  else if (jump !== undefined) { d.jump = jump; c.i++; }
  else if (!matchMark(c, d)) return undefined;
  if (!c.done) return undefined;
  if (comment !== undefined) d.comment = comment;
  try {
    const rule = normalizeWith(nftFields, d as MarkRuleInput);
    const { src, dst } = c.found;
    return src || dst ? { ...rule, ...(src ? { srcList: listOfSet(src) } : {}), ...(dst ? { dstList: listOfSet(dst) } : {}) } : rule;
  } catch (e) {
    if (e instanceof PktmarkError) return undefined;
    throw e;
  }
}

/** Packets and bytes of the rule's (first) counter. */
export function counterOf(exprs: readonly Expr[]): { packets: number; bytes: number } {
  for (const e of exprs) {
    if (e.kind === 'counter') return { packets: Number(e.packets ?? 0n), bytes: Number(e.bytes ?? 0n) };
  }
  return { packets: 0, bytes: 0 };
}
