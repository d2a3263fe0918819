/**
 * Golden bytes: pktmark's nftables messages against what the real nft 1.0.6 sent
 * (fixtures/nft/*.json, made by fixtures/capture-nft.sh). Whole messages are compared —
 * header, type, flags, nfgenmsg, every attribute in order — after zeroing only the sequence
 * number (bytes 8-11) and port id (bytes 12-15). The one intended difference is in the flags
 * (bytes 6-7) and each test states it: pktmark adds NLM_F_ECHO (0x08) to learn handles and
 * NLM_F_ACK (0x04) to the last message of a batch; nft asks for neither.
 */
import test from 'ava';
import { NLM_F_ACK, NLM_F_ECHO } from '../../codecs/netlink/message.js';
import { nftBackend, encodeClearBatch, encodeDeleteBatch, encodeGetTable, encodeRuleDump } from '../../src/backends/nft/index.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { batchOf, loadFixture, loadInput, type Fixture } from '../helpers/fixtures.js';

interface Case { name: string; input: MarkRuleInput; nft: string }
const cases = loadInput<{ table: string; rules: Case[] }>('nft', 'cases.json');
/** a one-command nft capture, with the batch it sent */
const fixture = (name: string): Fixture & { batch: string[] } => { const f = loadFixture('nft', name); return { ...f, batch: batchOf(f.runs[0]) }; };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** zero seq and port id */
function norm(h: string): string { return h.slice(0, 16) + '0'.repeat(16) + h.slice(32); }
const flagsOf = (h: string): number => parseInt(h.slice(14, 16) + h.slice(12, 14), 16);
function withFlags(h: string, f: number): string {
  const le = (f & 0xff).toString(16).padStart(2, '0') + (f >> 8).toString(16).padStart(2, '0');
  return h.slice(0, 12) + le + h.slice(16);
}
let seq = 0;
const ctx = { table: cases.table, nextSeq: () => ++seq };

test('fixtures were made by nft 1.0.6 and record their command', (t) => {
  for (const c of [...cases.rules.map((r) => r.name), 'table-chains', 'dump', 'delete-rule', 'delete-table']) {
    const f = fixture(c);
    t.regex(f.toolVersion, /^nftables v1\.0\.6/, c);
    t.is(f.runs.length, 1, c);
    t.true(f.runs[0].command.length > 1, c);
  }
});

for (const c of cases.rules) {
  test(`NEWRULE ${c.name}: ${c.nft}`, (t) => {
    const rule = normalizeRule(c.input);
    t.is(nftBackend.explain(rule, { table: cases.table }), c.nft, 'explain() is the command the fixture was captured from');
    const f = fixture(c.name);
    t.is(f.batch.length, 3, 'nft sent BATCH_BEGIN, NEWRULE, BATCH_END');
    const nft = norm(f.batch[1]);
    const msgs = nftBackend.encodeAdd([rule], ctx).map(hex).map(norm);
    const ours = msgs.find((m) => m.slice(8, 12) === '060a')!;
    // the intended difference: one rule is the first (ECHO) and last (ECHO, ACK) of its batch
    t.is(flagsOf(ours), flagsOf(nft) | NLM_F_ECHO | NLM_F_ACK);
    t.is(withFlags(ours, flagsOf(nft)), nft);
    t.is(msgs[0], norm(f.batch[0]), 'BATCH_BEGIN');
    t.is(msgs.at(-1), norm(f.batch[2]), 'BATCH_END');
  });
}

