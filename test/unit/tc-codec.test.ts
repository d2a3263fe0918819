/** tc codec and rule mapping without a kernel: round trips (fast-check), decoder fuzz, refusals, ids. */
import test from 'ava';
import fc from 'fast-check';
import { AttributeWriter, AttributeReader } from '../../codecs/netlink/attributes.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { PktmarkError } from '../../src/errors.js';
import { decodeFilter, encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { decodeActions, encodeActions, type TcAction } from '../../codecs/tc/actions/index.js';
import { decodeSelector, encodeSelector, formatU32Handle, parseU32Handle, tcU32Key, tcU32SelHead, type U32Selector } from '../../codecs/tc/classifiers/u32.js';
import { pktBurstPackets, pktBurstTicks } from '../../codecs/tc/actions/police.js';
import { ParmsPart, tcSkbedit } from '../../codecs/tc/actions/skbedit.js';
import { filterToRule, ruleToFilter, ownerCookie, parseOwnerCookie, explainRule } from '../../src/backends/tc/rule.js';
import { parseTcId, tcId } from '../../src/backends/tc/index.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });

const selectorArb: fc.Arbitrary<U32Selector> = fc.record({
  flags: u8, offshift: u8, offmask: u16, off: u16, offoff: u16, hoff: u16, hmask: u32,
  keys: fc.array(fc.record({ mask: u32, val: u32, off: i32, offmask: i32 }), { maxLength: 12 }),
});
const gen = fc.record({ index: u32, capab: u32, action: i32, refcnt: i32, bindcnt: i32 });
const actionArb: fc.Arbitrary<Omit<TcAction, 'order'>> = fc.oneof(
  fc.record({ options: fc.record({ kind: fc.constant('skbedit' as const), parms: gen, mark: u32, mask: u32, extra: fc.constant([]) }), cookie: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ options: fc.record({ kind: fc.constant('skbedit' as const), parms: gen, extra: fc.constant([]) }) }),
  fc.record({
    options: fc.record({
      kind: fc.constant('police' as const),
      tbf: fc.record({
        index: u32, action: i32, limit: u32, burst: u32, mtu: u32,
        rateCellLog: u8, rateLinklayer: u8, rateOverhead: u16, rateCellAlign: u16, rateMpu: u16, rate: u32,
        peakCellLog: u8, peakLinklayer: u8, peakOverhead: u16, peakCellAlign: u16, peakMpu: u16, peakrate: u32,
        refcnt: i32, bindcnt: i32, capab: u32,
      }),
      result: i32, pktRate: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), pktBurst: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), extra: fc.constant([]),
    }),
  }),
  fc.record({ options: fc.record({ kind: fc.constant('raw' as const), name: fc.constantFrom('gact', 'mirred', 'vlan'), data: fc.uint8Array({ maxLength: 40 }).map((b) => b.slice(0, b.length & ~3)) }) }),
);

test('u32 selector round trip', (t) => {
  fc.assert(fc.property(selectorArb, (s) => { t.deepEqual(decodeSelector(encodeSelector(s)), s); }));
});

test('u32 selector: the direct writer gives the bytes of the struct definitions', (t) => {
  fc.assert(fc.property(selectorArb, (s) => {
    const want = new Uint8Array(tcU32SelHead.size + tcU32Key.size * s.keys.length);
    const v = new DataView(want.buffer);
    tcU32SelHead.write(v, 0, { flags: s.flags, offshift: s.offshift, nkeys: s.keys.length, offmask: s.offmask, off: s.off, offoff: s.offoff, hoff: s.hoff, hmask: s.hmask });
    s.keys.forEach((k, i) => tcU32Key.write(v, tcU32SelHead.size + i * tcU32Key.size, k));
    t.deepEqual(encodeSelector(s), want);
  }));
});

test('skbedit parms: the direct writer gives the bytes of the struct definition', (t) => {
  fc.assert(fc.property(gen, (p) => {
    const want = tcSkbedit.encode(p);
    const got = new Uint8Array(want.length);
    new ParmsPart(p).write(new DataView(got.buffer), 0);
    t.deepEqual(got, want);
  }));
});

test('action list round trip (skbedit, police, unknown kinds kept raw)', (t) => {
  fc.assert(fc.property(fc.array(actionArb, { minLength: 1, maxLength: 4 }), (list) => {
    const actions = list.map((a, i) => ({ ...a, order: i + 1 })) as TcAction[];
    const w = new AttributeWriter();
    encodeActions(w, actions);
    t.deepEqual(decodeActions(new AttributeReader(w.finish())), actions);
  }));
});

