/**
 * ALU64 and ALU (32-bit) instructions, cilium/ebpf style: an operation carries one builder per
 * form — `Add.imm(R1, 22)` is `r1 += 22`, `Add.reg32(R1, R2)` is `w1 += w2`. A 32-bit ALU op
 * zero-extends its result into the upper half of the register (the verifier relies on that).
 */
import { BPF_ALU, BPF_ALU64, BPF_K, BPF_X, BPF_TO_BE, BPF_TO_LE, insn, type Insn, type Reg } from './insn.js';

// operation codes (code & 0xf0), include/uapi/linux/bpf_common.h and bpf.h
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

export interface AluOp {
  readonly op: number;
  /** 64-bit `dst op= imm` (imm is sign-extended to 64 bits by the CPU) */
  imm(dst: Reg, value: number): Insn;
  /** 64-bit `dst op= src` */
  reg(dst: Reg, src: Reg): Insn;
  /** 32-bit `wdst op= imm` */
  imm32(dst: Reg, value: number): Insn;
  /** 32-bit `wdst op= wsrc` */
  reg32(dst: Reg, src: Reg): Insn;
}

function aluOp(op: number): AluOp {
  return {
    op,
    imm: (dst, value) => insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, value),
    reg: (dst, src) => insn(BPF_ALU64 | op | BPF_X, dst, src, 0, 0),
    imm32: (dst, value) => insn(BPF_ALU | op | BPF_K, dst, 0, 0, value),
    reg32: (dst, src) => insn(BPF_ALU | op | BPF_X, dst, src, 0, 0),
  };
}

export const Add = aluOp(BPF_ADD);
export const Sub = aluOp(BPF_SUB);
export const Mul = aluOp(BPF_MUL);
export const Div = aluOp(BPF_DIV);
export const Or = aluOp(BPF_OR);
export const And = aluOp(BPF_AND);
export const LSh = aluOp(BPF_LSH);
export const RSh = aluOp(BPF_RSH);
export const Mod = aluOp(BPF_MOD);
export const Xor = aluOp(BPF_XOR);
export const Mov = aluOp(BPF_MOV);
export const ArSh = aluOp(BPF_ARSH);

/** `dst = -dst` (BPF_NEG takes no operand; the K form is the one the kernel accepts) */
export const neg = (dst: Reg): Insn => insn(BPF_ALU64 | BPF_NEG | BPF_K, dst, 0, 0, 0);
export const neg32 = (dst: Reg): Insn => insn(BPF_ALU | BPF_NEG | BPF_K, dst, 0, 0, 0);

export type SwapWidth = 16 | 32 | 64;
/**
 * BPF_END in the ALU class: convert the low `width` bits of dst between host order and big
 * (network) order, zeroing the rest — `be16 r1` is ntohs/htons. On a little-endian host it swaps;
 * on a big-endian one it only truncates. (ALU64|BPF_END is the unconditional bswap of cpu v4.)
 */
export const toBE = (dst: Reg, width: SwapWidth): Insn => insn(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, width);
export const toLE = (dst: Reg, width: SwapWidth): Insn => insn(BPF_ALU | BPF_END | BPF_TO_LE, dst, 0, 0, width);
