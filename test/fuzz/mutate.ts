/**
 * Mutations of a seed input, AFL-style: bit flips, interesting values, truncation, extension,
 * deletion, duplication, splicing with another seed, and — the ones netlink decoders are most
 * exposed to — rewriting length fields. Length fields are found structurally (every 4-aligned
 * offset whose u16 could be an nlmsghdr/nlattr length), so the mutator follows the seed's TLV tree
 * without knowing each message family.
 */
import type { Rng } from './rng.js';

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff];
const INTERESTING_16 = [0, 1, 3, 4, 5, 8, 0x7fff, 0x8000, 0xfffc, 0xffff];
const INTERESTING_32 = [0, 1, 4, 16, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** Offsets of plausible 16-bit length fields (nlattr.nla_len, low half of nlmsghdr.nlmsg_len). */
export function lengthOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let p = 0; p + 4 <= b.length; p += 4) {
    const v = b[p]! | (b[p + 1]! << 8);
    if (v >= 4 && v <= b.length - p) out.push(p);
  }
  return out;
}

export interface Seed { readonly bytes: Uint8Array; readonly lengths: readonly number[] }
export const seedOf = (bytes: Uint8Array): Seed => ({ bytes, lengths: lengthOffsets(bytes) });

function put16(b: Uint8Array, at: number, v: number): void { b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; }
function put32(b: Uint8Array, at: number, v: number): void { put16(b, at, v & 0xffff); put16(b, at + 2, v >>> 16); }

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a); out.set(b, a.length);
  return out;
}

/** One mutation step on a copy of `b` (never mutates its argument). */
function step(rng: Rng, seed: Seed, b: Uint8Array, others: readonly Seed[]): Uint8Array {
  const n = b.length;
  switch (rng.int(12)) {
    case 0: { // bit flip
      if (!n) return rng.bytes(1 + rng.int(32));
      const c = b.slice(); const i = rng.int(n); c[i]! ^= 1 << rng.int(8); return c;
    }
    case 1: { // random byte
      if (!n) return rng.bytes(1 + rng.int(32));
      const c = b.slice(); c[rng.int(n)] = rng.u32() & 0xff; return c;
    }
    case 2: { // interesting byte / u16 / u32 at a random place
      if (n < 4) return concat(b, rng.bytes(4));
      const c = b.slice(); const at = rng.int(n - 3);
      const k = rng.int(3);
      if (k === 0) c[at] = rng.pick(INTERESTING_8);
      else if (k === 1) put16(c, at, rng.pick(INTERESTING_16));
      else put32(c, at, rng.pick(INTERESTING_32));
      return c;
    }
    case 3: case 4: { // rewrite a length field: off by a little, zero, huge, or the whole rest
      const offs = b === seed.bytes ? seed.lengths : lengthOffsets(b);
      if (!offs.length) return step(rng, seed, b, others);
      const c = b.slice(); const at = rng.pick(offs);
      const old = c[at]! | (c[at + 1]! << 8);
      const k = rng.int(6);
      const v = k === 0 ? old + 1 + rng.int(8) : k === 1 ? Math.max(0, old - 1 - rng.int(8)) : k === 2 ? rng.pick(INTERESTING_16)
        : k === 3 ? n - at : k === 4 ? old + 4 : rng.int(0x10000);
      put16(c, at, v & 0xffff);
      if (at === 0 && rng.chance(0.3)) put32(c, 0, rng.pick(INTERESTING_32)); // nlmsg_len is a u32
      return c;
    }
    case 5: return b.slice(0, rng.int(n + 1)); // truncate
    case 6: return concat(b, rng.bytes(1 + rng.int(64))); // extend
    case 7: { // delete a run
      if (!n) return b;
      const at = rng.int(n), len = 1 + rng.int(Math.min(16, n - at));
      return concat(b.subarray(0, at), b.subarray(at + len));
    }
    case 8: { // duplicate a run (nests repeated attributes)
      if (!n) return b;
      const at = rng.int(n), len = 1 + rng.int(Math.min(64, n - at));
      return concat(concat(b.subarray(0, at + len), b.subarray(at, at + len)), b.subarray(at + len));
    }
    case 9: { // splice with another seed
      const o = rng.pick(others).bytes;
      return concat(b.subarray(0, rng.int(n + 1)), o.subarray(rng.int(o.length + 1)));
    }
    case 10: { // insert random bytes at an aligned place (keeps later TLVs aligned)
      const at = rng.int((n >> 2) + 1) << 2;
      return concat(concat(b.subarray(0, at), rng.bytes(4 * (1 + rng.int(4)))), b.subarray(at));
    }
    default: { // zero a run
      if (!n) return b;
      const c = b.slice(); const at = rng.int(n); c.fill(0, at, at + 1 + rng.int(16)); return c;
    }
  }
}

/** A mutated input: 1 to 4 stacked mutations of a seed, or (1 in 16) purely random bytes. */
export function mutate(rng: Rng, seed: Seed, others: readonly Seed[]): Uint8Array {
  if (rng.int(16) === 0) return rng.bytes(rng.int(rng.chance(0.5) ? 64 : 1024));
  let b = seed.bytes;
  const k = 1 + rng.int(4);
  for (let i = 0; i < k; i++) b = step(rng, seed, b, others);
  return b;
}