const ruleArb: fc.Arbitrary<MarkRuleInput> = fc.oneof(
  fc.record({
    src: fc.option(fc.tuple(u32, fc.integer({ min: 1, max: 32 })).map(([a, p]) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${p}`), { nil: undefined }),
    dst: fc.option(fc.tuple(u32, fc.integer({ min: 1, max: 32 })).map(([a, p]) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${p}`), { nil: undefined }),
    fam: fc.constant('ip' as const),
  }),
  fc.record({
    src: fc.option(fc.tuple(fc.array(u16, { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 128 })).map(([g, p]) => `${g.map((x) => x.toString(16)).join(':')}/${p}`), { nil: undefined }),
    dst: fc.option(fc.tuple(fc.array(u16, { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 128 })).map(([g, p]) => `${g.map((x) => x.toString(16)).join(':')}/${p}`), { nil: undefined }),
    fam: fc.constant('ip6' as const),
  }),
).chain((a) => fc.record({
  via: fc.constant('tc' as const), dev: fc.constantFrom('eth0', 'va', 'veth-x1'), direction: fc.constantFrom('ingress', 'egress'),
  prio: fc.integer({ min: 1, max: 0xffff }), family: fc.constant(a.fam),
  src: fc.constant(a.src), dst: fc.constant(a.dst),
  ports: fc.option(fc.record({ proto: fc.constantFrom('tcp', 'udp', 'sctp'), sport: fc.option(u16, { nil: undefined }), dport: fc.option(u16, { nil: undefined }) }), { nil: undefined }),
  markMask: fc.tuple(u32, u32).map(([m, k]) => ({ mark: (m & k) >>> 0, mask: k })),
  rate: fc.option(fc.record({ n: fc.integer({ min: 1, max: 100000 }), burst: fc.integer({ min: 1, max: 1000 }) }), { nil: undefined }),
})).map((r) => {
  const o: Record<string, unknown> = { via: r.via, dev: r.dev, direction: r.direction, prio: r.prio, family: r.family, mark: r.markMask.mark, mask: r.markMask.mask };
  if (r.src) o.src = r.src;
  if (r.dst) o.dst = r.dst;
  if (r.ports) { o.proto = r.ports.proto; if (r.ports.sport !== undefined) o.sport = r.ports.sport; if (r.ports.dport !== undefined) o.dport = r.ports.dport; }
  if (r.rate) { o.rate = `${r.rate.n}/second`; o.burst = r.rate.burst; }
  return o as unknown as MarkRuleInput;
});

test('MarkRule → filter message → bytes → filter → MarkRule round trip', (t) => {
  fc.assert(fc.property(ruleArb, (input) => {
    const rule = normalizeRule(input);
    const w = new AttributeWriter();
    encodeNewFilter(w, 1, ruleToFilter(rule, { ifindex: 7, qdisc: 'clsact', cookie: ownerCookie(true, rule.direction) }), { echo: true });
    const f = decodeFilter(parseMessages(w.finish())[0]);
    const back = filterToRule(f, rule.dev!, rule.direction!);
    t.deepEqual(back.raw, undefined);
    t.deepEqual(back.rule, rule);
  }), { numRuns: 300 });
});

test('decoders throw only PktmarkError on random and mutated bytes', (t) => {
  const seed = (() => {
    const w = new AttributeWriter();
    encodeNewFilter(w, 1, ruleToFilter(normalizeRule({ via: 'tc', dev: 'eth0', src: '10.0.0.0/24', proto: 'tcp', dport: 80, mark: '0x10/0xf0', rate: '5/second', burst: 2 }), { ifindex: 2, qdisc: 'clsact', cookie: ownerCookie(false) }));
    return w.finish();
  })();
  const check = (b: Uint8Array): void => {
    try {
      for (const m of parseMessages(b)) { const f = decodeFilter(m); filterToRule(f, 'eth0', 'ingress'); }
    } catch (e) {
      if (!(e instanceof PktmarkError)) throw e;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => { t.notThrows(() => check(b)); }), { numRuns: 500 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(seed.length - 1), u8), { minLength: 1, maxLength: 6 }), (muts) => {
    const b = seed.slice();
    for (const [i, v] of muts) b[i] = v;
    t.notThrows(() => check(b));
  }), { numRuns: 2000 });
  fc.assert(fc.property(fc.nat(seed.length), (n) => { t.notThrows(() => check(seed.slice(0, n))); }));
});

