/**
 * Growth of a full hash list set through Marker.update, on pktmark/testing's FakeNftKernel
 * (which refuses elements past a set's declared size with ENFILE, as nft_add_set_elem does):
 * one batch replaces the set and the rule's lookup; ids, handles and order stay; only the
 * family that grows is replaced; a kernel without NFTA_SET_COUNT, or another writer filling
 * the set, is met by ENFILE, a re-read and a growth; a failed growth leaves no new set.
 */
import test from 'ava';
import { fakeMarker } from '../helpers/fake-nft-sent.js';
import { NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { hashElements, parseAddressEntry } from '../../codecs/nftables/set-intervals.js';
import { NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM } from '../../codecs/nftables/set.js';
import { EINVAL } from '../../codecs/errno.js';
import { NLM_F_REPLACE } from '../../codecs/netlink/message.js';
import { Marker, PktmarkError } from '../../src/index.js';
import { FakeNftKernel } from '../../src/testing/index.js';

const v4 = (i: number): string => `10.1.${i >> 8}.${i & 255}`;
const range = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => v4(from + i));

const T = (n: number): number => nftType(n);
const setup = fakeMarker;
/** A rule whose set is full: 30 addresses (size 48, set-size.ts), then 18 more by update. */
async function fullSet(m: Marker): Promise<string> {
  const rec = await m.add({ src: range(30), mark: 1 });
  await m.update(rec.id, { add: range(18, 30) });
  return rec.id;
}
const listSets = (k: FakeNftKernel): { name: string; size?: number; n: number }[] => k.sets.map((s) => ({ name: s.name.replace(/^pm_[0-9a-f]{16}_/, ''), ...(s.size !== undefined ? { size: s.size } : {}), n: s.elements.size }));

