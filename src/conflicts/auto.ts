/**
 * From a scan to a decision: which bits each live user cares about, whether a new mark collides
 * with one (add's warning, --strict's MARK_CONFLICT), and `--mark auto[/MASK]`'s pick of a free bit.
 */
import { PktmarkError } from '../errors.js';
import { markConflicts } from '../registry/index.js';
import { hex } from './nft-rule.js';
import type { MarkUser } from './types.js';

const ALL = 0xffffffff;
/** `--mark auto` without a mask may take any bit; the registry's least-used one wins */
export const DEFAULT_AUTO_MASK = ALL;

/**
 * The bits a user would notice being changed: the bits it masks, sets, matches or restores;
 * for a whole-value write or compare, the bits of its values (all 32 when they are unknown,
 * except for pktmark's own programs, whose marks `pktmark list` shows). A save copies the
 * packet's bits into the connection's without judging them, so it blocks nothing by itself.
 */
export function caredBits(u: MarkUser): number {
  if (u.action === 'saves') return 0;
  if (u.whole) {
    if (u.values?.length) return u.values.reduce((a, v) => (a | v) >>> 0, 0);
    return u.owner === 'pktmark' ? 0 : ALL;
  }
  return u.bits >>> 0;
}

/** Every bit some live user cares about. */
export const busyBits = (users: readonly MarkUser[]): number => users.reduce((a, u) => (a | caredBits(u)) >>> 0, 0);

/** Live users other than pktmark whose cared-about bits overlap the bits a `mark/mask` rule changes. */
export function liveOverlaps(users: readonly MarkUser[], mark: number, mask: number): MarkUser[] {
  const changed = (mask | mark) >>> 0;
  return users.filter((u) => u.owner !== 'pktmark' && (caredBits(u) & changed) !== 0);
}

export function describeUser(u: MarkUser): string {
  return `${u.owner} ${u.action} ${u.on === 'conntrack' ? 'ct mark ' : ''}bits ${hex(u.bits)}${u.values?.length ? ` (values ${u.values.map(hex).join(', ')})` : ''} — ${u.detail}`;
}

export function conflictError(users: readonly MarkUser[], mark: number, mask: number, field = 'mark'): PktmarkError {
  return new PktmarkError('MARK_CONFLICT', `mark ${hex(mark)}/${hex(mask)} overlaps bits live users rely on: ${users.map(describeUser).join('; ')}`, {
    field, hint: 'pick other bits (pktmark conflicts lists who uses which), or --mark auto',
  });
}

/** `auto` or `auto/MASK` → the mask to pick within; undefined for any other mark. */
export function autoMask(mark: unknown): number | undefined {
  if (typeof mark !== 'string') return undefined;
  const m = /^auto(?:\/(0x[0-9a-f]{1,8}|\d{1,10}))?$/i.exec(mark.trim());
  if (!m) return undefined;
  if (m[1] === undefined) return DEFAULT_AUTO_MASK;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n <= 0 || n > ALL) throw new PktmarkError('INVALID_MASK', `auto mask ${m[1]} must be 1…0xffffffff`, { field: 'mark' });
  return n >>> 0;
}
export const isAutoMark = (mark: unknown): boolean => typeof mark === 'string' && /^auto\b/i.test(mark.trim());

export interface AutoChoice {
  readonly mark: number;
  readonly mask: number;
  /** in words: which bit, that no live user touches it, and how many registry entries name it */
  readonly why: string;
}

/**
 * One free bit within `within`: not cared about by any live user (nor by `taken`, the picks of
 * earlier rules of the same add), and used by the fewest registry entries; ties go to the
 * highest bit. NO_FREE_MARK when none is left.
 */
export function pickAutoMark(users: readonly MarkUser[], within = DEFAULT_AUTO_MASK, taken = 0): AutoChoice {
  const busy = (busyBits(users) | taken) >>> 0;
  let best: { bit: number; names: string[] } | undefined;
  for (let b = 31; b >= 0; b--) {
    const bit = (1 << b) >>> 0;
    if (!(within & bit) || (busy & bit)) continue;
    const names = markConflicts(bit, bit).map((c) => c.software);
    if (!best || names.length < best.names.length) best = { bit, names };
  }
  if (!best) {
    throw new PktmarkError('NO_FREE_MARK', `every bit of ${hex(within)} is used by a live user in this namespace (busy ${hex(busy)})`, {
      field: 'mark', hint: 'widen the auto mask, or see pktmark conflicts for who uses which bits',
    });
  }
  const reg = best.names.length ? `the registry names ${best.names.length} user${best.names.length > 1 ? 's' : ''} of it (${best.names.join(', ')}), the fewest of the free bits` : 'no registry entry uses it';
  return { mark: best.bit, mask: best.bit, why: `bit ${Math.log2(best.bit)} (${hex(best.bit)}) within ${hex(within)}: no live user touches it (busy ${hex(busy)}); ${reg}` };
}
