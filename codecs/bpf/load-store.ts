/**
 * LDX/ST/STX memory access, BPF_LD_IMM64 (plain and map pseudo loads) and BPF_ATOMIC.
 * Argument order follows the C it reads like: loadMem(dst, src, off) is `dst = *(src + off)`,
 * storeMem(dst, off, src) is `*(dst + off) = src`.
 */
import { PktmarkError } from '../errors.js';
import {
  BPF_ATOMIC, BPF_CMPXCHG, BPF_DW, BPF_FETCH, BPF_IMM, BPF_LD, BPF_LDX, BPF_MEM, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  BPF_ST, BPF_STX, BPF_XCHG, SIZE_CODE, insn, type Insn, type MapRef, type Reg, type Size,
} from './insn.js';
import { BPF_ADD, BPF_AND, BPF_OR, BPF_XOR } from './alu.js';

/** `dst = *(size *)(src + off)`, zero-extended */
export const loadMem = (dst: Reg, src: Reg, off: number, size: Size): Insn => insn(BPF_LDX | BPF_MEM | SIZE_CODE[size], dst, src, off, 0);
/** `*(size *)(dst + off) = src` */
export const storeMem = (dst: Reg, off: number, src: Reg, size: Size): Insn => insn(BPF_STX | BPF_MEM | SIZE_CODE[size], dst, src, off, 0);
/** `*(size *)(dst + off) = imm` (a DW store sign-extends the s32 imm) */
export const storeImm = (dst: Reg, off: number, value: number, size: Size): Insn => insn(BPF_ST | BPF_MEM | SIZE_CODE[size], dst, 0, off, value);

const LD_IMM64 = BPF_LD | BPF_DW | BPF_IMM;
const low32 = (v: bigint): number => Number(BigInt.asIntN(32, v));

/** `dst = imm64`: two slots, the second holding the high 32 bits */
export function loadImm64(dst: Reg, value: bigint | number): Insn {
  const v = BigInt.asUintN(64, BigInt(value));
  return insn(LD_IMM64, dst, 0, 0, low32(v), { imm64: v });
}

/**
 * `dst = map` (BPF_PSEUDO_MAP_FD): imm carries the map's fd; the verifier replaces it with the
 * map's address. Until assemble() resolves `map`, imm is the dry-run placeholder fd (see asm.ts).
 */
export const loadMapPtr = (dst: Reg, map: MapRef): Insn => insn(LD_IMM64, dst, BPF_PSEUDO_MAP_FD, 0, 0, { imm64: 0n, map });

/** `dst = &map.value[0] + offset` (BPF_PSEUDO_MAP_VALUE, array maps): the second slot's imm is the offset */
export function loadMapValue(dst: Reg, map: MapRef, offset: number): Insn {
  if (!Number.isInteger(offset) || offset < 0 || offset > 0xffffffff) throw new PktmarkError('ENCODE', `bpf: map value offset ${offset} is not a u32`, { field: 'offset' });
  return insn(LD_IMM64, dst, BPF_PSEUDO_MAP_VALUE, 0, 0, { imm64: BigInt(offset) << 32n, map });
}

/**
 * BPF_ATOMIC operations (imm field), only W and DW (the kernel has no 8/16-bit read-modify-write).
 * Plain add/or/and/xor update memory; the FETCH forms also put the old value into src;
 * xchg swaps src with memory; cmpxchg compares R0 with memory, stores src on a match, and
 * always leaves the old value in R0.
 */
export interface AtomicOp {
  readonly imm: number;
  /** `lock *(size *)(dst + off) op= src` (or its fetch/xchg/cmpxchg form) */
  mem(dst: Reg, off: number, src: Reg, size: 'W' | 'DW'): Insn;
}
function atomicOp(imm: number): AtomicOp {
  return { imm, mem: (dst, off, src, size) => insn(BPF_STX | BPF_ATOMIC | SIZE_CODE[size], dst, src, off, imm) };
}
export const AtomicAdd = atomicOp(BPF_ADD);
export const AtomicOr = atomicOp(BPF_OR);
export const AtomicAnd = atomicOp(BPF_AND);
export const AtomicXor = atomicOp(BPF_XOR);
export const FetchAdd = atomicOp(BPF_ADD | BPF_FETCH);
export const FetchOr = atomicOp(BPF_OR | BPF_FETCH);
export const FetchAnd = atomicOp(BPF_AND | BPF_FETCH);
export const FetchXor = atomicOp(BPF_XOR | BPF_FETCH);
export const Xchg = atomicOp(BPF_XCHG);
export const CmpXchg = atomicOp(BPF_CMPXCHG);

/** the atomic imm values the disassembler and decoder know */
export const ATOMIC_IMMS: readonly number[] = [AtomicAdd, AtomicOr, AtomicAnd, AtomicXor, FetchAdd, FetchOr, FetchAnd, FetchXor, Xchg, CmpXchg].map((o) => o.imm);
