/**
 * Properties: decode(encode(rule)) = rule for generated rules, and the decoders survive random
 * and mutated bytes with nothing but PktmarkError.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { PktmarkError } from '../../codecs/errors.js';
import { AttributeWriter, AttributeReader } from '../../codecs/netlink/attributes.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { decodeExpr } from '../../codecs/nftables/expr/index.js';
import { decodeChain, decodeRule, decodeTable, NFPROTO_INET, NFT_MSG_NEWRULE, writeRule } from '../../codecs/nftables/messages.js';
import { ruleRecord } from '../../src/backends/nft.js';
import { explainNft } from '../../src/backends/nft-explain.js';
import { exprsToRule, ruleToExprs } from '../../src/backends/nft-rule.js';
import { normalizeRule, type MarkRule, type MarkRuleInput } from '../../src/rule.js';

const v4 = fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), fc.boolean())
  .map(([b, p, neg]) => `${neg ? '!' : ''}${b.join('.')}/${p}`);
const v6 = fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }), fc.boolean())
  .map(([g, p, neg]) => `${neg ? '!' : ''}${g.map((x) => x.toString(16)).join(':')}/${p}`);
const ifname = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.-]{0,9}$/), fc.boolean()).map(([n, wild]) => (wild ? `${n}+` : n));
const comment = fc.string({ maxLength: 60 }).filter((s) => !s.includes('\0'));

const input: fc.Arbitrary<MarkRuleInput> = fc.record({
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

function roundTrip(rule: MarkRule): MarkRule | undefined {
  const w = new AttributeWriter();
  writeRule(w, NFT_MSG_NEWRULE, 1, 1, {
    family: NFPROTO_INET, table: 'pktmark', chain: rule.hook ?? 'prerouting',
    exprs: ruleToExprs(rule).map((t) => t.expr), ...(rule.comment !== undefined ? { comment: rule.comment } : {}),
  });
  const r = decodeRule(parseMessages(w.finish())[0]);
  return exprsToRule(r.exprs, r.chain, r.comment);
}

test('decode(encode(rule)) equals the rule for generated rules', (t) => {
  let n = 0;
  fc.assert(fc.property(input, (inp) => {
    const rule = normalizeRule(inp);
    n++;
    t.deepEqual(roundTrip(rule), rule);
    t.notRegex(explainNft(rule, 'pktmark'), /undefined|NaN/);
  }), { numRuns: 2000 });
  t.true(n >= 2000);
});

const expectOnlyPktmarkError = (t: import('ava').ExecutionContext, f: () => unknown): void => {
  try { f(); } catch (e) {
    if (!(e instanceof PktmarkError)) t.fail(`threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    else t.is(e.code, 'DECODE');
  }
};

function decodeAll(b: Uint8Array): void {
  for (const m of parseMessages(b)) {
    for (const dec of [decodeRule, decodeTable, decodeChain]) {
      try {
        const r = dec(m);
        if ('exprs' in r) ruleRecord(r, 'pktmark');
      } catch (e) {
        if (!(e instanceof PktmarkError)) throw e;
        if (e.code !== 'DECODE') throw e;
      }
    }
  }
}

test('random bytes: the decoders throw only PktmarkError DECODE', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
    expectOnlyPktmarkError(t, () => decodeAll(b));
    expectOnlyPktmarkError(t, () => { for (const a of new AttributeReader(b)) decodeExpr(a); });
  }), { numRuns: 3000 });
  t.pass();
});

test('mutated nft messages: the decoders throw only PktmarkError DECODE', (t) => {
  const dir = new URL('../../fixtures/nft/', import.meta.url);
  const names = (JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { rules: { name: string }[] }).rules.map((r) => r.name);
  const seeds = [...names, 'table-chains'].flatMap((n) => (JSON.parse(readFileSync(new URL(`${n}.json`, dir), 'utf8')) as { batch: string[] }).batch)
    .map((h) => new Uint8Array(Buffer.from(h, 'hex')));
  const dump = (JSON.parse(readFileSync(new URL('dump.json', dir), 'utf8')) as { buffers: { messages: string[] }[] }).buffers.flatMap((b) => b.messages)
    .map((h) => new Uint8Array(Buffer.from(h, 'hex')));
  const all = [...seeds, ...dump];
  const mutation = fc.record({
    seed: fc.nat({ max: all.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });
  fc.assert(fc.property(mutation, ({ seed, edits, cut }) => {
    let b = all[seed].slice();
    for (const [at, v] of edits) b[at % b.length] = v;
    if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
    expectOnlyPktmarkError(t, () => decodeAll(b));
  }), { numRuns: 5000 });
  t.pass();
});
