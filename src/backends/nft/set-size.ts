/**
 * The size a hash list set declares (NFTA_SET_DESC_SIZE), and when it must grow.
 *
 * Why declare one: with a size, nf_tables picks the fixed-size hash (nft_set_hash.c's
 * nft_hash / nft_hash_fast, whose bucket array is allocated once with the set) over the
 * resizing rhashtable, which it must use when no size is given (nft_hash_estimate refuses a
 * set without one). 100,000 addresses went into the kernel in ~90–100 ms instead of ~150–290 ms (median 227)
 * (measured on this project's 2-core machine, the kernel's part of pktmark's batch alone).
 *
 * The price: the kernel refuses an element past the size (nft_add_set_elem: ENFILE once
 * nelems reaches size + the elements this batch deletes). So the size has headroom, and an
 * update that would pass it replaces the set by a bigger one in its batch
 * (address-set-grow.ts): the size is never a limit the user sees.
 *
 * The rule: B = the smallest power of two ≥ 2 × count (at least 64), size = 3B/4. The kernel
 * gives a size of S roundup_pow_of_two(S × 4/3) buckets (nft_hash_buckets), so 3B/4 is the
 * largest size that B buckets serve (one more element would double the array) — the bucket
 * array is used whole, at most 75% full when the set is full (the load rhashtable grows at).
 * Headroom: size is 1.5× to 3× the count. Memory: 8 bytes per bucket, 2 to 4 per element —
 * 2 MiB for 100,000 addresses (declared size 196,608); the elements themselves take more.
 * A much bigger size costs the allocation: declared 1,048,576 the same 100,000-element add
 * took ~150 ms, 4,194,304 ~275 ms, 16,777,216 ~760 ms (the bucket array zeroed in the batch).
 *
 * Interval sets (the rbtree) declare no size: nft_rbtree_estimate only reports it, the rbtree
 * allocates nothing by it, and measured with 100,000 ranges the add was no faster with one
 * (~300 ms without, ~340 ms with size 262,144); a size would only add the cap.
 */

/** Fewer buckets than this are not worth a growth: a list of 1 to 32 addresses declares 48. */
const MIN_BUCKETS = 64;
/**
 * Past this the kernel's u32 `size * 4 / 3` would overflow (nft_hash_buckets); such a list
 * (hundreds of millions of addresses) gets no size and the rhashtable, which has no cap.
 */
const MAX_BUCKETS = 2 ** 30;

/** The size a hash set of `count` elements declares, or undefined for none (see above). */
export function declaredSize(count: number): number | undefined {
  let b = MIN_BUCKETS;
  while (b < 2 * count) b *= 2;
  return b > MAX_BUCKETS ? undefined : (b / 4) * 3;
}

/** Whether a set declared with `size` must be replaced by a bigger one to hold `want` elements. */
export const mustGrow = (size: number | undefined, want: number): boolean => size !== undefined && size > 0 && want > size;
