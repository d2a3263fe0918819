/**
 * Which other software uses the bits a mark rule changes. Marks are shared by everything on a
 * host (CNIs, meshes, VPNs), and a later writer silently overrides an earlier one; this tells a
 * user before that happens. Informative only: pktmark never refuses a mark because of it.
 */
import { REGISTRY, REGISTRY_ATTRIBUTION, type RegistryEntry } from './data.js';

export { REGISTRY, REGISTRY_ATTRIBUTION };

export interface MarkConflict {
  readonly software: string;
  /** `bits`: it owns some of the bits this mark changes; `value`: it uses this very mark value */
  readonly kind: 'bits' | 'value';
  /** the overlapping bits (kind `bits`) or the whole value (kind `value`) */
  readonly bits: number;
  readonly detail: string;
  readonly inRegistry: boolean;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const leadingHex = (s: string): number | undefined => {
  const m = /^\s*0x([0-9a-f]{1,8})\b/i.exec(s);
  return m ? parseInt(m[1], 16) : undefined;
};

function valueClash(e: RegistryEntry, mark: number, mask: number): MarkConflict | undefined {
  for (const v of e.values) {
    const n = leadingHex(v.value);
    if (n === undefined) continue;
    if (v.mask) {
      // a value under a mask is a claim on those bits: any overlap with the bits we change counts
      const overlap = ((leadingHex(v.mask) ?? 0) & mask) >>> 0;
      if (overlap) return { software: e.software, kind: 'bits', bits: overlap, detail: `uses ${v.value} under mask ${v.mask}: ${v.meaning}`, inRegistry: e.inRegistry };
      continue;
    }
    // a whole-mark value collides only with a rule that sets the whole mark
    if (mask !== 0xffffffff) continue;
    if (mark === n || (/and up/i.test(v.value) && mark >= n)) {
      return { software: e.software, kind: 'value', bits: mark, detail: `uses ${/and up/i.test(v.value) ? v.value : hex(n)}: ${v.meaning}`, inRegistry: e.inRegistry };
    }
  }
  return undefined;
}

/** Known users whose bits overlap the bits this rule changes (`mask`), or who use this very value. */
export function markConflicts(mark: number, mask = 0xffffffff): MarkConflict[] {
  const out: MarkConflict[] = [];
  // bits the rule changes: the mask, and for an xor rule also the value's bits outside it
  const changed = (mask | mark) >>> 0;
  for (const e of REGISTRY) {
    if (e.style === 'bitwise' && e.mask) {
      const overlap = ((leadingHex(e.mask) ?? 0) & changed) >>> 0;
      if (overlap) {
        out.push({ software: e.software, kind: 'bits', bits: overlap, detail: `owns bits ${e.bits ?? e.mask} (${e.mask}); overlap ${hex(overlap)}: ${e.purpose}`, inRegistry: e.inRegistry });
        continue;
      }
    }
    const v = valueClash(e, mark >>> 0, changed);
    if (v) out.push(v);
  }
  return out;
}