test('an update past the declared size replaces the set in one batch: bigger set, all elements, the rule replaced in place, the old set deleted', async (t) => {
  const { k, m, sent } = await setup();
  const before = await m.add({ src: '10.9.9.9', mark: 9 });
  const rec = await m.add({ src: range(30), mark: 1 });
  const after = await m.add({ src: '10.9.9.8', mark: 8 });
  t.deepEqual(listSets(k), [{ name: 'src4', size: 48, n: 30 }]);
  sent();
  // 30 + 18 fits: elements only
  t.deepEqual(await m.update(rec.id, { add: range(18, 30) }), { id: rec.id, deleted: 0, added: 18 });
  t.deepEqual(sent(), ['NEWSETELEM']);
  // 48 − 1 + 2 is past 48: the growth, 10.1.0.1 removed in the same batch (an address given twice counts once)
  const handles = k.rules.map((r) => r.handle);
  t.deepEqual(await m.update(rec.id, { add: [v4(48), v4(49), v4(48)], remove: [v4(1)] }), { id: rec.id, deleted: 1, added: 2 });
  t.deepEqual(sent(), ['NEWSET', 'NEWSETELEM', 'NEWRULE', 'DELSET']);
  const replace = k.requests.filter((r) => r.header.type === T(NFT_MSG_NEWRULE)).at(-1)!;
  t.true((replace.header.flags & NLM_F_REPLACE) !== 0);
  t.deepEqual(listSets(k), [{ name: 'src4_g1', size: 96, n: 49 }]);
  t.deepEqual(k.rules.map((r) => r.handle), handles, 'every rule keeps its handle and place');
  const listed = await m.list();
  t.deepEqual(listed.map((r) => r.id), [before.id, rec.id, after.id], 'ids unchanged, order unchanged');
  t.deepEqual(listed[1].rule?.srcList?.entries, range(50).filter((a) => a !== v4(1)));
  t.regex(listed[1].text, /^nft add rule inet pktmark prerouting ip saddr \{ 10\.1\.0\.0, 10\.1\.0\.2, /);
  // the next growth is _g2; then delete takes the grown set with the rule
  await m.update(rec.id, { add: range(60, 100) });
  t.deepEqual(listSets(k), [{ name: 'src4_g2', size: 192, n: 109 }]);
  t.is((await m.list())[1].rule?.srcList?.entries.length, 109);
  sent();
  await m.delete(rec.id);
  t.deepEqual(sent(), ['DELRULE', 'DELSET']);
  t.deepEqual(k.sets, []);
  t.deepEqual((await m.list()).map((r) => r.id), [before.id, after.id]);
});

test('a mixed v4/v6 list: only the family that grows is replaced; the id and both handles stay; list joins the pair', async (t) => {
  const { k, m, sent } = await setup();
  const rec = await m.add({ src: [...range(30), 'fd00::1', 'fd00::2'], mark: 3 });
  const handles = k.rules.map((r) => r.handle);
  sent();
  await m.update(rec.id, { add: range(30, 30) });
  t.deepEqual(sent(), ['NEWSET', 'NEWSETELEM', 'NEWRULE', 'DELSET']);
  t.deepEqual(listSets(k).sort((a, b) => a.name.localeCompare(b.name)), [{ name: 'src4_g1', size: 96, n: 60 }, { name: 'src6', size: 48, n: 2 }]);
  t.deepEqual(k.rules.map((r) => r.handle), handles);
  const v6rule = k.rules.find((r) => r.exprs.some((e) => e.kind === 'lookup' && e.set.endsWith('_src6')));
  t.truthy(v6rule, 'the IPv6 rule still looks up its own set');
  // an IPv6 add that fits goes as elements alone, into the set the IPv6 rule looks up
  await m.update(rec.id, { add: ['fd00::3'] });
  t.deepEqual(sent(), ['NEWSETELEM']);
  const [listed] = await m.list();
  t.is(listed.id, rec.id);
  t.is(listed.rule?.srcList?.entries.length, 63);
  t.deepEqual(listed.rule?.srcList?.families, ['ip', 'ip6']);
});

test('a kernel without NFTA_SET_COUNT: the plain batch is refused (ENFILE, nothing applied), the set is read and grown', async (t) => {
  const { k, m, sent } = await setup();
  k.dumpSetCount = false;
  const id = await fullSet(m);
  sent();
  t.deepEqual(await m.update(id, { add: [v4(48)] }), { id, deleted: 0, added: 1 });
  t.deepEqual(sent(), ['NEWSETELEM', 'NEWSET', 'NEWSETELEM', 'NEWRULE', 'DELSET']);
  t.deepEqual(listSets(k), [{ name: 'src4_g1', size: 96, n: 49 }]);
});

test('another writer fills the set between our read and our batch: ENFILE, read again, grow — its elements kept', async (t) => {
  const { k, m, sent } = await setup();
  const rec = await m.add({ src: range(30), mark: 1 });
  sent();
  k.beforeBatch = (kk) => {
    kk.beforeBatch = undefined;
    // nft add element …: 18 more, the set is full
    const s = kk.sets[0];
    const els = new Map(s.elements);
    for (const e of hashElements(range(18, 200).map((a) => parseAddressEntry(a).range.first), 4)) els.set(`${Buffer.from(e.key).toString('hex')}/0`, e);
    kk.sets = [{ ...s, elements: els }];
  };
  await m.update(rec.id, { add: [v4(41)] });
  t.deepEqual(sent(), ['NEWSETELEM', 'NEWSET', 'NEWSETELEM', 'NEWRULE', 'DELSET']);
  t.deepEqual(listSets(k), [{ name: 'src4_g1', size: 96, n: 49 }], 'ours and the other writer\'s');
});

test('a failed growth changes nothing: no new set, the old set and rule as they were', async (t) => {
  const { k, m, sent } = await setup();
  const id = await fullSet(m);
  const rule = k.rules[0];
  sent();
  k.failRule = { index: 0, errno: EINVAL, times: 1 };
  const e = await t.throwsAsync(m.update(id, { add: [v4(48)] }), { instanceOf: PktmarkError });
  t.is(e?.errno, EINVAL);
  t.deepEqual(sent(), ['NEWSET', 'NEWSETELEM', 'NEWRULE', 'DELSET']);
  t.deepEqual(listSets(k), [{ name: 'src4', size: 48, n: 48 }]);
  t.is(k.rules[0], rule);
  // an address to remove that is not there: refused before sending (the growth computes the list)
  const nf = await t.throwsAsync(m.update(id, { add: [v4(48), v4(49)], remove: ['10.7.7.7'] }), { instanceOf: PktmarkError });
  t.is(nf?.code, 'NOT_FOUND');
  t.deepEqual(sent(), []);
});
