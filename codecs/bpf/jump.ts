/**
 * JMP (64-bit compares) and JMP32 (compares of the low 32 bits) instructions. A jump names a
 * label; assemble() turns it into the pc-relative `off` (target - (pc + 1)).
 *
 * Why JMP32 matters: a JMP compare with an immediate sign-extends the s32 imm to 64 bits, so
 * `if r1 == 0xc0a80001` (a value >= 2^31, e.g. an address word) compares against
 * 0xffffffffc0a80001 and never matches a zero-extended 32-bit load. `JEq.imm32` compares w1.
 */
import { BPF_JMP, BPF_JMP32, BPF_K, BPF_X, insn, type Insn, type Reg } from './insn.js';

// operation codes (code & 0xf0), include/uapi/linux/bpf_common.h and bpf.h
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

export interface JumpOp {
  readonly op: number;
  /** `if dst op imm goto label` on 64 bits (imm sign-extended) */
  imm(dst: Reg, value: number, target: string): Insn;
  /** `if wdst op imm goto label` on the low 32 bits */
  imm32(dst: Reg, value: number, target: string): Insn;
  /** `if dst op src goto label` */
  reg(dst: Reg, src: Reg, target: string): Insn;
  /** `if wdst op wsrc goto label` */
  reg32(dst: Reg, src: Reg, target: string): Insn;
}

function jumpOp(op: number): JumpOp {
  return {
    op,
    imm: (dst, value, target) => insn(BPF_JMP | op | BPF_K, dst, 0, 0, value, { target }),
    imm32: (dst, value, target) => insn(BPF_JMP32 | op | BPF_K, dst, 0, 0, value, { target }),
    reg: (dst, src, target) => insn(BPF_JMP | op | BPF_X, dst, src, 0, 0, { target }),
    reg32: (dst, src, target) => insn(BPF_JMP32 | op | BPF_X, dst, src, 0, 0, { target }),
  };
}

export const JEq = jumpOp(BPF_JEQ);
export const JGT = jumpOp(BPF_JGT);
export const JGE = jumpOp(BPF_JGE);
export const JSet = jumpOp(BPF_JSET);
export const JNE = jumpOp(BPF_JNE);
export const JSGT = jumpOp(BPF_JSGT);
export const JSGE = jumpOp(BPF_JSGE);
export const JLT = jumpOp(BPF_JLT);
export const JLE = jumpOp(BPF_JLE);
export const JSLT = jumpOp(BPF_JSLT);
export const JSLE = jumpOp(BPF_JSLE);

/** `goto label` (JMP|JA: the 16-bit off form every kernel has) */
export const ja = (target: string): Insn => insn(BPF_JMP | BPF_JA, 0, 0, 0, 0, { target });
/** `call helper#id`: arguments in R1..R5, result in R0, R1..R5 clobbered */
export const call = (helper: number): Insn => insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper);
/** `exit`: return R0 */
export const exit = (): Insn => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
