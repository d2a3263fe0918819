/**
 * Golden bytes for a hash list set's growth (address-set-grow.ts): from what the kernel dumped
 * to nft before its batch (the set of size 48 and its 48 elements, the rule at handle 4:
 * fixtures/nft/set-grow-hash.json's replies), pktmark's growth for one more address is the batch
 * nft 1.0.6 sent for `add set … _g1 { size 96 }; add element …; replace rule … handle 4 …;
 * delete set …`, whole messages after zeroing sequence numbers and port ids. Intended
 * differences, each asserted: NEWSET carries NLM_F_EXCL (the new set never joins one of its
 * name), and the last message NLM_F_ACK (pktmark waits for the batch's one ack).
 */
import test from 'ava';
import { NLM_F_ACK, NLM_F_EXCL, parseMessages, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { decodeRule, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { decodeSet, decodeSetElemsPacked, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM } from '../../codecs/nftables/set.js';
import { PackedCollector } from '../../codecs/nftables/set-elems-packed.js';
import { parseAddressEntry } from '../../codecs/nftables/set-intervals.js';
import { planGrowth } from '../../src/backends/nft/address-set-grow.js';
import { encodeSetChanges } from '../../src/backends/nft/address-set-changes.js';
import { PktmarkError } from '../../src/index.js';
import { loadFixture, nftBatch } from '../helpers/fixtures.js';

const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
const flagsOf = (h: string): number => parseInt(h.slice(14, 16) + h.slice(12, 14), 16);
const withFlags = (h: string, f: number): string => h.slice(0, 12) + (f & 0xff).toString(16).padStart(2, '0') + (f >> 8).toString(16).padStart(2, '0') + h.slice(16);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const L4 = 'pm_0000000000000001_src4';

function replies(): NetlinkMessage[] {
  return (loadFixture('nft', 'set-grow-hash').runs[0].replies ?? []).flatMap((h) => parseMessages(Uint8Array.from(Buffer.from(h, 'hex'))));
}

test('growth: from the kernel\'s dumps, NEWSET (size 96), NEWSETELEM, NEWRULE replace (handle 4), DELSET equal nft\'s, but for the stated flags', (t) => {
  const got = replies();
  const set = decodeSet(got.find((m) => m.header.type === nftType(NFT_MSG_NEWSET))!);
  t.is(set.name, L4);
  t.deepEqual(set.desc, { size: 48 }, 'the kernel dumps the declared size');
  t.is(set.count, 48, 'and the element count: the set is full');
  const c = new PackedCollector();
  for (const m of got.filter((x) => x.header.type === nftType(NFT_MSG_NEWSETELEM))) t.true(decodeSetElemsPacked(m, c));
  const rule = decodeRule(got.find((m) => m.header.type === nftType(NFT_MSG_NEWRULE))!);
  t.is(rule.handle, 4n);

  const g = planGrowth('pktmark', L4, 'ip', c.result(), [parseAddressEntry('10.0.0.49').range], [], rule, [L4], 1, () => new PktmarkError('NOT_FOUND', 'x'));
  t.is(g.set.name, `${L4}_g1`);
  t.deepEqual(g.set.desc, { size: 96 });
  t.like(g, { deleted: 0, added: 1 });
  let seq = 0;
  const batch = encodeSetChanges('pktmark', [], () => ++seq, [g])!;
  const mine = batch.messages().map(hex).map(norm);
  const nft = nftBatch('set-grow-hash').map(norm);
  t.is(mine.length, nft.length);
  t.is(mine[0], nft[0], 'BATCH_BEGIN');
  t.is(mine.at(-1), nft.at(-1), 'BATCH_END');
  // NEWSET: + NLM_F_EXCL
  t.is(flagsOf(mine[1]), flagsOf(nft[1]) | NLM_F_EXCL);
  t.is(withFlags(mine[1], flagsOf(nft[1])), nft[1], 'NEWSET');
  t.is(mine[2], nft[2], 'NEWSETELEM: the 49 addresses, ascending');
  t.is(mine[3], nft[3], 'NEWRULE: NLM_F_REPLACE, handle 4, the lookup naming the new set and its id');
  // DELSET: + NLM_F_ACK (the batch's last message)
  t.is(flagsOf(mine[4]), flagsOf(nft[4]) | NLM_F_ACK);
  t.is(withFlags(mine[4], flagsOf(nft[4])), nft[4], 'DELSET of the old set');
});

test('growth: an address to remove that the set does not hold is refused before anything is sent', (t) => {
  const got = replies();
  const c = new PackedCollector();
  for (const m of got.filter((x) => x.header.type === nftType(NFT_MSG_NEWSETELEM))) decodeSetElemsPacked(m, c);
  const rule = decodeRule(got.find((m) => m.header.type === nftType(NFT_MSG_NEWRULE))!);
  const e = t.throws(() => planGrowth('pktmark', L4, 'ip', c.result(), [], [parseAddressEntry('10.9.9.9').range], rule, [L4], 1, () => new PktmarkError('NOT_FOUND', 'not there')));
  t.is((e as PktmarkError).code, 'NOT_FOUND');
  // the next generation is one past any of the tag's (an older _g3 left somewhere is not reused)
  const g = planGrowth('pktmark', L4, 'ip', c.result(), [], [], rule, [L4, `${L4}_g3`, 'pm_0000000000000002_src4_g7'], 1, () => new PktmarkError('NOT_FOUND', 'x'));
  t.is(g.set.name, `${L4}_g4`);
});
