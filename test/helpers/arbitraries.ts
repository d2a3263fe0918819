/** fast-check generators of valid rule inputs, shared by the property tests. */
import fc from 'fast-check';
import type { MarkRuleInput } from '../../src/rule.js';

export const v4 = fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), fc.boolean())
  .map(([b, p, neg]) => `${neg ? '!' : ''}${b.join('.')}/${p}`);
export const v6 = fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }), fc.boolean())
  .map(([g, p, neg]) => `${neg ? '!' : ''}${g.map((x) => x.toString(16)).join(':')}/${p}`);
const ifname = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.-]{0,9}$/), fc.boolean()).map(([n, wild]) => (wild ? `${n}+` : n));
const comment = fc.string({ maxLength: 60 }).filter((s) => !s.includes('\0'));

export const markRuleInput: fc.Arbitrary<MarkRuleInput> = fc.record({
  fam: fc.constantFrom(undefined, 'ip', 'ip6'),
  a4: fc.option(v4, { nil: undefined }), b4: fc.option(v4, { nil: undefined }),
  a6: fc.option(v6, { nil: undefined }), b6: fc.option(v6, { nil: undefined }),
  proto: fc.option(fc.oneof(fc.constantFrom(1, 6, 17, 58, 132, 136), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
  sport: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  dport: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  hook: fc.constantFrom('prerouting', 'output'),
  ifn: fc.option(ifname, { nil: undefined }),
  mark: fc.nat({ max: 0xffffffff }), mask: fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }), xor: fc.boolean(),
  rate: fc.option(fc.tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom('second', 'minute', 'hour', 'day'), fc.integer({ min: 1, max: 1000 })), { nil: undefined }),
  comment: fc.option(comment, { nil: undefined }),
}).map((g) => {
  const o: Record<string, unknown> = { hook: g.hook };
  const six = g.fam === 'ip6';
  if (g.fam) o.family = g.fam;
  const src = six ? g.a6 : g.a4;
  const dst = six ? g.b6 : g.b4;
  if (src) o.src = src;
  if (dst) o.dst = dst;
  if (g.proto !== undefined && !(g.proto === 1 && six) && !(g.proto === 58 && !six)) {
    o.proto = g.proto;
    if ([6, 17, 132, 136].includes(g.proto)) {
      if (g.sport !== undefined) o.sport = g.sport;
      if (g.dport !== undefined) o.dport = g.dport;
    }
  }
  if (g.ifn) o[g.hook === 'output' ? 'oif' : 'iif'] = g.ifn;
  if (g.mask === undefined) o.mark = g.mark;
  else { o.mask = g.mask; o.mark = g.xor ? g.mark : (g.mark & g.mask) >>> 0; o.xor = g.xor; }
  if (g.rate) { o.rate = `${g.rate[0]}/${g.rate[1]}`; o.burst = g.rate[2]; }
  if (g.comment !== undefined) o.comment = g.comment;
  return o as unknown as MarkRuleInput;
});

