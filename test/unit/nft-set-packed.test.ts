/**
 * The packed IPv4 path of list sets (v4-ranges.ts, set-elems-packed.ts) against the object path
 * it replaces: the same ranges as mergeRanges / hashElements, the same entries as formatRange,
 * and byte-identical NEWSETELEM messages (split and numbering included) as writeSetElems of the
 * unpacked elements.
 */
import test from 'ava';
import fc from 'fast-check';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { decodeSetElems, decodeSetElemsPacked, NFT_MSG_NEWSETELEM, NFT_SET_INTERVAL, writeSetElems } from '../../codecs/nftables/set.js';
import { formatRange, hashElements, intervalElements, keyValue, mergeRanges, parseAddressEntry, type KeyRange } from '../../codecs/nftables/set-intervals.js';
import { PackedCollector, packedHashElems, packedIntervalElems, unpackSetElems } from '../../codecs/nftables/set-elems-packed.js';
import { listSetInfo } from '../../src/backends/nft/address-sets.js';
import { formatV4Range, parseEntries, planV4, type V4Ranges } from '../../codecs/nftables/v4-ranges.js';
import { parseAddressList } from '../../src/addresses.js';
import { PktmarkError } from '../../src/errors.js';

const quad = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
/** addresses crowded into a few /24s (so merges and duplicates happen), the edges of the key space included */
const v4 = fc.oneof(fc.nat({ max: 0x3ff }).map((x) => 0x0a000000 + x), fc.constantFrom(0, 1, 0xfffffffe, 0xffffffff), fc.nat({ max: 0xffffffff }));
const entry = fc.oneof(
  v4.map(quad),
  fc.tuple(v4, fc.nat({ max: 32 })).map(([a, p]) => `${quad(a)}/${p}`),
  fc.tuple(v4, fc.nat({ max: 40 })).map(([a, n]) => `${quad(a)}-${quad(Math.min(0xffffffff, a + n))}`),
  fc.constantFrom(' 10.0.0.1', '010.0.0.1', '10.0.0.0/08', '10.0.0.1/32'),
);

const encode = (elements: Parameters<typeof writeSetElems>[4]['elements']): Uint8Array => {
  const w = new AttributeWriter(1024);
  writeSetElems(w, NFT_MSG_NEWSETELEM, 0x405, 7, { family: 1, table: 'pktmark', set: 'pm_0000000000000001_src4', setId: 1, elements }, 4);
  return w.finish();
};

test('planV4 gives mergeRanges of the entries (interval) or their distinct addresses ascending (hash)', (t) => {
  fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 60 }), (list) => {
    const ref = list.map((e) => parseAddressEntry(e).range);
    const p = planV4(parseEntries(list, 'src'));
    t.is(p.interval, list.some((e) => !parseAddressEntry(e).single));
    const want = p.interval ? mergeRanges(ref) : [...new Set(ref.map((r) => r.first))].sort((a, b) => (a < b ? -1 : 1)).map((k) => ({ first: k, last: k }));
    t.deepEqual(Array.from(p.ranges.first, (f, i) => ({ first: BigInt(f), last: BigInt(p.ranges.last[i]) })), want);
    t.deepEqual(want.map((r) => formatV4Range(Number(r.first), Number(r.last))), want.map((r) => formatRange(r, 'ip')));
  }), { numRuns: 60 });
});

test('planV4 of an ascending list of canonical addresses (its keys and text reused) equals the sorting path', (t) => {
  fc.assert(fc.property(fc.array(v4, { minLength: 1, maxLength: 60 }), fc.boolean(), (keys, dup) => {
    const sorted = [...new Set(keys)].sort((a, b) => a - b);
    const list = (dup ? [...sorted, sorted[sorted.length - 1]] : sorted).map(quad);
    const p = planV4(parseEntries(list, 'src'));
    t.false(p.interval);
    t.deepEqual(Array.from(p.ranges.first), sorted);
    t.deepEqual(Array.from(p.ranges.last), sorted);
    t.deepEqual([...p.text], sorted.map(quad));
  }), { numRuns: 60 });
});

