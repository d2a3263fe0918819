/**
 * Golden bytes for the CONNMARK statements and user-chain verdicts: pktmark's NEWRULE against the
 * one nft 1.0.6 sent for the same text (fixtures/nft/connmark-*.json, chain-*.json, made by
 * fixtures/capture-nft-connmark.sh), whole message, seq and port id zeroed; the one intended
 * difference is pktmark's NLM_F_ECHO|NLM_F_ACK. The xt compat target codec is checked against
 * iptables-nft's own CONNMARK targets (xt-connmark-*.json): decoded and written back, byte for byte.
 */
import test from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { parseMessages, NLM_F_ACK, NLM_F_ECHO } from '../../codecs/netlink/message.js';
import { decodeRule } from '../../codecs/nftables/messages.js';
import { encodeExpr, type Target } from '../../codecs/nftables/expr/index.js';
import { nftBackend } from '../../src/backends/nft/index.js';
import { normalizeRule } from '../../src/normalize.js';
import { exprsToRule } from '../../src/backends/nft/rule.js';
import { encodeChainBatch } from '../../src/backends/nft/user-chains.js';
import type { MarkRuleInput } from '../../src/rule.js';
import { batchOf, loadFixture } from '../helpers/fixtures.js';

const CASES: readonly (readonly [string, MarkRuleInput])[] = [
  ['connmark-set', { hook: 'prerouting', table: 'mangle', connmark: { op: 'set', value: 1 } }],
  ['connmark-set-mask', { hook: 'prerouting', table: 'mangle', connmark: { op: 'set', value: '0x5/0xff' } }],
  ['connmark-save', { hook: 'prerouting', table: 'mangle', connmark: 'save' }],
  ['connmark-restore', { hook: 'prerouting', table: 'mangle', connmark: 'restore' }],
  ['connmark-save-nfmask', { hook: 'prerouting', table: 'mangle', connmark: { op: 'save', nfmask: 0xff } }],
  ['connmark-restore-ctmask', { hook: 'prerouting', table: 'mangle', connmark: { op: 'restore', ctmask: '0xff00' } }],
  ['connmark-save-shift', { hook: 'prerouting', table: 'mangle', connmark: { op: 'save', shift: { dir: 'left', bits: 8 } } }],
  ['connmark-restore-shift', { hook: 'prerouting', table: 'mangle', connmark: { op: 'restore', shift: { dir: 'right', bits: 8 } } }],
  ['chain-jump', { hook: 'prerouting', table: 'mangle', jump: 'FOO' }],
  ['chain-return', { chain: 'FOO', table: 'mangle', jump: 'RETURN' }],
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
const flagsOf = (h: string): number => parseInt(h.slice(14, 16) + h.slice(12, 14), 16);
const withFlags = (h: string, f: number): string => h.slice(0, 12) + (f & 0xff).toString(16).padStart(2, '0') + (f >> 8).toString(16).padStart(2, '0') + h.slice(16);
const NEWRULE = '060a';
let seq = 0;
const ctx = { table: 'pktmark', nextSeq: () => ++seq };

for (const [name, input] of CASES) {
  test(`NEWRULE ${name} equals nft's`, (t) => {
    const f = loadFixture('nft', name);
    const batch = batchOf(f.runs[0]);
    t.is(batch.length, 3, 'nft sent BATCH_BEGIN, NEWRULE, BATCH_END');
    const rule = normalizeRule({ via: 'nft', ...input });
    t.is(nftBackend.explain(rule, { table: 'pktmark' }), `nft ${f.runs[0].command[1]}`, 'explain() is the captured command');
    const ours = nftBackend.encodeAdd([rule], ctx).map(hex).map(norm).find((m) => m.slice(8, 12) === NEWRULE)!;
    const nft = norm(batch[1]);
    t.is(flagsOf(ours), flagsOf(nft) | NLM_F_ECHO | NLM_F_ACK);
    t.is(withFlags(ours, flagsOf(nft)), nft);
    // and nft's rule decodes to the same rule
    const r = decodeRule(parseMessages(new Uint8Array(Buffer.from(batch[1], 'hex')))[0]);
    t.deepEqual(exprsToRule(r.exprs, r.chain), rule);
  });
}

for (const name of ['xt-connmark-save-masked', 'xt-connmark-restore-mask', 'xt-connmark-save-shift', 'xt-connmark-restore-shift', 'xt-connmark-set']) {
  test(`target codec: iptables-nft's ${name} decodes and encodes back byte for byte`, (t) => {
    const f = loadFixture('nft', name);
    const msg = batchOf(f.runs[0]).find((m) => m.slice(8, 12) === NEWRULE)!;
    const r = decodeRule(parseMessages(new Uint8Array(Buffer.from(msg, 'hex')))[0]);
    const tg = r.exprs.find((e): e is Target => e.kind === 'target')!;
    t.is(tg.name, 'CONNMARK');
    t.is(tg.rev, 2);
    t.is(tg.info.length, 16, 'struct xt_connmark_tginfo2, XT_ALIGNed');
    const w = new AttributeWriter(64);
    encodeExpr(w, tg);
    t.true(msg.includes(hex(w.finish())));
  });
}

for (const [name, op] of [['chain-new', 'new'], ['chain-flush', 'flush'], ['chain-delete', 'delete']] as const) {
  test(`${name}: pktmark's chain batch equals nft's (${op} chain inet pktmark mangle.FOO)`, (t) => {
    const f = loadFixture('nft', name);
    const batch = batchOf(f.runs[0]).map(norm);
    const ours = [...encodeChainBatch('pktmark', [{ op, chain: { table: 'mangle', name: 'FOO' } }], () => ++seq, undefined).messages()].map(hex).map(norm);
    t.is(ours.length, 3);
    t.is(ours[0], batch[0], 'BATCH_BEGIN');
    // the intended difference: pktmark asks for an ACK on the batch's last message
    t.is(flagsOf(ours[1]), flagsOf(batch[1]) | NLM_F_ACK);
    t.is(withFlags(ours[1], flagsOf(batch[1])), batch[1]);
    t.is(ours[2], batch[2], 'BATCH_END');
  });
}
