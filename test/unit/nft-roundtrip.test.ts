/**
 * Properties: decode(encode(rule)) = rule for generated rules, and the decoders survive random
 * and mutated bytes with nothing but PktmarkError.
 */
import test from 'ava';
import fc from 'fast-check';
import { loadFixture, loadInput, nftBatch } from '../helpers/fixtures.js';
import { PktmarkError } from '../../codecs/errors.js';
import { AttributeWriter, AttributeReader } from '../../codecs/netlink/attributes.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { decodeExpr } from '../../codecs/nftables/expr/index.js';
import { decodeChain, decodeRule, decodeTable, NFPROTO_INET, NFT_MSG_NEWRULE, writeRule } from '../../codecs/nftables/messages.js';
import { ruleRecord } from '../../src/backends/nft/index.js';
import { explainNft } from '../../src/backends/nft/explain.js';
import { exprsToRule, ruleToExprs } from '../../src/backends/nft/rule.js';
import { type MarkRule, type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';

import { markRuleInput as input } from '../helpers/arbitraries.js';

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
  const names = loadInput<{ rules: { name: string }[] }>('nft', 'cases.json').rules.map((r) => r.name);
  const seeds = [...names, 'table-chains'].flatMap(nftBatch).map((h) => new Uint8Array(Buffer.from(h, 'hex')));
  const d = loadFixture('nft', 'dump').runs[0];
  const dump = [...d.messages, ...(d.replies ?? [])].map((h) => new Uint8Array(Buffer.from(h, 'hex')));
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