test('packed elements encode byte for byte as the element objects, across splits (hash and interval, into an empty set or not)', (t) => {
  fc.assert(fc.property(fc.array(v4, { minLength: 1, maxLength: 40 }), fc.nat({ max: 9000 }), fc.boolean(), (seed, extra, empty) => {
    // a few thousand keys beyond the seeds, so the lists split (65,535-byte nests)
    const keys = Uint32Array.from(new Set([...seed, ...Array.from({ length: extra }, (_, i) => 0x0b000000 + i * 3)])); // a hash set's keys are distinct
    const hash = packedHashElems(keys);
    t.deepEqual(encode(hash), encode(hashElements(Array.from(keys, BigInt), 4)));
    const plan = planV4(parseEntries(Array.from(keys, (k, i) => (i % 5 === 0 ? `${quad(k)}/30` : quad(k))), 'src'));
    const packed = packedIntervalElems(plan.ranges, empty);
    const ranges = Array.from(plan.ranges.first, (f, i) => ({ first: BigInt(f), last: BigInt(plan.ranges.last[i]) }));
    t.deepEqual(unpackSetElems(packed), intervalElements(ranges, 4, { intoEmptySet: empty }));
    t.deepEqual(encode(packed), encode(intervalElements(ranges, 4, { intoEmptySet: empty })));
  }), { numRuns: 40 });
});

test('parseAddressList: entries as before, and the first bad entry named as before', (t) => {
  const l = parseAddressList(['10.0.0.2', '10.0.0.1', '10.0.0.2', '::1', '2001:db8::1'], 'src');
  t.deepEqual(l, { interval: [], entries: ['10.0.0.1', '10.0.0.2', '::1', '2001:db8::1'], families: ['ip', 'ip6'] });
  const m = parseAddressList(['10.0.1.0/24', '10.0.0.7/24', '10.0.2.0-10.0.2.255', 'fe80::/10'], 'dst');
  t.deepEqual(m, { interval: ['ip', 'ip6'], entries: ['10.0.0.0-10.0.2.255', 'fe80::/10'], families: ['ip', 'ip6'] });
  for (const [bad, field] of [[['10.0.0.1', '10.0.0.256'], 'src[1]'], [['10.0.0.1/33'], 'src[0]'], [['10.0.0.9-10.0.0.1'], 'src[0]']] as const) {
    const e = t.throws(() => parseAddressList(bad, 'src'));
    t.true(e instanceof PktmarkError);
    t.is((e as PktmarkError).code, 'INVALID_CIDR');
    t.is((e as PktmarkError).field, field);
  }
  t.is(keyValue(new Uint8Array([10, 0, 0, 1])), 0x0a000001n);
});

test('a dump decoded packed gives the elements decodeSetElems gives, and the same list (hash and interval); other elements are left to decodeSetElems', (t) => {
  fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 300 }), fc.boolean(), (list, shuffle) => {
    const plan = planV4(parseEntries(list, 'src'));
    const packed = plan.interval ? packedIntervalElems(plan.ranges, true) : packedHashElems(plan.ranges.first);
    const objects = unpackSetElems(packed);
    // the kernel dumps in its own order: reversed stands in for it
    const sent = shuffle ? [...objects].reverse() : objects;
    const msgs = parseMessages(encode(sent));
    const c = new PackedCollector();
    t.true(msgs.every((m) => decodeSetElemsPacked(m, c)));
    t.deepEqual(unpackSetElems(c.result()), msgs.flatMap((m) => decodeSetElems(m).elements));
    const name = 'pm_0000000000000001_src4';
    const flags = plan.interval ? NFT_SET_INTERVAL : 0;
    const a = listSetInfo(name, flags, c.result());
    const b = listSetInfo(name, flags, sent);
    t.truthy(a);
    const packedRanges = a!.ranges as V4Ranges;
    t.deepEqual(Array.from(packedRanges.first, (f, i) => ({ first: BigInt(f), last: BigInt(packedRanges.last[i]) })),
      [...(b!.ranges as readonly KeyRange[])].sort((x, y) => (x.first < y.first ? -1 : 1)));
  }), { numRuns: 60 });
  // a map's data, a timeout: not the packed shape
  const odd = parseMessages(encode([{ key: new Uint8Array([10, 0, 0, 1]), timeout: 5n }]));
  const c = new PackedCollector();
  t.false(decodeSetElemsPacked(odd[0], c));
  t.is(c.count, 0);
});
