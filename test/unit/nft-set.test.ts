/**
 * The set codec without root: round trips of set and element messages and of the lookup
 * expression, the interval helpers' properties (checked against brute force on small keys),
 * message splitting, and decoder fuzz (random and mutated bytes → only PktmarkError).
 */
import { loadFixture } from '../helpers/fixtures.js';
import test from 'ava';
import fc from 'fast-check';
import { PktmarkError } from '../../codecs/errors.js';
import { AttributeWriter, AttributeReader } from '../../codecs/netlink/attributes.js';
import { parseMessages, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { decodeExpr, encodeExpr } from '../../codecs/nftables/expr/index.js';
import type { Lookup } from '../../codecs/nftables/expr/lookup.js';
import {
  decodeSet, decodeSetElems, decodeSetUserdata, encodeSetUserdata, MAX_ELEMENTS_NEST, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET,
  NFT_MSG_NEWSETELEM, NFT_SET_ELEM_INTERVAL_END, setElemSize, splitSetElems, writeSet, writeSetElems,
  type NftSet, type NftSetElem, type NftSetElemList,
} from '../../codecs/nftables/set.js';
import {
  formatRange, hashElements, intervalDeleteElements, intervalElements, intervalRanges, keyBytes, keyValue, maxKey,
  mergeRanges, parseAddressEntry, planAddressSet, subtractRanges, type KeyRange,
} from '../../codecs/nftables/set-intervals.js';

const u8 = (max = 64) => fc.uint8Array({ maxLength: max }).map((b) => Uint8Array.from(b));
const name = fc.stringMatching(/^[a-z_][a-z0-9_%]{0,15}$/);
const u32 = fc.nat({ max: 0xffffffff });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** drop undefined fields, as the decoders never set them */
const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const setArb: fc.Arbitrary<NftSet> = fc.record({
  family: fc.constantFrom(1, 2, 10), table: name, name,
  handle: opt(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), flags: opt(u32), keyType: opt(u32), keyLen: opt(u32),
  dataType: opt(u32), dataLen: opt(u32), policy: opt(u32), id: opt(u32),
  desc: opt(fc.record({ size: opt(u32), concat: opt(fc.array(u32, { maxLength: 4 })) }).map(clean)),
  timeout: opt(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), gcInterval: opt(u32), userdata: opt(u8()), count: opt(u32),
}).map(clean);

const elemArb: fc.Arbitrary<NftSetElem> = fc.record({
  key: u8(32), keyEnd: opt(u8(32)), flags: opt(u32), data: opt(u8(16)),
  timeout: opt(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), expiration: opt(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  userdata: opt(u8(20)),
}).map(clean).filter((e) => e.key.length > 0);

const listArb: fc.Arbitrary<NftSetElemList> = fc.record({
  family: fc.constantFrom(1, 2, 10), table: name, set: name, setId: opt(u32), elements: fc.array(elemArb, { maxLength: 30 }),
}).map(clean);

function messages(fill: (w: AttributeWriter) => void): NetlinkMessage[] {
  const w = new AttributeWriter();
  fill(w);
  return parseMessages(w.finish());
}

test('decode(encode(set)) = set', (t) => {
  fc.assert(fc.property(setArb, (s) => {
    const [m] = messages((w) => writeSet(w, NFT_MSG_NEWSET, 1, 1, s));
    t.deepEqual(decodeSet(m), s);
  }), { numRuns: 500 });
});

test('decode(encode(element list)) = element list; a split list decodes back to the same elements', (t) => {
  fc.assert(fc.property(listArb, (l) => {
    const ms = messages((w) => writeSetElems(w, NFT_MSG_NEWSETELEM, 1, 1, l));
    const parts = ms.map(decodeSetElems);
    for (const p of parts) t.deepEqual({ ...p, elements: [] }, { ...l, elements: [] });
    t.deepEqual(parts.flatMap((p) => p.elements), l.elements);
  }), { numRuns: 500 });
  // a catch-all element has no key attribute and comes back as an empty key
  const star: NftSetElemList = { family: 1, table: 't', set: 's', elements: [{ key: new Uint8Array(0), flags: 2 }] };
  t.deepEqual(decodeSetElems(messages((w) => writeSetElems(w, NFT_MSG_NEWSETELEM, 1, 1, star))[0]), star);
  // big enough to split: 3 × the elements of one nest
  const l: NftSetElemList = { family: 1, table: 't', set: 's', elements: hashElements(Array.from({ length: 12_000 }, (_, i) => BigInt(i)), 4) };
  const ms = messages((w) => t.is(writeSetElems(w, NFT_MSG_DELSETELEM, 1, 1, l), 3));
  t.deepEqual(ms.flatMap((m) => decodeSetElems(m).elements), l.elements);
});

test('decode(encode(lookup)) = lookup', (t) => {
  const arb: fc.Arbitrary<Lookup> = fc.record({
    kind: fc.constant('lookup' as const), sreg: u32, set: name, setId: opt(u32), dreg: opt(u32), flags: opt(u32),
  }).map(clean);
  fc.assert(fc.property(arb, (e) => {
    const w = new AttributeWriter();
    encodeExpr(w, e);
    const [a] = new AttributeReader(w.finish()).list();
    t.deepEqual(decodeExpr(a), e);
  }), { numRuns: 300 });
});

test('set userdata: decode(encode(u)) = u; other blobs are not claimed', (t) => {
  for (const u of [{ keyByteorder: 2 }, { keyByteorder: 2, mergeElements: true, keyTypeof: { desc: 8, field: 2 } }, {}]) {
    t.deepEqual(decodeSetUserdata(encodeSetUserdata(u)), u);
  }
  t.is(decodeSetUserdata(Uint8Array.of(7, 2, 0x61, 0)), undefined, 'a comment TLV stays raw');
  t.throws(() => decodeSetUserdata(Uint8Array.of(0, 9, 1)), { instanceOf: PktmarkError });
});

// ----- interval properties, against brute force on 1-byte keys (0..255) -----------------------

const range8 = fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 })).map(([a, b]): KeyRange => ({ first: BigInt(Math.min(a, b)), last: BigInt(Math.max(a, b)) }));
const ranges8 = fc.array(range8, { maxLength: 12 });
const members = (rs: readonly KeyRange[]): boolean[] => {
  const m = Array<boolean>(256).fill(false);
  for (const r of rs) for (let k = Number(r.first); k <= Number(r.last); k++) m[k] = true;
  return m;
};

