/**
 * The nftables codec on its own: every NEWRULE nft sent re-encodes byte for byte after decoding;
 * the kernel's dump of nft-made rules decodes to the MarkRules of fixtures/nft/cases.json;
 * unknown expressions survive as raw bytes.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { loadFixture, nftBatch } from '../helpers/fixtures.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { decodeExpr, encodeExpr, type Expr } from '../../codecs/nftables/expr/index.js';
import { decodeChain, decodeRule, decodeTable, NFT_MSG_NEWRULE, nftType, writeChain, writeRule, writeTable, NFT_MSG_NEWCHAIN, NFT_MSG_NEWTABLE } from '../../codecs/nftables/messages.js';
import { AttributeReader } from '../../codecs/netlink/attributes.js';
import { ruleRecord } from '../../src/backends/nft/index.js';
import { exprsToRule } from '../../src/backends/nft/rule.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';

const dir = new URL('../../fixtures/nft/', import.meta.url);
const cases = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { rules: { name: string; input: MarkRuleInput; nft: string }[] };
const fixture = (n: string): { batch: string[] } => ({ batch: nftBatch(n) });
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('every NEWRULE nft sent decodes and re-encodes to the same bytes', (t) => {
  for (const c of cases.rules) {
    const [m] = parseMessages(bytes(fixture(c.name).batch[1]));
    const r = decodeRule(m);
    t.false(r.exprs.some((e) => e.kind === 'raw'), `${c.name}: every expression is modeled`);
    const w = new AttributeWriter();
    writeRule(w, NFT_MSG_NEWRULE, m.header.flags, m.header.seq, r);
    t.is(hex(w.finish()), fixture(c.name).batch[1], c.name);
  }
});

test('NEWTABLE and NEWCHAIN from nft decode and re-encode to the same bytes', (t) => {
  const f = fixture('table-chains');
  const [tm] = parseMessages(bytes(f.batch[1]));
  const table = decodeTable(tm);
  t.like(table, { family: 1, name: 'pktmark', flags: 0, comment: 'pktmark' });
  const w = new AttributeWriter();
  writeTable(w, NFT_MSG_NEWTABLE, tm.header.flags, tm.header.seq, table);
  t.is(hex(w.finish()), f.batch[1]);
  for (const [i, hook] of [[2, { num: 0, priority: -300 }], [3, { num: 3, priority: -150 }]] as const) {
    const [cm] = parseMessages(bytes(f.batch[i]));
    const chain = decodeChain(cm);
    t.deepEqual(chain.hook, hook);
    const w2 = new AttributeWriter();
    writeChain(w2, NFT_MSG_NEWCHAIN, cm.header.flags, cm.header.seq, chain);
    t.is(hex(w2.finish()), f.batch[i]);
  }
});

test('the kernel dump of nft-made rules decodes to the cases\' MarkRules, in handle order', (t) => {
  const received = loadFixture('nft', 'dump').runs[0].replies ?? [];
  const rules = received.map(bytes).flatMap((b) => parseMessages(b)).filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE)).map(decodeRule);
  t.is(rules.length, cases.rules.length);
  rules.sort((a, b) => (a.handle! < b.handle! ? -1 : 1));
  rules.forEach((r, i) => {
    const c = cases.rules[i];
    t.is(r.handle, BigInt(i + 3), `${c.name}: chains took handles 1 and 2`);
    t.deepEqual(exprsToRule(r.exprs, r.chain, r.comment), normalizeRule(c.input), c.name);
    const rec = ruleRecord(r, 'pktmark');
    t.is(rec.text, c.nft, `${c.name}: record text`);
    t.is(rec.id, `nft:${r.chain}:${i + 3}`);
    t.is(rec.packets, 0);
    t.is(rec.raw, undefined);
  });
});

test('an unknown expression decodes to raw and re-encodes byte-identically', (t) => {
  const w = new AttributeWriter();
  w.nested(1, (w) => {
    w.string(1, 'quota');
    w.nested(2, (w) => { w.string(1, 'myset'); w.u32(2, 1, 'be'); });
  });
  const elem = w.finish();
  const [a] = new AttributeReader(elem).list();
  const e = decodeExpr(a);
  t.is(e.kind, 'raw');
  t.is((e as Extract<Expr, { kind: 'raw' }>).name, 'quota');
  const w2 = new AttributeWriter();
  encodeExpr(w2, e);
  t.is(hex(w2.finish()), hex(elem));
});

test('a known expression in a form pktmark does not model (payload set) stays raw', (t) => {
  const w = new AttributeWriter();
  w.nested(1, (w) => {
    w.string(1, 'payload');
    w.nested(2, (w) => { w.u32(5, 1, 'be'); w.u32(2, 1, 'be'); w.u32(3, 8, 'be'); w.u32(4, 1, 'be'); });
  });
  const elem = w.finish();
  const e = decodeExpr(new AttributeReader(elem).list()[0]);
  t.is(e.kind, 'raw');
  const w2 = new AttributeWriter();
  encodeExpr(w2, e);
  t.is(hex(w2.finish()), hex(elem));
});

test('a rule that is not pktmark-shaped keeps every part raw and has no rule', (t) => {
  // nft add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0xdeadbeef, minus its counter
  const [m] = parseMessages(bytes(fixture('v4-src').batch[1]));
  const r = decodeRule(m);
  const noCounter = { ...r, handle: 9n, exprs: r.exprs.filter((e) => e.kind !== 'counter') };
  const rec = ruleRecord(noCounter, 'pktmark');
  t.is(rec.rule, undefined);
  t.deepEqual(rec.raw!.map((p) => p.name), ['meta', 'cmp', 'payload', 'cmp', 'immediate', 'meta']);
  t.is(rec.id, 'nft:prerouting:9');
  // a rule in a chain pktmark does not make is not a MarkRule either
  t.is(exprsToRule(r.exprs, 'forward'), undefined);
});
