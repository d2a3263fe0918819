/** The config map value (round trip, garbage), the spec checks, and the generated programs' determinism and shape. */
import test from 'ava';
import fc from 'fast-check';
import {
  CFG, CONFIG_MAP_REF, CONFIG_VALUE_SIZE, RUNTIME_OFFSETS, cgroupSockProgram, decodeConfigValue, encodeConfigValue, rateTiming,
  tcMarkerProgram, tcMetaCopyProgram, xdpMetaProgram, PKTMARK_CGROUP_PROG, PKTMARK_CONFIG_MAP, PKTMARK_TC_PROG, PKTMARK_XDP_COPY_PROG,
  PKTMARK_XDP_PROG, type BpfRuleSpec, type SlotRule,
} from '../../codecs/bpf/programs/index.js';
import { prefixWords } from '../../codecs/bpf/programs/match.js';
import { assemble } from '../../codecs/bpf/asm.js';
import { disassemble } from '../../codecs/bpf/disasm.js';
import { PktmarkError } from '../../codecs/errors.js';

const u8s = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const addr = (family: 'ip' | 'ip6') => fc.record({
  family: fc.constant(family), address: u8s(family === 'ip' ? 4 : 16),
  prefix: fc.integer({ min: 0, max: family === 'ip' ? 32 : 128 }), negate: fc.boolean(),
});
const ports = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.boolean())
  .map(([a, b, negate]) => ({ from: Math.min(a, b), to: Math.max(a, b), negate }));