test('mergeRanges covers exactly the union, sorted, with a gap between ranges (overlaps, duplicates and adjacent ranges joined)', (t) => {
  fc.assert(fc.property(ranges8, (rs) => {
    const m = mergeRanges(rs);
    t.deepEqual(members(m), members(rs));
    for (let i = 1; i < m.length; i++) t.true(m[i].first > m[i - 1].last + 1n);
    t.deepEqual(mergeRanges(m), m, 'idempotent');
  }), { numRuns: 1000 });
  t.deepEqual(mergeRanges([{ first: 6n, last: 9n }, { first: 1n, last: 5n }, { first: 3n, last: 4n }]), [{ first: 1n, last: 9n }]);
});

test('subtractRanges = in the first list and not in the second', (t) => {
  fc.assert(fc.property(ranges8, ranges8, (a, b) => {
    const ma = members(a), mb = members(b);
    t.deepEqual(members(subtractRanges(a, b)), ma.map((x, i) => x && !mb[i]));
    t.deepEqual(subtractRanges(a, b), mergeRanges(subtractRanges(a, b)), 'merged');
  }), { numRuns: 1000 });
  // one prefix out of a merged range: two ranges stay
  const r = (s: string) => parseAddressEntry(s).range;
  t.deepEqual(subtractRanges([r('10.0.0.0/16')], [r('10.0.1.0/24')]).map((x) => formatRange(x, 'ip')), ['10.0.0.0/24', '10.0.2.0-10.0.255.255']);
});

test('interval elements: ascending start/END pairs; zero-key END only into an empty set not starting at 0; no END at the top', (t) => {
  fc.assert(fc.property(ranges8, fc.boolean(), (rs, empty) => {
    const el = intervalElements(rs, 1, { intoEmptySet: empty });
    const merged = mergeRanges(rs);
    t.deepEqual(intervalRanges(el, 1), merged, 'the elements describe exactly the merged ranges');
    const lead = empty && merged.length > 0 && merged[0].first !== 0n;
    t.is(el.length > 0 && el[0].key[0] === 0 && el[0].flags === NFT_SET_ELEM_INTERVAL_END, lead);
    const keys = el.map((e) => keyValue(e.key));
    for (let i = 1; i < keys.length; i++) t.true(keys[i] > keys[i - 1]);
    const topOpen = merged.length > 0 && merged[merged.length - 1].last === 255n;
    t.is(el.filter((e) => e.userdata !== undefined).length, topOpen ? 1 : 0);
  }), { numRuns: 1000 });
});

test('delete pairs equal the stored pairs', (t) => {
  fc.assert(fc.property(ranges8, (rs) => {
    const stored = mergeRanges(rs);
    const added = intervalElements(stored, 1, { intoEmptySet: false });
    t.deepEqual(intervalDeleteElements(stored, 1), added);
    // any one stored range: its pair is a contiguous run of what was added
    const hex = (e: readonly NftSetElem[]) => JSON.stringify(e.map((x) => [x.key[0], x.flags, x.userdata?.length]));
    for (const r of stored) t.true(hex(added).includes(hex(intervalDeleteElements([r], 1)).slice(1, -1)));
  }), { numRuns: 500 });
});

test('wider keys: v4 and v6 ranges round-trip through elements', (t) => {
  for (const len of [4, 16]) {
    const top = maxKey(len);
    const key = fc.bigInt({ min: 0n, max: top });
    const rangeArb = fc.tuple(key, key).map(([a, b]): KeyRange => (a <= b ? { first: a, last: b } : { first: b, last: a }));
    fc.assert(fc.property(fc.array(rangeArb, { maxLength: 8 }), (rs) => {
      t.deepEqual(intervalRanges(intervalElements(rs, len, { intoEmptySet: true }), len), mergeRanges(rs));
    }), { numRuns: 300 });
    t.deepEqual(keyValue(keyBytes(top, len)), top);
  }
});

