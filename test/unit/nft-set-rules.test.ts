/**
 * Address-list rules without root, on pktmark/testing's FakeNftKernel (which models sets):
 * the add batch (sets before rules, NLM_F_EXCL, split element lists), list decoding, update
 * batches that carry only the changed elements, delete with the sets, a mixed v4/v6 list under
 * one id, and the validation errors (field and index, nothing sent).
 */
import test from 'ava';
import { fakeMarker } from '../helpers/fake-nft-sent.js';
import { NLM_F_EXCL } from '../../codecs/netlink/message.js';
import { decodeRule, NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { decodeSetElems, NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM } from '../../codecs/nftables/set.js';
import { Marker, PktmarkError, type MarkRuleInput } from '../../src/index.js';
import { normalizeRule } from '../../src/normalize.js';
import { FakeNftKernel } from '../../src/testing/index.js';
import { intervalChange, intervalChangeV4, v4RangesOf } from '../../src/backends/nft/address-set-changes.js';
import { unpackSetElems, isPacked } from '../../codecs/nftables/set-elems-packed.js';
import type { V4Ranges } from '../../codecs/nftables/v4-ranges.js';
import { intervalRanges, mergeRanges, parseAddressEntry, subtractRanges } from '../../codecs/nftables/set-intervals.js';
import fc from 'fast-check';


const T = (n: number): number => nftType(n);
const setup = fakeMarker;

test('add: sets and their elements first (NLM_F_EXCL), then one rule; list decodes the list back; delete takes the set too', async (t) => {
  const { k, m, sent } = await setup();
  const rec = await m.add({ src: ['10.0.0.3', '10.0.0.1', '10.0.0.2'], mark: 7 });
  t.deepEqual(sent(), ['NEWSET', 'NEWSETELEM', 'NEWRULE']);
  const newset = k.requests.find((r) => r.header.type === T(NFT_MSG_NEWSET))!;
  t.true((newset.header.flags & NLM_F_EXCL) !== 0, 'a list set never joins an existing set of its name');
  t.is(k.sets.length, 1);
  t.regex(k.sets[0].name, /^pm_[0-9a-f]{16}_src4$/);
  t.is(k.sets[0].elements.size, 3);
  const [listed] = await m.list();
  t.is(listed.id, rec.id);
  t.deepEqual(listed.rule, rec.rule);
  t.deepEqual(listed.rule?.srcList, { entries: ['10.0.0.1', '10.0.0.2', '10.0.0.3'], families: ['ip'], interval: [] });
  t.regex(listed.text, /ip saddr \{ 10\.0\.0\.1, 10\.0\.0\.2, 10\.0\.0\.3 \}/);
  sent();
  await m.delete(rec.id);
  t.deepEqual(sent(), ['DELRULE', 'DELSET'], 'one batch: the rule, then its set');
  t.deepEqual(k.sets, []);
  t.deepEqual(k.rules, []);
});

test('a mixed v4/v6 list: two sets, two rules with consecutive handles, one id; list joins them; delete removes all four', async (t) => {
  const { k, m, sent } = await setup();
  await m.add({ src: '10.9.9.9', mark: 1 });
  const rec = await m.add({ src: ['fd00::1', '10.0.0.0/8', '10.0.0.1'], dst: ['10.1.0.1', 'fd00::9'], mark: 2 });
  t.deepEqual(sent().slice(-10), ['NEWSET', 'NEWSETELEM', 'NEWSET', 'NEWSETELEM', 'NEWSET', 'NEWSETELEM', 'NEWSET', 'NEWSETELEM', 'NEWRULE', 'NEWRULE']);
  t.is(k.sets.length, 4);
  const handles = k.rules.slice(1).map((r) => r.handle!);
  t.is(handles[1] - handles[0], 1n);
  t.is(rec.id, `nft:prerouting:${handles[0]}`);
  const listed = await m.list();
  t.is(listed.length, 2);
  t.is(listed[1].id, rec.id);
  t.deepEqual(listed[1].rule?.srcList, { entries: ['10.0.0.0/8', 'fd00::1'], families: ['ip', 'ip6'], interval: ['ip'] });
  t.deepEqual(listed[1].rule?.dstList, { entries: ['10.1.0.1', 'fd00::9'], families: ['ip', 'ip6'], interval: [] });
  t.deepEqual(listed[1].rule, rec.rule);
  t.is(listed[1].text.split('\n').length, 2, 'one nft line per family');
  sent();
  await m.delete(rec.id);
  t.deepEqual(sent(), ['DELRULE', 'DELRULE', 'DELSET', 'DELSET', 'DELSET', 'DELSET']);
  t.is(k.rules.length, 1);
  t.deepEqual(k.sets, []);
});

test('the same with `first` (head inserts, sent last to first): the id is still the lower handle and list joins the pair', async (t) => {
  const { m } = await setup();
  await m.add({ src: '10.9.9.9', mark: 1 });
  const rec = await m.add({ src: ['10.0.0.1', 'fd00::1'], mark: 2 }, { first: true });
  const listed = await m.list();
  t.is(listed.length, 2);
  t.is(listed[0].id, rec.id);
  t.deepEqual(listed[0].rule?.srcList?.entries, ['10.0.0.1', 'fd00::1']);
  await m.delete(rec.id);
  t.is((await m.list()).length, 1);
});

test('update of a hash set: one batch carrying only the changed elements', async (t) => {
  const { k, m, sent } = await setup();
  const list = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const rec = await m.add({ src: list, mark: 1 });
  sent();
  const r = await m.update(rec.id, { add: ['10.9.0.1', '10.9.0.2'], remove: ['10.0.0.5'] });
  t.deepEqual(r, { id: rec.id, deleted: 1, added: 2 });
  t.deepEqual(sent(), ['DELSETELEM', 'NEWSETELEM']);
  const msgs = k.requests.filter((x) => x.header.type === T(NFT_MSG_NEWSETELEM) || x.header.type === T(NFT_MSG_DELSETELEM)).slice(-2);
  t.deepEqual(msgs.map((x) => decodeSetElems(x).elements.length), [1, 2]);
  t.is(k.sets[0].elements.size, 1001);
  // removing an address that is not there: NOT_FOUND, nothing changed
  const e = await t.throwsAsync(m.update(rec.id, { remove: ['10.0.0.5'], add: ['10.9.9.9'] }), { instanceOf: PktmarkError });
  t.is(e?.code, 'NOT_FOUND');
  t.is(k.sets[0].elements.size, 1001);
});

test('update of an interval set: the stored pair is deleted and the remainders added; an overlap merges; a no-op sends nothing', async (t) => {
  const { k, m, sent } = await setup();
  const rec = await m.add({ src: ['10.0.0.0/16', '192.168.0.0/24'], mark: 1 });
  sent();
  t.deepEqual(await m.update(rec.id, { remove: ['10.0.5.0/24'] }), { id: rec.id, deleted: 2, added: 4 });
  t.deepEqual(sent(), ['DELSETELEM', 'NEWSETELEM']);
  t.deepEqual((await m.list())[0].rule?.srcList?.entries, ['10.0.0.0-10.0.4.255', '10.0.6.0-10.0.255.255', '192.168.0.0/24']);
  await m.update(rec.id, { add: ['10.0.4.0/22'] });
  t.deepEqual((await m.list())[0].rule?.srcList?.entries, ['10.0.0.0/16', '192.168.0.0/24']);
  sent();
  t.deepEqual(await m.update(rec.id, { add: ['10.0.7.7'], remove: ['172.16.0.0/12'] }), { id: rec.id, deleted: 0, added: 0 });
  t.deepEqual(sent(), [], 'nothing to change: no batch');
  t.is(k.sets[0].elements.size, 5, 'zero-key END + two pairs');
});

test('intervalChange: ranges that stay identical are not touched', (t) => {
  const stored = ['10.2.0.0/24', '10.0.0.0/24', '10.1.0.0/24'].map((x) => parseAddressEntry(x).range);
  const c = intervalChange('s', 'ip', stored, [parseAddressEntry('10.1.1.0/24').range], []);
  // 10.1.0.0/24 and 10.1.1.0/24 join: one pair out, one in; the other two ranges stay
  t.is(c.del.length, 2);
  t.is(c.add.length, 2);
  t.deepEqual(c.want?.length, 3);
  // 100,000 stored ranges and a 1% change: linear, not quadratic
  const big = Array.from({ length: 100_000 }, (_, i) => ({ first: BigInt(i * 4), last: BigInt(i * 4 + 1) }));
  const t0 = performance.now();
  const d = intervalChange('s', 'ip', big, big.slice(0, 1000).map((r) => ({ first: r.last + 1n, last: r.last + 1n })), []);
  t.is(d.del.length, 2000);
  t.true(performance.now() - t0 < 5000);
});

test('update refusals: unknown id NOT_FOUND, a plain rule NOT_A_SET_RULE, a prefix into a hash set, wrong family, bad entry index', async (t) => {
  const { m } = await setup();
  const h = await m.add({ src: ['10.0.0.1', '10.0.0.2'], mark: 1 });
  const plain = await m.add({ src: '10.0.0.9', mark: 1 });
  const code = async (p: Promise<unknown>): Promise<[string | undefined, string | undefined]> => {
    const e = await t.throwsAsync(p, { instanceOf: PktmarkError });
    return [e?.code, e?.field];
  };
  t.deepEqual(await code(m.update('nft:prerouting:999', { add: ['10.0.0.3'] })), ['NOT_FOUND', 'id']);
  t.deepEqual(await code(m.update(plain.id, { add: ['10.0.0.3'] })), ['NOT_A_SET_RULE', 'id']);
  t.deepEqual(await code(m.update(h.id, { add: ['10.0.0.3', '10.1.0.0/16'] })), ['INVALID_CIDR', 'add[1]']);
  t.deepEqual(await code(m.update(h.id, { add: ['fd00::1'] })), ['FAMILY_MISMATCH', 'add[0]']);
  t.deepEqual(await code(m.update(h.id, { remove: ['10.0.0.1', 'nope'] })), ['INVALID_CIDR', 'remove[1]']);
  t.deepEqual(await code(m.update(h.id, { add: ['10.0.0.3'], extra: 1 } as never)), ['INVALID_OPTION', 'extra']);
  t.deepEqual(await code(m.update('tc:eth0:ingress:1:800::800', { add: ['10.0.0.3'] })), ['NOT_A_SET_RULE', 'id']);
});

test('validation: errors name the field and index; empty list; lists need via nft; family conflicts; nothing is sent', async (t) => {
  const bad = (input: MarkRuleInput): [string, string | undefined] => {
    const e = t.throws(() => normalizeRule(input), { instanceOf: PktmarkError });
    return [e!.code, e!.field];
  };
  t.deepEqual(bad({ src: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.300'], mark: 1 }), ['INVALID_CIDR', 'src[3]']);
  t.deepEqual(bad({ dst: [], mark: 1 }), ['INVALID_CIDR', 'dst']);
  t.deepEqual(bad({ src: ['10.0.0.1', 5 as unknown as string], mark: 1 }), ['INVALID_CIDR', 'src[1]']);
  t.deepEqual(bad({ src: ['!10.0.0.1'], mark: 1 }), ['INVALID_CIDR', 'src[0]']);
  t.deepEqual(bad({ via: 'tc', dev: 'eth0', src: ['10.0.0.1'], mark: 1 }), ['INVALID_OPTION', 'src']);
  t.deepEqual(bad({ family: 'ip6', src: ['10.0.0.1'], mark: 1 }), ['FAMILY_MISMATCH', 'src']);
  t.deepEqual(bad({ src: ['10.0.0.1'], dst: ['fd00::1'], mark: 1 }), ['FAMILY_MISMATCH', 'dst']);
  t.deepEqual(bad({ src: ['10.0.0.1', 'fd00::1'], dst: '10.0.0.2', mark: 1 }), ['FAMILY_MISMATCH', 'dst']);
  const { k, m } = await setup();
  const e = await t.throwsAsync(m.add([{ src: '10.0.0.1', mark: 1 }, { src: ['10.0.0.1', 'x'], mark: 1 }]), { instanceOf: PktmarkError });
  t.is(e?.field, '[1].src[1]');
  t.is(k.requests.length, 0);
});

test('a large list is split across NEWSETELEM messages (nla_len), all in the one add batch', async (t) => {
  const { k, m, sent } = await setup();
  const list = Array.from({ length: 20_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  await m.add({ src: list, mark: 1 });
  const kinds = sent();
  t.true(kinds.filter((x) => x === 'NEWSETELEM').length >= 5, kinds.join(' '));
  t.is(k.sets[0].elements.size, 20_000);
  t.is(k.exchanges, 2, 'GETTABLE and one batch');
  const rule = k.rules[0];
  t.is(decodeRule(k.requests.find((r) => r.header.type === T(NFT_MSG_NEWRULE))!).exprs.some((e) => e.kind === 'lookup'), true);
  t.truthy(rule);
});

test('property: intervalChange equals the whole-set computation, and its deletes and adds turn stored into wanted', (t) => {
  const range = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 12 })).map(([a, w]) => ({ first: BigInt(a), last: BigInt(a + w) }));
  fc.assert(fc.property(fc.array(range, { maxLength: 30 }), fc.array(range, { maxLength: 6 }), fc.array(range, { maxLength: 6 }), (s, add, rm) => {
    const stored = mergeRanges(s);
    const c = intervalChange('s', 'ip', stored, add, rm);
    const expect = subtractRanges(mergeRanges([...stored, ...add]), rm);
    t.deepEqual(c.want?.map((r) => [r.first, r.last]), expect.map((r) => [r.first, r.last]));
    // applying del then add to the stored ranges gives the wanted ones
    const dels = intervalRanges(c.del, 4);
    const kept = stored.filter((r) => !dels.some((d) => d.first === r.first && d.last === r.last));
    const after = mergeRanges([...kept, ...intervalRanges(c.add, 4)]);
    t.deepEqual(after.map((r) => [r.first, r.last]), expect.map((r) => [r.first, r.last]));
  }), { numRuns: 300 });
});

test('property: intervalChangeV4 (typed arrays, packed elements) gives intervalChange\'s elements and ranges, at the edges of the address space too', (t) => {
  const edge = fc.constantFrom(0, 1, 2, 0xfffffff0, 0xfffffffd, 0xfffffffe);
  const key = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0xffffff00, max: 0xffffffff }), edge);
  const range = fc.tuple(key, fc.integer({ min: 0, max: 12 })).map(([a, w]) => ({ first: BigInt(a), last: BigInt(Math.min(a + w, 0xffffffff)) }));
  const asPairs = (r: V4Ranges): bigint[][] => Array.from(r.first, (f, i) => [BigInt(f), BigInt(r.last[i])]);
  fc.assert(fc.property(fc.array(range, { maxLength: 30 }), fc.array(range, { maxLength: 6 }), fc.array(range, { maxLength: 6 }), fc.boolean(), fc.boolean(), (s, add, rm, shuffle, split) => {
    // stored as nft may leave them: adjacent pairs kept apart (split), and in any order
    const merged = mergeRanges(s);
    const stored = split ? merged.flatMap((r) => (r.last > r.first ? [{ first: r.first, last: r.first }, { first: r.first + 1n, last: r.last }] : [r])) : merged;
    const given = shuffle ? [...stored].reverse() : stored;
    const a = intervalChange('s', 'ip', given, add, rm);
    const b = intervalChangeV4('s', v4RangesOf(given), add, rm);
    t.true(isPacked(b.del) && isPacked(b.add));
    const els = (x: typeof b.del): unknown => (isPacked(x) ? unpackSetElems(x) : x);
    t.deepEqual(els(b.del), a.del);
    t.deepEqual(els(b.add), a.add);
    t.deepEqual(asPairs(b.want as V4Ranges), a.want!.map((r) => [r.first, r.last]));
    // written into arrays that are long enough (and full of junk): the same ranges, in those arrays
    const junk = { first: new Uint32Array(80).fill(7), last: new Uint32Array(80).fill(9) };
    const c = intervalChangeV4('s', v4RangesOf(given), add, rm, junk);
    t.is(c.buffers, junk);
    t.deepEqual(asPairs(c.want as V4Ranges), a.want!.map((r) => [r.first, r.last]));
  }), { numRuns: 500 });
});

test('apply prune: "all" removes an address-list rule made by add with its sets, in the same batch (DELRULEs, then DELSETs); the default prune leaves both', async (t) => {
  const { k, m, sent } = await setup();
  await m.add({ src: ['10.0.0.1', '10.0.0.2', 'fd00::1'], mark: 3 });
  t.is(k.sets.length, 2);
  t.like(await m.apply([{ src: '10.0.0.9', mark: 9 }]), { added: 1, removed: 0 });
  t.is(k.sets.length, 2, 'rules apply did not make are left alone by default, and their sets with them');
  sent();
  t.like(await m.apply([{ src: '10.0.0.9', mark: 9 }], { prune: 'all' }), { removed: 2, kept: 1 });
  t.deepEqual(sent(), ['DELRULE', 'DELRULE', 'DELSET', 'DELSET']);
  t.deepEqual(k.sets, []);
  t.is(k.rules.length, 1);
});
