/**
 * One eBPF instruction as a plain readonly value, in the shape of cilium/ebpf's `asm.Instruction`:
 * the kernel's `struct bpf_insn` fields (include/uapi/linux/bpf.h) plus what an assembler needs
 * before the program is laid out — a jump's label and a map reference the loader fills with an fd.
 *
 *   struct bpf_insn { __u8 code; __u8 dst_reg:4; __u8 src_reg:4; __s16 off; __s32 imm; };
 *
 * The opcode constants below are the uapi names from include/uapi/linux/bpf_common.h and bpf.h.
 */
import { PktmarkError } from '../errors.js';

// instruction classes (code & 0x07)
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// source operand (code & 0x08): the immediate (K) or the src register (X)
export const BPF_K = 0x00;
export const BPF_X = 0x08;
// BPF_END's "source" bit picks the target byte order instead
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// sizes (code & 0x18) and modes (code & 0xe0) of the load/store classes
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// BPF_ATOMIC operations live in imm; BPF_FETCH asks for the old value back
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// src_reg of BPF_LD_IMM64: what the 64-bit immediate means (bpf.h)
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
// src_reg of BPF_CALL: a bpf-to-bpf call (imm is a pc offset), not a helper id
export const BPF_PSEUDO_CALL = 1;

/** Registers R0..R10. R10 is the read-only frame pointer; R1..R5 are clobbered by a call. */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export const R0: Reg = 0, R1: Reg = 1, R2: Reg = 2, R3: Reg = 3, R4: Reg = 4, R5: Reg = 5;
export const R6: Reg = 6, R7: Reg = 7, R8: Reg = 8, R9: Reg = 9, R10: Reg = 10;
export const RFP: Reg = R10;

/** Access width of a load, store or atomic, by the kernel's size names. */
export type Size = 'B' | 'H' | 'W' | 'DW';
export const SIZE_CODE: Readonly<Record<Size, number>> = { B: BPF_B, H: BPF_H, W: BPF_W, DW: BPF_DW };
export const SIZE_BYTES: Readonly<Record<Size, number>> = { B: 1, H: 2, W: 4, DW: 8 };

/** A map the program refers to before it has an fd; `assemble(…, { maps: { [name]: fd } })` fills it. */
export interface MapRef { readonly name: string }

export interface Insn {
  readonly code: number;
  readonly dst: Reg;
  /** a register, or for LD_IMM64/CALL the pseudo kind (BPF_PSEUDO_MAP_FD = 1, …) */
  readonly src: Reg;
  /** s16: a jump's pc-relative offset or a memory offset */
  readonly off: number;
  /** s32 */
  readonly imm: number;
  /** BPF_LD_IMM64 only: the whole 64-bit value (u64); `imm` is then its low half, signed */
  readonly imm64?: bigint;
  /** a jump to a label, resolved into `off` by assemble() */
  readonly target?: string;
  /** a map load (BPF_PSEUDO_MAP_FD/VALUE) whose fd assemble() puts into imm */
  readonly map?: MapRef;
}

/** A jump target inside a program's item list; takes no slot. */
export interface Label { readonly label: string }
export type Item = Insn | Label;

export const label = (name: string): Label => ({ label: name });
export const isLabel = (i: Item): i is Label => (i as Label).label !== undefined;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;

/** LD_IMM64 occupies two 8-byte slots: its second slot carries imm's high half. */
export const isLoadImm64 = (code: number): boolean => code === (BPF_LD | BPF_DW | BPF_IMM);
export const slotsOf = (i: Insn): number => (isLoadImm64(i.code) ? 2 : 1);

/** Builds one instruction; off/imm are normalised to s16/s32 so equal programs are equal values. */
export function insn(code: number, dst: Reg, src: Reg, off: number, imm: number, extra: Pick<Insn, 'target' | 'map' | 'imm64'> = {}): Insn {
  if (!Number.isInteger(off) || off < -0x8000 || off > 0x7fff) {
    throw new PktmarkError('ENCODE', `bpf: offset ${off} does not fit the instruction's 16-bit off field`, { field: 'off' });
  }
  // an immediate may be given as s32 or u32 (0xffffffff and -1 are the same 32 bits)
  if (!Number.isInteger(imm) || imm < -0x80000000 || imm > 0xffffffff) {
    throw new PktmarkError('ENCODE', `bpf: immediate ${imm} does not fit 32 bits`, { field: 'imm' });
  }
  const i: { -readonly [K in keyof Insn]: Insn[K] } = { code, dst, src, off: (off << 16) >> 16, imm: imm | 0 };
  if (extra.imm64 !== undefined) i.imm64 = extra.imm64;
  if (extra.target !== undefined) i.target = extra.target;
  if (extra.map !== undefined) i.map = extra.map;
  return i;
}