test('planAddressSet: a hash set for single addresses, an interval set once a prefix or range is present, one plan per family', (t) => {
  const [h] = planAddressSet(['10.0.0.2', '10.0.0.1', '10.0.0.2'], { intoEmptySet: true });
  t.false(h.interval);
  t.deepEqual(h.elements.map((e) => Array.from(e.key)), [[10, 0, 0, 2], [10, 0, 0, 1]], 'duplicates dropped, input order kept');
  const [i] = planAddressSet(['10.0.0.0/24', '10.0.0.7', '10.0.1.0/24'], { intoEmptySet: true });
  t.true(i.interval);
  t.deepEqual(i.ranges.map((r) => formatRange(r, 'ip')), ['10.0.0.0/23'], 'overlap and adjacency merged');
  const both = planAddressSet(['fd00::/64', '10.0.0.1'], { intoEmptySet: true });
  t.deepEqual(both.map((p) => [p.family, p.keyLen, p.interval]), [['ip', 4, false], ['ip6', 16, true]]);
  t.throws(() => parseAddressEntry('10.0.0.9-10.0.0.1'), { instanceOf: PktmarkError, message: /above the last/ });
  t.throws(() => parseAddressEntry('10.0.0.1-fd00::1'), { instanceOf: PktmarkError, message: /mixes/ });
  t.throws(() => parseAddressEntry('10.0.0.0/33'), { instanceOf: PktmarkError });
  t.throws(() => mergeRanges([{ first: 2n, last: 1n }]), { instanceOf: PktmarkError });
  const e = t.throws(() => planAddressSet(['10.0.0.1', 'nope'], { intoEmptySet: true }), { instanceOf: PktmarkError });
  t.is(e?.field, 'address[1]');
});

test('splitSetElems: every part fits nla_len, parts concatenate to the input, numbering skips one per split', (t) => {
  fc.assert(fc.property(fc.array(fc.constantFrom(4, 16), { maxLength: 9000 }), fc.boolean(), (lens, ends) => {
    const els: NftSetElem[] = lens.map((n, i) => (ends && i % 2 ? { key: new Uint8Array(n), flags: 1 } : { key: new Uint8Array(n) }));
    const parts = splitSetElems(els);
    t.deepEqual(parts.flatMap((p) => p.elements), els);
    let next = 1;
    parts.forEach((p, i) => {
      t.true(4 + p.elements.reduce((n, e) => n + setElemSize(e), 0) <= MAX_ELEMENTS_NEST);
      t.is(p.firstIndex, next + (i > 0 ? 1 : 0));
      next = p.firstIndex + p.elements.length;
    });
  }), { numRuns: 40 });
});

// ----- fuzz ---------------------------------------------------------------------------------

const fixtureMessages = ['hash-v4', 'interval-v4-edges', 'list-set', 'anon-port-intervals', 'elem-delete-open'].flatMap((n) => {
  const f = loadFixture('nft', `set-${n}`);
  return f.runs.flatMap((r) => [...r.messages, ...(r.replies ?? [])]).map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
}).filter((m) => [0x0a09, 0x0a0c, 0x0a0e, 0x0a06].includes(m[4] | (m[5] << 8)));

function decodeAny(bytes: Uint8Array): void {
  for (const m of parseMessages(bytes)) {
    const t = m.header.type & 0xff;
    if (t === 9 || t === 10 || t === 11) decodeSet(m);
    else if (t === 12 || t === 13 || t === 14) decodeSetElems(m);
    else if (m.payload.length >= 4) for (const a of new AttributeReader(m.payload.subarray(4))) if (a.type === 4) for (const e of new AttributeReader(a.data)) decodeExpr(e);
  }
}
const onlyPktmarkErrors = (bytes: Uint8Array): boolean => {
  try { decodeAny(bytes); } catch (e) { if (!(e instanceof PktmarkError)) throw e; }
  return true;
};

test('decoders survive mutated set, element and lookup-rule messages with only PktmarkError', (t) => {
  t.true(fixtureMessages.length >= 8);
  fc.assert(fc.property(fc.nat({ max: fixtureMessages.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), (i, flips, cut) => {
    const b = fixtureMessages[i].slice();
    for (const [at, v] of flips) b[20 + (at % Math.max(1, b.length - 20))] = v; // keep the header and nfgenmsg, mutate attributes
    return onlyPktmarkErrors(b.subarray(0, Math.max(20, b.length - (cut % 8))));
  }), { numRuns: 3000 });
});

test('decoders survive random bytes behind a set/element message header with only PktmarkError', (t) => {
  fc.assert(fc.property(fc.constantFrom(9, 10, 11, 12, 13, 14), u8(200), (type, body) => {
    const b = new Uint8Array(20 + body.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, b.length, true);
    v.setUint16(4, 0x0a00 | type, true);
    b.set(body, 20);
    return onlyPktmarkErrors(b);
  }), { numRuns: 3000 });
  t.pass();
});