export const ruleSpec: fc.Arbitrary<BpfRuleSpec> = fc.constantFrom('ip' as const, 'ip6' as const).chain((fam) => fc.record({
  fam: fc.boolean(), src: fc.option(addr(fam), { nil: undefined }), dst: fc.option(addr(fam), { nil: undefined }),
  proto: fc.option(fc.oneof(fc.constantFrom(6, 17, 33, 132, 136), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
  sport: fc.option(ports, { nil: undefined }), dport: fc.option(ports, { nil: undefined }),
  mark: fc.nat({ max: 0xffffffff }), mask: fc.nat({ max: 0xffffffff }), xor: fc.boolean(),
  rate: fc.option(fc.record({ rate: fc.integer({ min: 1, max: 1_000_000 }), unit: fc.constantFrom('second' as const, 'minute' as const, 'hour' as const, 'day' as const), burst: fc.integer({ min: 0, max: 10_000 }) }), { nil: undefined }),
  comment: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
}).map((g) => {
  const withPorts = g.proto !== undefined && [6, 17, 33, 132, 136].includes(g.proto);
  const s: { -readonly [K in keyof BpfRuleSpec]: BpfRuleSpec[K] } = { mark: g.xor ? g.mark : (g.mark & g.mask) >>> 0, mask: g.mask, xor: g.xor };
  if (g.fam) s.family = fam;
  if (g.src) s.src = g.src;
  if (g.dst) s.dst = g.dst;
  if (g.proto !== undefined) s.proto = g.proto;
  if (withPorts && g.sport) s.sport = g.sport;
  if (withPorts && g.dport) s.dport = g.dport;
  if (g.rate) s.rate = g.rate;
  if (g.comment !== undefined) s.comment = g.comment;
  return s;
}));
const slotRules: fc.Arbitrary<SlotRule[]> = fc.uniqueArray(fc.nat({ max: 1000 }), { maxLength: 4 })
  .chain((slots) => fc.tuple(...slots.map((slot) => ruleSpec.map((spec) => ({ slot, spec })))));

test('config value: decode(encode(spec)) is the spec, counters zero (property)', (t) => {
  fc.assert(fc.property(ruleSpec, (s) => {
    const b = encodeConfigValue(s);
    t.is(b.length, CONFIG_VALUE_SIZE);
    t.deepEqual(decodeConfigValue(b), { spec: s, packets: 0n, bytes: 0n, tat: 0n });
  }), { numRuns: 400 });
});

test('config value: runtime fields are 8-aligned u64s after the spec, and decode reads them', (t) => {
  for (const off of Object.values(RUNTIME_OFFSETS)) t.is(off % 8, 0);
  t.true(RUNTIME_OFFSETS.packets >= CFG.comment + 128);
  const b = encodeConfigValue({ mark: 1, mask: 0xffffffff, xor: false });
  const v = new DataView(b.buffer);
  v.setBigUint64(RUNTIME_OFFSETS.packets, 3n, true);
  v.setBigUint64(RUNTIME_OFFSETS.bytes, 252n, true);
  t.like(decodeConfigValue(b), { packets: 3n, bytes: 252n, tat: 0n });
  t.deepEqual(decodeConfigValue(new Uint8Array(CONFIG_VALUE_SIZE)).spec, undefined, 'an untouched array slot is empty');
});

test('config value: T and tau of the token bucket', (t) => {
  t.deepEqual(rateTiming({ rate: 1, unit: 'second', burst: 1 }), { intervalNs: 1_000_000_000n, tauNs: 0n });
  t.deepEqual(rateTiming({ rate: 10, unit: 'minute', burst: 5 }), { intervalNs: 6_000_000_000n, tauNs: 24_000_000_000n });
  t.deepEqual(rateTiming({ rate: 3, unit: 'second', burst: 0 }), { intervalNs: 333_333_333n, tauNs: 0n });
  t.throws(() => rateTiming({ rate: 2_000_000_000, unit: 'second', burst: 1 }), { instanceOf: PktmarkError, message: /per nanosecond/ });
});

test('config value: garbage and mutations only ever give a spec or a DECODE error', (t) => {
  const ok = (b: Uint8Array): boolean => {
    try { decodeConfigValue(b); return true; } catch (e) { return e instanceof PktmarkError && e.code === 'DECODE'; }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), ok), { numRuns: 500 });
  fc.assert(fc.property(ruleSpec, fc.array(fc.tuple(fc.nat({ max: CONFIG_VALUE_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (s, flips) => {
    const b = encodeConfigValue(s);
    for (const [at, x] of flips) b[at] = x;
    return ok(b);
  }), { numRuns: 500 });
  const b = encodeConfigValue({ mark: 1, mask: 1, xor: false });
  b[0] ^= 0xff;
  t.throws(() => decodeConfigValue(b), { instanceOf: PktmarkError, message: /magic .* at byte 0/ });
  t.throws(() => decodeConfigValue(new Uint8Array(10)), { instanceOf: PktmarkError, message: /10 bytes/ });
});

test('spec checks: typed errors naming the field', (t) => {
  const base = { mark: 1, mask: 0xffffffff, xor: false };
  const code = (s: BpfRuleSpec): string | undefined => (t.throws(() => encodeConfigValue(s), { instanceOf: PktmarkError }) as PktmarkError | undefined)?.code;
  t.is(code({ ...base, mark: 0x10, mask: 0x0f }), 'MASK_MISMATCH');
  t.is(code({ ...base, dport: { from: 80, to: 80, negate: false } }), 'PORT_WITHOUT_PROTO');
  t.is(code({ ...base, proto: 6, dport: { from: 90, to: 80, negate: false } }), 'INVALID_PORT');
  t.is(code({ ...base, family: 'ip6', src: { family: 'ip', address: new Uint8Array(4), prefix: 8, negate: false } }), 'FAMILY_MISMATCH');
  t.is(code({ ...base, src: { family: 'ip', address: new Uint8Array(4), prefix: 33, negate: false } }), 'INVALID_CIDR');
  t.is(code({ ...base, comment: 'x'.repeat(129) }), 'INVALID_COMMENT');
  t.throws(() => tcMarkerProgram([{ slot: 1, spec: base }, { slot: 1, spec: base }], { config: CONFIG_MAP_REF }), { message: /slot 1 is used twice/ });
});

test('prefix words: what a 4-byte load of the address yields on this host, masked', (t) => {
  const a = (address: number[], prefix: number) => prefixWords({ family: address.length === 4 ? 'ip' : 'ip6', address: new Uint8Array(address), prefix, negate: false });
  t.deepEqual(a([10, 0, 0, 1], 32), [{ mask: 0xffffffff, value: 0x0100000a }]);
  t.deepEqual(a([10, 1, 2, 3], 24), [{ mask: 0x00ffffff, value: 0x0002010a }]);
  t.deepEqual(a([10, 1, 2, 3], 0), []);
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, ...new Array(10).fill(0)];
  t.deepEqual(a(v6, 36), [{ mask: 0xffffffff, value: 0xb80d0120 }, { mask: 0x000000f0, value: 0x000000a0 }]);
});

test('generated programs are deterministic for a given input (property)', (t) => {
  const maps = { config: CONFIG_MAP_REF };
  fc.assert(fc.property(slotRules, (rules) => {
    const hex = (r: SlotRule[]) => [tcMarkerProgram(r, maps), xdpMetaProgram(r, maps)].map((p) => Buffer.from(assemble(p.items)).toString('hex')).join('|');
    t.is(hex(rules), hex(structuredClone(rules)));
    t.is(hex(rules), hex([...rules].reverse()), 'slot order, not input order');
  }), { numRuns: 60 });
});

test('rules compare words with JMP32 and no 64-bit compare against an immediate', (t) => {
  fc.assert(fc.property(slotRules, (rules) => {
    for (const p of [tcMarkerProgram(rules, { config: CONFIG_MAP_REF }), xdpMetaProgram(rules, { config: CONFIG_MAP_REF })]) {
      for (const line of disassemble(p.items)) {
        // the only 64-bit immediate compares allowed: null checks and small non-negative constants
        const m = /if r\d+ [^ ]+ 0x([0-9a-f]+) goto/.exec(line);
        if (m) t.true(parseInt(m[1], 16) < 0x80000000, line);
      }
    }
  }), { numRuns: 60 });
});

test('programs: names fit BPF_OBJ_NAME_LEN and use the kernel\'s alphabet; return codes', (t) => {
  for (const n of [PKTMARK_TC_PROG, PKTMARK_XDP_PROG, PKTMARK_XDP_COPY_PROG, PKTMARK_CGROUP_PROG, PKTMARK_CONFIG_MAP]) t.regex(n, /^[A-Za-z0-9_.]{1,15}$/);
  const tail = (lines: string[]) => lines.slice(-2).map((l) => l.replace(/^\d+: /, ''));
  const maps = { config: CONFIG_MAP_REF };
  t.deepEqual(tail(disassemble(tcMarkerProgram([], maps).items)), ['(b7) r0 = -1', '(95) exit']);
  t.deepEqual(tail(disassemble(xdpMetaProgram([], maps).items)), ['(b7) r0 = 2', '(95) exit']);
  t.deepEqual(tail(disassemble(tcMetaCopyProgram().items)), ['(b7) r0 = -1', '(95) exit']);
  t.deepEqual(tail(disassemble(cgroupSockProgram(maps).items)), ['(b7) r0 = 1', '(95) exit']);
});

test('a rule set too large for 16-bit jumps is refused with BPF_TOO_LARGE before anything is loaded', (t) => {
  const spec: BpfRuleSpec = { family: 'ip6', src: { family: 'ip6', address: new Uint8Array(16).fill(1), prefix: 128, negate: true }, proto: 6, dport: { from: 1, to: 2, negate: true }, mark: 1, mask: 1, xor: false, rate: { rate: 1, unit: 'second', burst: 1 } };
  const rules = Array.from({ length: 600 }, (_, slot) => ({ slot, spec }));
  const e = t.throws(() => assemble(tcMarkerProgram(rules, { config: CONFIG_MAP_REF }).items), { instanceOf: PktmarkError });
  t.is(e?.code, 'BPF_TOO_LARGE');
  t.regex(e?.message ?? '', /to 'done' needs offset/);
});