test('what tc cannot express is UNSUPPORTED, naming the field', (t) => {
  const cases: [MarkRuleInput, string][] = [
    [{ via: 'tc', dev: 'eth0', src: '!10.0.0.1', mark: 1 }, 'src'],
    [{ via: 'tc', dev: 'eth0', dst: '!fd00::1', mark: 1 }, 'dst'],
    [{ via: 'tc', dev: 'eth0', mark: 0x11, mask: 1, xor: true }, 'xor'],
    [{ via: 'tc', dev: 'eth0', mark: 1, comment: 'x' }, 'comment'],
    [{ via: 'tc', dev: 'eth0', mark: 1, proto: 'tcp', dport: 80 }, 'family'],
    [{ via: 'tc', dev: 'eth0', mark: 1, rate: '1/minute' }, 'rate'],
  ];
  for (const [input, field] of cases) {
    let rule;
    try { rule = normalizeRule(input); } catch (e) { t.fail(`normalizeRule refused ${JSON.stringify(input)}: ${(e as Error).message}`); continue; }
    const e = t.throws(() => ruleToFilter(rule, { ifindex: 1, qdisc: 'clsact' }), { instanceOf: PktmarkError });
    t.is(e?.code, 'UNSUPPORTED', JSON.stringify(input));
    t.is(e?.field, field);
  }
  // whole per-second rates in other units are fine: 120/minute = 2 packets/s
  t.notThrows(() => ruleToFilter(normalizeRule({ via: 'tc', dev: 'eth0', mark: 1, rate: '120/minute' }), { ifindex: 1, qdisc: 'clsact' }));
  // iif/oif are refused by normalizeRule for tc already
  t.throws(() => normalizeRule({ via: 'tc', dev: 'eth0', mark: 1, iif: 'lo' }), { instanceOf: PktmarkError });
});

test('ids, handles, cookies, police burst', (t) => {
  t.is(formatU32Handle(0x80000800), '800::800');
  t.is(formatU32Handle(0x80000000), '800:');
  t.is(formatU32Handle(0x801ab003), '801:ab:3');
  for (const h of [0x80000800, 0x80000000, 0x801ab003, 0xfff00fff]) t.is(parseU32Handle(formatU32Handle(h)), h);
  t.is(tcId('eth0', 'ingress', 49152, 0x80000800), 'tc:eth0:ingress:49152:800::800');
  t.deepEqual(parseTcId('tc:eth0:ingress:49152:800::800'), { dev: 'eth0', direction: 'ingress', prio: 49152, handle: 0x80000800 });
  for (const bad of ['tc:eth0:sideways:1:800::800', 'tc:eth0:ingress:0:800::800', 'tc:eth0:ingress:1:zz', 'nft:x:1', 'tc:a/b:ingress:1:800::800']) {
    t.throws(() => parseTcId(bad), { instanceOf: PktmarkError, code: 'INVALID_ID' } as never, bad);
  }
  t.deepEqual(parseOwnerCookie(ownerCookie(true, 'egress')), { qdiscOwned: true, direction: 'egress' });
  t.is(parseOwnerCookie(new TextEncoder().encode('pktmarX\x01')), undefined);
  t.is(pktBurstTicks(1, 1), 15_625_000n);
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 1e4 }), (r, b) => pktBurstPackets(BigInt(r), pktBurstTicks(r, b)) === b));
});

test('explain prints the tc command lines', (t) => {
  t.is(explainRule(normalizeRule({ via: 'tc', dev: 'eth0', src: '10.0.0.1', mark: 0xdeadbeef, prio: 1 }), { qdisc: 'ingress' }),
    'tc qdisc add dev eth0 ingress\ntc filter add dev eth0 parent ffff: protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef');
  t.is(explainRule(normalizeRule({ via: 'tc', dev: 'eth0', direction: 'egress', src: 'fd00::/64', proto: 'udp', dport: 53, mark: '0x10/0xf0', rate: '1/second', burst: 1 })),
    'tc qdisc add dev eth0 clsact\ntc filter add dev eth0 egress protocol ipv6 u32 match ip6 src fd00::/64 match ip6 protocol 17 0xff match ip6 dport 53 0xffff action police pkts_rate 1 pkts_burst 1 conform-exceed pass/pipe action skbedit mark 0x10/0xf0');
});

// A filter whose fields are typed as TcFilter keeps TS honest about the public shape.
const _shape: TcFilter = { ifindex: 1, parent: 0, prio: 1, protocol: 0x800, handle: 0 };
void _shape;
