/**
 * What a matching rule does, shared by all program types: find its config value, run the token
 * bucket, count, and compute the mark. Register use: R6 = context (callee-saved, survives calls),
 * R7 = the rule's config value, R8 = now (ns). R1..R5 are scratch and clobbered by every call.
 */
import { Add, Mov, Sub, Xor, And, Or } from '../alu.js';
import { JEq, JGE, JGT, ja, call } from '../jump.js';
import { label, R0, R1, R2, R3, R4, R7, R8, RFP, type Item, type MapRef, type Reg } from '../insn.js';
import { AtomicAdd, CmpXchg, loadMapPtr, loadMem, storeImm, storeMem } from '../load-store.js';
import { BPF_FUNC_ktime_get_ns, BPF_FUNC_map_lookup_elem } from '../helpers.js';
import { CFG } from './config.js';
import { FP } from './parse.js';

/** cmpxchg attempts on `tat` before a contended packet is treated as over the rate (bounded: no loops) */
export const BUCKET_RETRIES = 3;

/**
 * R7 = &config[slot], or jump to `miss`. An array lookup with a constant key is inlined by the
 * verifier (array_map_gen_lookup), but its result may still be NULL as far as the verifier knows,
 * so the 64-bit null check is required.
 */
export function lookupSlot(map: MapRef, slot: number, miss: string): Item[] {
  return [
    storeImm(RFP, FP.key, slot, 'W'),
    loadMapPtr(R1, map),
    Mov.reg(R2, RFP),
    Add.imm(R2, FP.key),
    call(BPF_FUNC_map_lookup_elem),
    JEq.imm(R0, 0, miss),
    Mov.reg(R7, R0),
  ];
}

/**
 * GCRA (the virtual-scheduling form of a token bucket) on the value's `tat`, with T and tau
 * precomputed in the value: a packet conforms when max(tat, now) - now <= tau, and then moves
 * tat to max(tat, now) + T. tat starts at 0, so the bucket starts full and `burst` packets pass
 * at once, as with nft `limit`. The update is a compare-and-exchange so that CPUs racing on
 * the same rule cannot both spend the last token; after BUCKET_RETRIES lost races the packet is
 * treated as over the rate. A packet over the rate jumps to `miss` (not marked, not counted).
 */
export function tokenBucket(miss: string, id: string): Item[] {
  const ok = `${id}_conform`;
  const out: Item[] = [call(BPF_FUNC_ktime_get_ns), Mov.reg(R8, R0)];
  for (let a = 0; a < BUCKET_RETRIES; a++) {
    const later = `${id}_max${a}`;
    out.push(
      loadMem(R1, R7, CFG.tat, 'DW'), // expected old tat
      Mov.reg(R2, R1),
      JGE.reg(R2, R8, later),
      Mov.reg(R2, R8), // r2 = max(tat, now)
      label(later),
      Mov.reg(R3, R2),
      Sub.reg(R3, R8),
      loadMem(R4, R7, CFG.tauNs, 'DW'),
      JGT.reg(R3, R4, miss), // too early: over the rate
      loadMem(R4, R7, CFG.intervalNs, 'DW'),
      Add.reg(R2, R4), // new tat
      Mov.reg(R0, R1),
      CmpXchg.mem(R7, CFG.tat, R2, 'DW'),
      JEq.reg(R0, R1, ok),
    );
  }
  out.push(ja(miss), label(ok));
  return out;
}

/** packets += 1, and bytes += `len` when given (a register holding the length) */
export function count(len?: Reg): Item[] {
  const out: Item[] = [Mov.imm(R1, 1), AtomicAdd.mem(R7, CFG.packets, R1, 'DW')];
  if (len !== undefined) out.push(AtomicAdd.mem(R7, CFG.bytes, len, 'DW'));
  return out;
}

/** `*(u32 *)(base + off) = (old & ~mask) ^ mark`, mark and mask read from the config value */
export function applyMark(base: Reg, off: number): Item[] {
  return [
    loadMem(R1, R7, CFG.mark, 'W'),
    loadMem(R2, R7, CFG.mask, 'W'),
    loadMem(R3, base, off, 'W'),
    Xor.imm32(R2, -1),
    And.reg32(R3, R2),
    Xor.reg32(R3, R1),
    storeMem(base, off, R3, 'W'),
  ];
}

/**
 * XDP: fold this rule's (V2, M2) into the stack accumulator (V1, M1). Applying (V1, M1) and then
 * (V2, M2) to a mark x is (x & ~(M1|M2)) ^ ((V1 & ~M2) ^ V2), so the composition is
 * mask M1|M2 and value (V1 & ~M2) ^ V2.
 */
export function composeMark(): Item[] {
  return [
    loadMem(R1, R7, CFG.mark, 'W'),
    loadMem(R2, R7, CFG.mask, 'W'),
    loadMem(R3, RFP, FP.accValue, 'W'),
    Mov.reg32(R4, R2),
    Xor.imm32(R4, -1),
    And.reg32(R3, R4),
    Xor.reg32(R3, R1),
    storeMem(RFP, FP.accValue, R3, 'W'),
    loadMem(R3, RFP, FP.accMask, 'W'),
    Or.reg32(R3, R2),
    storeMem(RFP, FP.accMask, R3, 'W'),
    storeImm(RFP, FP.matched, 1, 'W'),
  ];
}
