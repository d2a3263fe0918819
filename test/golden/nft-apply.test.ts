/**
 * Golden bytes for apply's batch (src/apply/batch.ts) against nft 1.0.6 (fixtures/nft/apply-*.json,
 * made by fixtures/capture-nft-apply.sh). Whole messages are compared after zeroing seq and port
 * id. The intended differences, each removed explicitly before comparing: apply's
 * NFTA_RULE_USERDATA (its tag), NFTA_RULE_ID on rules that later rules are placed after, and
 * NLM_F_ECHO/NLM_F_ACK flags. nft 1.0.6 sends no NFNL_BATCH_GENID; apply's BATCH_BEGIN is nft's
 * plus that one attribute.
 */
import test from 'ava';
import { batchOf, loadFixture } from '../helpers/fixtures.js';
import { AttributeReader, AttributeWriter } from '../../codecs/netlink/attributes.js';
import { writeBatchBegin } from '../../codecs/netlink/batch.js';
import { NLM_F_ACK, NLM_F_ECHO } from '../../codecs/netlink/message.js';
import { encodeApplyBatch } from '../../src/apply/batch.js';
import { desiredFromInput, type DesiredRuleInput } from '../../src/apply/desired.js';
import { diff } from '../../src/apply/diff.js';
import type { CurrentRule } from '../../src/apply/state.js';
import { normalizeRule } from '../../src/normalize.js';

/** an apply capture (schema 1): the batch nft sent in its one run */
const fixture = (n: string): { batch: string[]; toolVersion: string } => { const f = loadFixture('nft', n); return { batch: batchOf(f.runs[0]), toolVersion: f.toolVersion }; };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);

/** drop rule attributes of these types (top level, after the 20-byte header + 4-byte nfgenmsg), fix nlmsg_len, clear flags */
function strip(m: Uint8Array, types: readonly number[], clearFlags: number): string {
  const head = Buffer.from(m.subarray(0, 20));
  const parts: Buffer[] = [];
  for (const a of new AttributeReader(m.subarray(20), 20)) {
    if (types.includes(a.type & 0x3fff)) continue;
    const len = 4 + a.data.length;
    const b = Buffer.alloc((len + 3) & ~3);
    b.writeUInt16LE(len, 0); b.writeUInt16LE(a.type | (a.nested ? 0x8000 : 0), 2); Buffer.from(a.data).copy(b, 4);
    parts.push(b);
  }
  const out = Buffer.concat([head, ...parts]);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(out.readUInt16LE(6) & ~clearFlags, 6);
  return norm(out.toString('hex'));
}
const USERDATA = 7;
const RULE_ID = 9;

const cur = (handle: bigint, input: DesiredRuleInput & { name?: string }): CurrentRule => {
  const { name, ...f } = input;
  return { chain: 'prerouting', handle, id: `nft:prerouting:${handle}`, rule: normalizeRule(f), managed: true, packets: 0n, bytes: 0n, ...(name !== undefined ? { name } : {}) };
};
let seq = 0;
const rulesOf = (rs: DesiredRuleInput[], current: CurrentRule[]): string[] => {
  const plan = diff(desiredFromInput(rs), current);
  return encodeApplyBatch(plan, 'pktmark', 'ours', undefined, () => ++seq).batch.messages().map(hex).filter((m) => m.slice(8, 12) === '060a');
};

test('fixtures come from nft 1.0.6', (t) => {
  for (const n of ['apply-replace', 'apply-add-after', 'apply-two-rules']) t.regex(fixture(n).toolVersion, /^nftables v1\.0\.6/);
});

test('replace in place = nft replace rule … handle 3 (NLM_F_REPLACE, NFTA_RULE_HANDLE before the expressions)', (t) => {
  const f = fixture('apply-replace');
  const [ours] = rulesOf([{ name: 'x', src: '10.0.0.1', mark: 7 }], [cur(3n, { name: 'x', src: '10.0.0.1', mark: 1 })]);
  t.is(strip(Buffer.from(ours, 'hex'), [USERDATA], NLM_F_ACK | NLM_F_ECHO), strip(Buffer.from(f.batch[1], 'hex'), [], 0));
});

test('a new rule after a kept one = nft add rule … position 3 (NLM_F_APPEND, NFTA_RULE_POSITION after the expressions)', (t) => {
  const f = fixture('apply-add-after');
  // 10.0.0.2 goes between two kept rules, so it is placed (not simply appended)
  const msgs = rulesOf([{ src: '10.0.0.1', mark: 1 }, { src: '10.0.0.2', mark: 2 }, { src: '10.0.0.3', mark: 3 }], [cur(3n, { src: '10.0.0.1', mark: 1 }), cur(4n, { src: '10.0.0.3', mark: 3 })]);
  t.is(msgs.length, 1);
  t.is(strip(Buffer.from(msgs[0], 'hex'), [USERDATA, RULE_ID], NLM_F_ACK | NLM_F_ECHO), strip(Buffer.from(f.batch[1], 'hex'), [], 0));
});

test('new rules at a chain\'s tail = nft -f of two add rule lines (plain NLM_F_APPEND, no RULE_ID); nft sends no NFNL_BATCH_GENID', (t) => {
  const f = fixture('apply-two-rules');
  const msgs = rulesOf([{ src: '10.0.0.1', mark: 1 }, { src: '10.0.0.2', mark: 2 }, { src: '10.0.0.3', mark: 3 }], [cur(3n, { src: '10.0.0.1', mark: 1 })]);
  t.deepEqual(msgs.map((m) => strip(Buffer.from(m, 'hex'), [USERDATA], NLM_F_ACK | NLM_F_ECHO)), [f.batch[1], f.batch[2]].map((m) => strip(Buffer.from(m, 'hex'), [], 0)));
  t.is(f.batch[0].length, 40, 'nft\'s BATCH_BEGIN is the bare 20 bytes');
  const w = new AttributeWriter();
  writeBatchBegin(w, 0);
  t.is(norm(hex(w.finish())), norm(f.batch[0]), 'without a generation ours is nft\'s');
  const g = new AttributeWriter();
  writeBatchBegin(g, 0, 0x01020304);
  const withGen = norm(hex(g.finish()));
  t.is(withGen.slice(0, 8), '1c000000', '28 bytes');
  t.is(withGen.slice(8, 40), norm(f.batch[0]).slice(8, 40), 'same type, flags, nfgenmsg');
  t.is(withGen.slice(40), '0800010001020304', 'NFNL_BATCH_GENID (1), big-endian u32');
});
