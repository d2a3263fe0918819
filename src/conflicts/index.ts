/**
 * `conflicts()`: a live scan of every mark user in a namespace (src/conflicts/*), plus the
 * fwmark registry's view of a mark. The same scan backs `add`'s warning, `--strict` and `--mark auto`.
 */
import { Marker, type MarkerOptions } from '../marker.js';
import type { ConflictReport, ScanOptions } from './scan.js';

export type { ConflictReport, RegistryHalf, ScanOptions } from './scan.js';
export type { MarkAction, MarkUser, Unreadable, ProcReader } from './types.js';
export { SCANNERS, SCAN_SOURCES, type ScanSource } from './scanners.js';
export { busyBits, caredBits, liveOverlaps, pickAutoMark, autoMask, DEFAULT_AUTO_MASK, type AutoChoice } from './auto.js';
export { checkAdd, type AddCheck } from './add-check.js';

/** Open a Marker on `opts.netns`, scan, close. */
export async function conflicts(opts: MarkerOptions & ScanOptions & { mark?: number | string } = {}): Promise<ConflictReport> {
  const m = await Marker.open(opts);
  try { return await m.conflicts(opts); } finally { await m.close(); }
}
