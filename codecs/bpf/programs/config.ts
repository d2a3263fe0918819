/**
 * The config map's value: one fixed struct per rule slot (BPF_MAP_TYPE_ARRAY, key u32 = slot).
 * It holds the rule as pktmark encoded it — so `list` decodes rules from the kernel after the
 * process that added them has gone — and the fields the program updates at run time.
 *
 * Byte order: every number is host order (the program reads them with plain loads on the same
 * machine), except the addresses, which are network order like the packet bytes they match.
 * The runtime u64s are 8-aligned because BPF_ATOMIC on a map value must be aligned.
 */
import { PktmarkError, decodeError } from '../../errors.js';
import { HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';
import type { BpfAddrMatch, BpfPortMatch, BpfRuleSpec, RateUnit } from './spec.js';

export const CONFIG_MAGIC = 0x70636667; // "pcfg" read as a host-order u32 on a big-endian host
export const CONFIG_VERSION = 1;
export const COMMENT_MAX = 128;

/** byte offsets of struct pktmark_cfg (the layout is this table; nothing else computes offsets) */
export const CFG = {
  magic: 0, //        u32
  version: 4, //      u32
  used: 8, //         u8  1 = slot holds a rule
  family: 9, //       u8  0 any, 4, 6
  flags: 10, //       u16 FLAG_* below
  proto: 12, //       u8
  srcPrefix: 13, //   u8
  dstPrefix: 14, //   u8
  unit: 15, //        u8  0 none, 1 second, 2 minute, 3 hour, 4 day
  src: 16, //         u8[16] network order (IPv4 in the first 4)
  dst: 32, //         u8[16]
  sportFrom: 48, //   u16
  sportTo: 50, //     u16
  dportFrom: 52, //   u16
  dportTo: 54, //     u16
  mark: 56, //        u32 the program reads it
  mask: 60, //        u32 the program reads it
  rate: 64, //        u32
  burst: 68, //       u32
  intervalNs: 72, //  u64 T = unit_ns / rate, read by the program's token bucket
  tauNs: 80, //       u64 tau = (burst - 1) * T
  commentLen: 88, //  u16, then 2 zero bytes
  applyTag: 92, //    u32 apply's name hash (flag hasApplyTag); the program never reads it
  comment: 96, //     u8[128] UTF-8
  packets: 224, //    u64 runtime: lock-added by the program
  bytes: 232, //      u64 runtime
  tat: 240, //        u64 runtime: GCRA theoretical arrival time, ktime ns
} as const;
export const CONFIG_VALUE_SIZE = 248;
/** the fields the program writes; a rule update must not overwrite them with zeros unless it means to */
export const RUNTIME_OFFSETS = { packets: CFG.packets, bytes: CFG.bytes, tat: CFG.tat } as const;

const F = {
  hasSrc: 1 << 0, srcNeg: 1 << 1, srcIp6: 1 << 2, hasDst: 1 << 3, dstNeg: 1 << 4, dstIp6: 1 << 5,
  hasProto: 1 << 6, hasSport: 1 << 7, sportNeg: 1 << 8, hasDport: 1 << 9, dportNeg: 1 << 10,
  xor: 1 << 11, hasRate: 1 << 12, hasComment: 1 << 13, hasApplyTag: 1 << 14,
} as const;
const KNOWN_FLAGS = (1 << 15) - 1;

const UNITS: readonly RateUnit[] = ['second', 'minute', 'hour', 'day'];
const UNIT_NS: Readonly<Record<RateUnit, bigint>> = { second: 1_000_000_000n, minute: 60_000_000_000n, hour: 3_600_000_000_000n, day: 86_400_000_000_000n };
/** protocols whose first four L4 bytes are source and destination port (tcp, udp, dccp, sctp, udplite) */
export const PORT_PROTOS: readonly number[] = [6, 17, 33, 132, 136];

const u32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const bad = (code: 'INVALID_CIDR' | 'FAMILY_MISMATCH' | 'INVALID_PROTO' | 'INVALID_PORT' | 'PORT_WITHOUT_PROTO' | 'INVALID_MARK' | 'INVALID_MASK' | 'MASK_MISMATCH' | 'INVALID_RATE' | 'INVALID_BURST' | 'INVALID_COMMENT', field: string, msg: string): never => {
  throw new PktmarkError(code, msg, { field });
};

/** The token bucket's T and tau in ns (GCRA: a packet conforms while tat - now <= tau). */
export function rateTiming(r: NonNullable<BpfRuleSpec['rate']>): { intervalNs: bigint; tauNs: bigint } {
  if (!u32(r.rate) || r.rate === 0 || !UNITS.includes(r.unit)) bad('INVALID_RATE', 'rate', `rate ${r.rate}/${r.unit} is not a positive u32 per second|minute|hour|day`);
  if (!u32(r.burst)) bad('INVALID_BURST', 'burst', `burst ${r.burst} is not a u32`);
  const intervalNs = UNIT_NS[r.unit] / BigInt(r.rate);
  if (intervalNs === 0n) bad('INVALID_RATE', 'rate', `rate ${r.rate}/${r.unit} is more than one packet per nanosecond`);
  // nft limit: `burst` packets may pass at once; burst 0 behaves as 1
  const tauNs = BigInt(Math.max(r.burst - 1, 0)) * intervalNs;
  if (tauNs >= 1n << 63n) bad('INVALID_BURST', 'burst', `burst ${r.burst} at ${r.rate}/${r.unit} overflows the 64-bit bucket`);
  return { intervalNs, tauNs };
}

function checkAddr(a: BpfAddrMatch, field: 'src' | 'dst', family: BpfRuleSpec['family']): void {
  const len = a.family === 'ip' ? 4 : a.family === 'ip6' ? 16 : -1;
  if (len < 0 || !(a.address instanceof Uint8Array) || a.address.length !== len) bad('INVALID_CIDR', field, `${field}: a ${a.family} address is ${len} bytes`);
  if (!Number.isInteger(a.prefix) || a.prefix < 0 || a.prefix > len * 8) bad('INVALID_CIDR', field, `${field}: prefix /${a.prefix} is out of range`);
  if (family !== undefined && family !== a.family) bad('FAMILY_MISMATCH', field, `${field} is ${a.family} but the rule is ${family}`);
}
function checkPorts(p: BpfPortMatch, field: 'sport' | 'dport', proto: number | undefined): void {
  const ok = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffff;
  if (!ok(p.from) || !ok(p.to) || p.from > p.to) bad('INVALID_PORT', field, `${field} ${p.from}-${p.to} is not a port range`);
  if (proto === undefined || !PORT_PROTOS.includes(proto)) bad('PORT_WITHOUT_PROTO', field, `${field} needs proto tcp, udp, udplite, sctp or dccp`);
}

/** Every check the encoder and the program generators rely on, in one place. */
export function validateSpec(s: BpfRuleSpec): void {
  if (s.src) checkAddr(s.src, 'src', s.family);
  if (s.dst) checkAddr(s.dst, 'dst', s.family ?? s.src?.family);
  if (s.proto !== undefined && (!Number.isInteger(s.proto) || s.proto < 0 || s.proto > 255)) bad('INVALID_PROTO', 'proto', `proto ${s.proto} is not 0..255`);
  if (s.sport) checkPorts(s.sport, 'sport', s.proto);
  if (s.dport) checkPorts(s.dport, 'dport', s.proto);
  if (!u32(s.mark)) bad('INVALID_MARK', 'mark', `mark ${s.mark} is not a u32`);
  if (!u32(s.mask)) bad('INVALID_MASK', 'mask', `mask ${s.mask} is not a u32`);
  // the program computes (old & ~mask) ^ mark, which is the `|` of --set-mark only inside mask
  if (!s.xor && ((s.mark & ~s.mask) >>> 0) !== 0) bad('MASK_MISMATCH', 'mark', `mark 0x${s.mark.toString(16)} has bits outside mask 0x${s.mask.toString(16)}`);
  if (s.rate) rateTiming(s.rate);
  if (s.comment !== undefined && new TextEncoder().encode(s.comment).length > COMMENT_MAX) bad('INVALID_COMMENT', 'comment', `comment is longer than ${COMMENT_MAX} bytes`);
}

/** spec → the map value (runtime fields zero: a fresh bucket is full). */
export function encodeConfigValue(s: BpfRuleSpec): Uint8Array {
  validateSpec(s);
  const b = new Uint8Array(CONFIG_VALUE_SIZE);
  const v = new DataView(b.buffer);
  const le = HOST_LITTLE_ENDIAN;
  let flags = 0;
  v.setUint32(CFG.magic, CONFIG_MAGIC, le);
  v.setUint32(CFG.version, CONFIG_VERSION, le);
  v.setUint8(CFG.used, 1);
  v.setUint8(CFG.family, s.family === 'ip' ? 4 : s.family === 'ip6' ? 6 : 0);
  for (const [a, at, pfx, has, neg, six] of [[s.src, CFG.src, CFG.srcPrefix, F.hasSrc, F.srcNeg, F.srcIp6], [s.dst, CFG.dst, CFG.dstPrefix, F.hasDst, F.dstNeg, F.dstIp6]] as const) {
    if (!a) continue;
    flags |= has | (a.negate ? neg : 0) | (a.family === 'ip6' ? six : 0);
    b.set(a.address, at);
    v.setUint8(pfx, a.prefix);
  }
  if (s.proto !== undefined) { flags |= F.hasProto; v.setUint8(CFG.proto, s.proto); }
  for (const [p, from, to, has, neg] of [[s.sport, CFG.sportFrom, CFG.sportTo, F.hasSport, F.sportNeg], [s.dport, CFG.dportFrom, CFG.dportTo, F.hasDport, F.dportNeg]] as const) {
    if (!p) continue;
    flags |= has | (p.negate ? neg : 0);
    v.setUint16(from, p.from, le);
    v.setUint16(to, p.to, le);
  }
  v.setUint32(CFG.mark, s.mark, le);
  v.setUint32(CFG.mask, s.mask, le);
  if (s.xor) flags |= F.xor;
  if (s.rate) {
    flags |= F.hasRate;
    const { intervalNs, tauNs } = rateTiming(s.rate);
    v.setUint8(CFG.unit, UNITS.indexOf(s.rate.unit) + 1);
    v.setUint32(CFG.rate, s.rate.rate, le);
    v.setUint32(CFG.burst, s.rate.burst, le);
    v.setBigUint64(CFG.intervalNs, intervalNs, le);
    v.setBigUint64(CFG.tauNs, tauNs, le);
  }
  if (s.comment !== undefined) {
    flags |= F.hasComment;
    const c = new TextEncoder().encode(s.comment);
    v.setUint16(CFG.commentLen, c.length, le);
    b.set(c, CFG.comment);
  }
  if (s.applyTag !== undefined) {
    flags |= F.hasApplyTag;
    v.setUint32(CFG.applyTag, s.applyTag >>> 0, le);
  }
  v.setUint16(CFG.flags, flags, le);
  return b;
}

export interface ConfigValue {
  /** undefined for a slot that holds no rule (all zero, or `used` cleared) */
  readonly spec: BpfRuleSpec | undefined;
  readonly packets: bigint;
  readonly bytes: bigint;
  readonly tat: bigint;
}

/** map value → spec and counters; anything that encodeConfigValue() could not have written is a DECODE error. */
export function decodeConfigValue(bytes: Uint8Array): ConfigValue {
  if (bytes.length !== CONFIG_VALUE_SIZE) throw decodeError(`pktmark_cfg value is ${bytes.length} bytes, expected ${CONFIG_VALUE_SIZE}`, 0);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = HOST_LITTLE_ENDIAN;
  const counters = { packets: v.getBigUint64(CFG.packets, le), bytes: v.getBigUint64(CFG.bytes, le), tat: v.getBigUint64(CFG.tat, le) };
  const magic = v.getUint32(CFG.magic, le);
  if (magic === 0 && v.getUint8(CFG.used) === 0) return { spec: undefined, ...counters };
  if (magic !== CONFIG_MAGIC) throw decodeError(`pktmark_cfg magic 0x${magic.toString(16)} is not pktmark's`, CFG.magic);
  const version = v.getUint32(CFG.version, le);
  if (version !== CONFIG_VERSION) throw decodeError(`pktmark_cfg version ${version} is unknown`, CFG.version);
  const used = v.getUint8(CFG.used);
  if (used > 1) throw decodeError(`pktmark_cfg used flag ${used}`, CFG.used);
  if (used === 0) return { spec: undefined, ...counters };
  const flags = v.getUint16(CFG.flags, le);
  if (flags & ~KNOWN_FLAGS) throw decodeError(`pktmark_cfg unknown flags 0x${flags.toString(16)}`, CFG.flags);
  const famByte = v.getUint8(CFG.family);
  if (![0, 4, 6].includes(famByte)) throw decodeError(`pktmark_cfg family ${famByte}`, CFG.family);
  const s: { -readonly [K in keyof BpfRuleSpec]: BpfRuleSpec[K] } = { mark: v.getUint32(CFG.mark, le), mask: v.getUint32(CFG.mask, le), xor: (flags & F.xor) !== 0 };
  if (famByte) s.family = famByte === 4 ? 'ip' : 'ip6';
  const addr = (at: number, pfx: number, neg: number, six: number): BpfAddrMatch => {
    const ip6 = (flags & six) !== 0;
    return { family: ip6 ? 'ip6' : 'ip', address: bytes.slice(at, at + (ip6 ? 16 : 4)), prefix: v.getUint8(pfx), negate: (flags & neg) !== 0 };
  };
  if (flags & F.hasSrc) s.src = addr(CFG.src, CFG.srcPrefix, F.srcNeg, F.srcIp6);
  if (flags & F.hasDst) s.dst = addr(CFG.dst, CFG.dstPrefix, F.dstNeg, F.dstIp6);
  if (flags & F.hasProto) s.proto = v.getUint8(CFG.proto);
  if (flags & F.hasSport) s.sport = { from: v.getUint16(CFG.sportFrom, le), to: v.getUint16(CFG.sportTo, le), negate: (flags & F.sportNeg) !== 0 };
  if (flags & F.hasDport) s.dport = { from: v.getUint16(CFG.dportFrom, le), to: v.getUint16(CFG.dportTo, le), negate: (flags & F.dportNeg) !== 0 };
  if (flags & F.hasRate) {
    const unit = UNITS[v.getUint8(CFG.unit) - 1];
    if (unit === undefined) throw decodeError(`pktmark_cfg rate unit ${v.getUint8(CFG.unit)}`, CFG.unit);
    s.rate = { rate: v.getUint32(CFG.rate, le), unit, burst: v.getUint32(CFG.burst, le) };
  }
  if (flags & F.hasComment) {
    const n = v.getUint16(CFG.commentLen, le);
    if (n > COMMENT_MAX) throw decodeError(`pktmark_cfg comment length ${n}`, CFG.commentLen);
    try {
      s.comment = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(CFG.comment, CFG.comment + n));
    } catch {
      throw decodeError('pktmark_cfg comment is not UTF-8', CFG.comment);
    }
  }
  if (flags & F.hasApplyTag) s.applyTag = v.getUint32(CFG.applyTag, le);
  try {
    validateSpec(s);
  } catch (e) {
    const field = e instanceof PktmarkError ? e.field : undefined;
    throw decodeError(`pktmark_cfg holds an invalid rule (${e instanceof Error ? e.message : String(e)})`, field === undefined ? 0 : fieldOffset(field));
  }
  if (s.rate) {
    const { intervalNs, tauNs } = rateTiming(s.rate);
    if (v.getBigUint64(CFG.intervalNs, le) !== intervalNs || v.getBigUint64(CFG.tauNs, le) !== tauNs) {
      throw decodeError('pktmark_cfg token-bucket timing does not match its rate and burst', CFG.intervalNs);
    }
  }
  return { spec: s, ...counters };
}

function fieldOffset(field: string): number {
  const table: Record<string, number> = { src: CFG.src, dst: CFG.dst, proto: CFG.proto, sport: CFG.sportFrom, dport: CFG.dportFrom, mark: CFG.mark, mask: CFG.mask, rate: CFG.rate, burst: CFG.burst, comment: CFG.comment };
  return table[field] ?? 0;
}
