/**
 * Golden bytes of verify's observer table (issue 12 part 3) against what nft 1.0.6 sent for the
 * same table (fixtures/nft/verify-observers.json, made by fixtures/capture-nft-verify.sh): every
 * message of the batch, whole, after zeroing the sequence number and port id. Intended
 * differences, in the flags only: NEWTABLE carries NLM_F_CREATE|NLM_F_EXCL (verify never shares a table) and
 * the last NEWRULE NLM_F_ACK.
 */
import test from 'ava';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL } from '../../codecs/netlink/message.js';
import { normalizeRule } from '../../src/normalize.js';
import { planFor } from '../../src/verify/plan.js';
import { encodeObserverBatch } from '../../src/verify/observers.js';
import { batchOf, loadFixture, msgType } from '../helpers/fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
const flagsOf = (h: string): number => parseInt(h.slice(14, 16) + h.slice(12, 14), 16);
const withFlags = (h: string, f: number): string => h.slice(0, 12) + (f & 0xff).toString(16).padStart(2, '0') + (f >> 8).toString(16).padStart(2, '0') + h.slice(16);

test('the observer batch is byte for byte what nft -f sends for the same owner-flagged table', (t) => {
  const f = loadFixture('nft', 'verify-observers');
  t.regex(f.toolVersion, /^nftables v1\.0\.6/);
  const nft = batchOf(f.runs[0]).map(norm);
  let seq = 0;
  const rule = normalizeRule({ src: '10.0.0.0/24', proto: 'udp', dport: 9, mark: 0xdeadbeef });
  const ours = encodeObserverBatch(planFor(rule), 'pktmark_verify_1_0', () => ++seq).messages().map(hex).map(norm);
  t.is(ours.length, nft.length, 'BEGIN, NEWTABLE, 5 NEWCHAIN, 10 NEWRULE, END');
  t.is(ours.length, 18);
  ours.forEach((m, i) => {
    let expected = nft[i];
    if (msgType(m) === 0x0a00) expected = withFlags(expected, flagsOf(expected) | NLM_F_CREATE | NLM_F_EXCL);
    if (i === ours.length - 2) expected = withFlags(expected, flagsOf(expected) | NLM_F_ACK);
    t.is(m, expected, `message ${i} (type 0x${msgType(m).toString(16)})`);
  });
});