test('table and both chains: NEWTABLE and NEWCHAIN equal nft -f of the setup lines, flags included', (t) => {
  const f = fixture('table-chains');
  const pre = normalizeRule({ src: '10.0.0.1', mark: 1 });
  const out = normalizeRule({ hook: 'output', mark: 1 });
  const msgs = nftBackend.encodeAdd([pre, out], ctx).map(hex).map(norm);
  t.deepEqual(f.batch.map((m) => m.slice(8, 12)), ['1000', '000a', '030a', '030a', '1100']);
  t.is(msgs[0], norm(f.batch[0]), 'BATCH_BEGIN');
  t.is(msgs[1], norm(f.batch[1]), 'NEWTABLE with comment "pktmark", NLM_F_REQUEST only');
  t.is(msgs[2], norm(f.batch[2]), 'NEWCHAIN prerouting: filter, hook 0, priority -300, NLM_F_CREATE');
  t.is(msgs[3], norm(f.batch[3]), 'NEWCHAIN output: route, hook 3, priority -150');
  t.is(msgs.at(-1), norm(f.batch[4]), 'BATCH_END');
  // a batch that only needs prerouting creates only that chain
  const one = nftBackend.encodeAdd([pre], ctx).map(hex);
  t.deepEqual(one.map((m) => m.slice(8, 12)), ['1000', '000a', '030a', '060a', '1100']);
});

test('many rules: ECHO on the first and last NEWRULE only, ACK on the last only', (t) => {
  const rules = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((src) => normalizeRule({ src, mark: 1 }));
  const flags = nftBackend.encodeAdd(rules, ctx).map(hex).filter((m) => m.slice(8, 12) === '060a').map(flagsOf);
  t.deepEqual(flags, [0x0c01 | NLM_F_ECHO, 0x0c01, 0x0c01 | NLM_F_ECHO | NLM_F_ACK]);
});

test('DELRULE by handle equals nft delete rule … handle 3 (plus NLM_F_ACK)', (t) => {
  const f = fixture('delete-rule');
  const b = encodeDeleteBatch('pktmark', [{ chain: 'prerouting', handle: 3n, i: 0 }], () => ++seq);
  const ours = norm(hex(b.bytes.subarray(b.bounds[1][0], b.bounds[1][1])));
  const nft = norm(f.batch[1]);
  t.is(flagsOf(ours), flagsOf(nft) | NLM_F_ACK);
  t.is(withFlags(ours, flagsOf(nft)), nft);
});

test('DELTABLE equals nft delete table (plus NLM_F_ACK)', (t) => {
  const f = fixture('delete-table');
  const b = encodeClearBatch('pktmark', () => ++seq);
  const ours = norm(hex(b.bytes.subarray(b.bounds[1][0], b.bounds[1][1])));
  const nft = norm(f.batch[1]);
  t.is(flagsOf(ours), flagsOf(nft) | NLM_F_ACK);
  t.is(withFlags(ours, flagsOf(nft)), nft);
});

test('GETTABLE and the GETRULE dump request equal what nft list table sends', (t) => {
  const sent = fixture('dump').runs[0].messages.map(norm);
  t.true(sent.includes(norm(hex(encodeGetTable('pktmark', 1)))), 'GETTABLE pktmark, NLM_F_REQUEST|NLM_F_ACK');
  t.true(sent.includes(norm(hex(encodeRuleDump('pktmark', 1)))), 'GETRULE NLM_F_DUMP with NFTA_RULE_TABLE');
});

test('insert before a rule equals nft insert rule … position 3 (plus NLM_F_ECHO|NLM_F_ACK)', (t) => {
  const f = fixture('insert-before');
  const rule = normalizeRule({ src: '10.0.0.2', mark: 2, comment: 'first' });
  const msgs = nftBackend.encodeAdd([rule], ctx, { before: 'nft:prerouting:3' }).map(hex).map(norm);
  const ours = msgs.find((m) => m.slice(8, 12) === '060a')!;
  const nft = norm(f.batch[1]);
  t.is(flagsOf(nft) & 0x800, 0, 'nft sends no NLM_F_APPEND for an insert');
  t.is(flagsOf(ours), flagsOf(nft) | NLM_F_ECHO | NLM_F_ACK);
  t.is(withFlags(ours, flagsOf(nft)), nft);
});
