/**
 * The size a hash list set declares (set-size.ts) and the generation suffix of a grown set's
 * name (address-sets.ts): the numbers, the kernel's bucket rounding they are chosen for, and
 * that names made before generations existed still parse.
 */
import test from 'ava';
import fc from 'fast-check';
import { declaredSize, mustGrow } from '../../src/backends/nft/set-size.js';
import { listSet, parseSetName, setName } from '../../src/backends/nft/address-sets.js';

/** nft_set_hash.c: nft_hash_buckets(size) = roundup_pow_of_two(size * 4 / 3), in u32 */
const kernelBuckets = (size: number): number => { const n = Math.floor((size * 4) / 3); let b = 1; while (b < n) b *= 2; return b; };

test('declaredSize: 3/4 of the power of two ≥ 2 × count, at least 48', (t) => {
  t.is(declaredSize(0), 48);
  t.is(declaredSize(1), 48);
  t.is(declaredSize(32), 48);
  t.is(declaredSize(33), 96);
  t.is(declaredSize(49), 96);
  t.is(declaredSize(10_000), 24_576);
  t.is(declaredSize(100_000), 196_608);
  t.is(declaredSize(2 ** 29), 3 * 2 ** 28, 'the largest: 2^30 buckets');
  t.is(declaredSize(2 ** 29 + 1), undefined, 'past it no size (the kernel\'s u32 size * 4 would overflow)');
});

test('property: the size holds 1.5× to 3× the count, and the kernel gives it exactly the buckets 2 × count rounds to', (t) => {
  fc.assert(fc.property(fc.integer({ min: 33, max: 2 ** 29 }), (n) => {
    const s = declaredSize(n)!;
    t.true(s >= 1.5 * n && s < 3 * n, `${n} → ${s}`);
    const b = kernelBuckets(s);
    t.is(b, (s / 3) * 4, 'no rounding: the bucket array is used whole');
    t.true(b >= 2 * n && b < 4 * n);
    t.true(s * 4 < 2 ** 32);
  }), { numRuns: 2000 });
});

test('mustGrow: only a declared size, only past it', (t) => {
  t.false(mustGrow(undefined, 1e9));
  t.false(mustGrow(0, 5));
  t.false(mustGrow(48, 48));
  t.true(mustGrow(48, 49));
});

test('names: generation 0 has no suffix (names made before growth parse unchanged), later ones _gN', (t) => {
  const tag = '0123456789abcdef';
  t.is(setName(tag, 'src', 'ip'), `pm_${tag}_src4`);
  t.is(setName(tag, 'dst', 'ip6', 3), `pm_${tag}_dst6_g3`);
  t.deepEqual(parseSetName(`pm_${tag}_src4`), { tag, field: 'src', family: 'ip', generation: 0 });
  t.deepEqual(parseSetName(`pm_${tag}_dst6_g12`), { tag, field: 'dst', family: 'ip6', generation: 12 });
  for (const bad of [`pm_${tag}_src4_g0`, `pm_${tag}_src4_g01`, `pm_${tag}_src4_g`, `pm_${tag}_src4_x1`, `pm_${tag}_src4_g1234567890`, `pm_${tag}_src5`]) t.is(parseSetName(bad), undefined, bad);
  fc.assert(fc.property(fc.constantFrom('src', 'dst' as const), fc.constantFrom('ip', 'ip6' as const), fc.integer({ min: 0, max: 999_999_999 }), (field, family, g) => {
    t.deepEqual(parseSetName(setName(tag, field, family, g)), { tag, field, family, generation: g });
  }));
});

test('listSet: a hash set declares its size, an interval set none', (t) => {
  t.deepEqual(listSet('pktmark', 'x', 'ip', false, 1, 100_000).desc, { size: 196_608 });
  t.deepEqual(listSet('pktmark', 'x', 'ip6', false, 1, 3).desc, { size: 48 });
  t.is(listSet('pktmark', 'x', 'ip', true, 1, 100_000).desc, undefined);
});
