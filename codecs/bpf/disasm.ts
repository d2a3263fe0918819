/**
 * Bytes → instructions (decodeInsns) and instructions → the kernel's own text (disassemble),
 * line for line what kernel/bpf/disasm.c print_bpf_insn() writes into the verifier log and what
 * `bpftool prog dump xlated` shows, e.g. `1: (61) r2 = *(u32 *)(r1 +8)`.
 *
 * Map loads: before loading, the imm of a BPF_PSEUDO_MAP_FD load is an fd, so it prints as
 * `map[fd:N]` (bpftool's form for a loaded program is `map[id:N]`, the kernel's own log prints
 * the rewritten address); a BPF_PSEUDO_MAP_VALUE load prints `map[fd:N][0]+OFF`, as bpftool does.
 *
 * The decoder accepts the instructions pktmark's builders can express (every ALU/ALU64 op, the
 * JMP/JMP32 compares, ja, call, exit, LDX/ST/STX memory, the atomics, LD_IMM64 and the legacy
 * LD_ABS/IND) and refuses anything else with a DECODE error at its byte offset.
 */
import { decodeError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CMPXCHG, BPF_DW, BPF_FETCH, BPF_IND, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX,
  BPF_MEM, BPF_MEMSX, BPF_PSEUDO_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_ST, BPF_STX, BPF_TO_BE, BPF_W, BPF_X,
  BPF_XCHG, bpfClass, bpfMode, bpfOp, bpfSize, bpfSrc, insn, isLoadImm64, slotsOf, type Insn, type Item, type Reg,
} from './insn.js';
import { BPF_DIV, BPF_END, BPF_MOD, BPF_MOV, BPF_NEG } from './alu.js';
import { BPF_CALL, BPF_EXIT, BPF_JA } from './jump.js';
import { ATOMIC_IMMS } from './load-store.js';
import { helperName } from './helpers.js';
import { resolve, type AssembleOptions } from './asm.js';

const ALU_STR = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
const JMP_STR = ['jmp', '==', '>', '>=', '&', '!=', 's>', 's>=', 'call', 'exit', '<', '<=', 's<', 's<='];
const ATOMIC_STR: Record<number, string> = { 0x00: 'add', 0x50: 'and', 0x40: 'or', 0xa0: 'xor' };
const LDST = (code: number): string => ({ [BPF_W]: 'u32', 0x08: 'u16', 0x10: 'u8', [BPF_DW]: 'u64' })[bpfSize(code)]!;
const LDSX = (code: number): string => ({ [BPF_W]: 's32', 0x08: 's16', 0x10: 's8' })[bpfSize(code)]!;
/** C's "%+d" */
const sgn = (n: number): string => (n < 0 ? `${n}` : `+${n}`);

/** Why an instruction is not one pktmark decodes, or undefined when it is. */
function refusal(i: Insn, hasNext: boolean): string | undefined {
  const cls = bpfClass(i.code), op = bpfOp(i.code), x = bpfSrc(i.code) === BPF_X;
  switch (cls) {
    case BPF_ALU: case BPF_ALU64:
      if (op > BPF_END) return 'unknown ALU operation';
      if (op === BPF_END) return (cls === BPF_ALU64 && x) || ![16, 32, 64].includes(i.imm) || i.off !== 0 ? 'invalid byte swap' : undefined;
      if (op === BPF_NEG) return x || i.off !== 0 || i.imm !== 0 ? 'reserved fields of neg are set' : undefined;
      if (op === BPF_DIV || op === BPF_MOD) return i.off === 0 || i.off === 1 ? undefined : 'invalid signed-division offset';
      if (op === BPF_MOV && x) return [0, 8, 16].includes(i.off) || (cls === BPF_ALU64 && i.off === 32) ? undefined : 'invalid mov offset';
      return i.off !== 0 ? 'reserved off of an ALU instruction is set' : undefined;
    case BPF_JMP: case BPF_JMP32:
      if (op === BPF_CALL) return cls === BPF_JMP && !x && i.src <= 2 ? undefined : 'invalid call';
      if (op === BPF_EXIT) return cls === BPF_JMP && !x ? undefined : 'invalid exit';
      if (op === BPF_JA) return x ? 'indirect jump' : undefined;
      return op > 0xd0 ? 'unknown jump operation' : undefined;
    case BPF_LDX:
      if (bpfMode(i.code) === BPF_MEM) return undefined;
      return bpfMode(i.code) === BPF_MEMSX && bpfSize(i.code) !== BPF_DW ? undefined : 'unknown LDX mode';
    case BPF_ST: return bpfMode(i.code) === BPF_MEM ? undefined : 'unknown ST mode';
    case BPF_STX:
      if (bpfMode(i.code) === BPF_MEM) return undefined;
      if (bpfMode(i.code) !== BPF_ATOMIC) return 'unknown STX mode';
      return (bpfSize(i.code) === BPF_W || bpfSize(i.code) === BPF_DW) && ATOMIC_IMMS.includes(i.imm) ? undefined : 'unknown atomic operation';
    default: // BPF_LD
      if (isLoadImm64(i.code)) return !hasNext ? 'LD_IMM64 without its second slot' : i.src > BPF_PSEUDO_MAP_VALUE ? 'unsupported LD_IMM64 pseudo source' : undefined;
      return (bpfMode(i.code) === BPF_ABS || bpfMode(i.code) === BPF_IND) && bpfSize(i.code) !== BPF_DW ? undefined : 'unknown LD mode';
  }
}

/** Bytes → instructions. Never reads past the buffer; every malformed input is a DECODE PktmarkError. */
export function decodeInsns(bytes: Uint8Array): Insn[] {
  if (bytes.length % 8 !== 0) throw decodeError(`bpf: ${bytes.length % 8} trailing bytes are not a whole instruction`, bytes.length - (bytes.length % 8));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let p = 0; p < bytes.length;) {
    const code = view.getUint8(p), regs = view.getUint8(p + 1);
    const dst = HOST_LITTLE_ENDIAN ? regs & 0x0f : regs >> 4, src = HOST_LITTLE_ENDIAN ? regs >> 4 : regs & 0x0f;
    if (dst > 10 || src > 10) throw decodeError(`bpf: register r${Math.max(dst, src)} does not exist`, p + 1);
    const off = view.getInt16(p + 2, HOST_LITTLE_ENDIAN), imm = view.getInt32(p + 4, HOST_LITTLE_ENDIAN);
    let i = insn(code, dst as Reg, src as Reg, off, imm);
    const why = refusal(i, p + 16 <= bytes.length);
    if (why !== undefined) throw decodeError(`bpf: ${why} (code 0x${code.toString(16).padStart(2, '0')})`, p);
    if (isLoadImm64(code)) {
      const q = p + 8;
      if (view.getUint8(q) !== 0 || view.getUint8(q + 1) !== 0 || view.getInt16(q + 2, HOST_LITTLE_ENDIAN) !== 0) {
        throw decodeError('bpf: second slot of LD_IMM64 must have code, registers and off zero', q);
      }
      const imm64 = (BigInt(view.getUint32(q + 4, HOST_LITTLE_ENDIAN)) << 32n) | BigInt(imm >>> 0);
      i = insn(code, dst as Reg, src as Reg, off, imm, { imm64 });
    }
    out.push(i);
    p += slotsOf(i) * 8;
  }
  return out;
}

function imm64Text(i: Insn): string {
  const v = BigInt.asUintN(64, i.imm64 ?? BigInt(i.imm >>> 0));
  if (i.src === BPF_PSEUDO_MAP_FD) return `map[fd:${i.imm}]`;
  if (i.src === BPF_PSEUDO_MAP_VALUE) return `map[fd:${i.imm}][0]+${Number(v >> 32n)}`;
  return `0x${v.toString(16)}`;
}

/** One instruction in print_bpf_insn()'s words, without the `pc: ` prefix. */
export function formatInsn(i: Insn): string {
  const code = `(${i.code.toString(16).padStart(2, '0')})`;
  const cls = bpfClass(i.code), op = bpfOp(i.code), x = bpfSrc(i.code) === BPF_X;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const w = cls === BPF_ALU ? 'w' : 'r';
    if (op === BPF_END) {
      return cls === BPF_ALU64 ? `${code} r${i.dst} = bswap${i.imm} r${i.dst}` : `${code} r${i.dst} = ${bpfSrc(i.code) === BPF_TO_BE ? 'be' : 'le'}${i.imm} r${i.dst}`;
    }
    if (op === BPF_NEG) return `${code} ${w}${i.dst} = -${w}${i.dst}`;
    const sdiv = (op === BPF_DIV || op === BPF_MOD) && i.off === 1;
    const opText = sdiv ? (op === BPF_DIV ? 's/=' : 's%=') : ALU_STR[op >> 4];
    if (x) {
      const movsx = op === BPF_MOV && [8, 16, 32].includes(i.off) ? `(s${i.off})` : '';
      return `${code} ${w}${i.dst} ${opText} ${movsx}${w}${i.src}`;
    }
    return `${code} ${w}${i.dst} ${opText} ${i.imm}`;
  }
  if (cls === BPF_STX) {
    const sz = LDST(i.code), mem = `(r${i.dst} ${sgn(i.off)})`;
    if (bpfMode(i.code) === BPF_MEM) return `${code} *(${sz} *)${mem} = r${i.src}`;
    const a64 = bpfSize(i.code) === BPF_DW ? '64' : '';
    if (i.imm === BPF_CMPXCHG) return `${code} r0 = atomic${a64}_cmpxchg((${sz} *)${mem}, r0, r${i.src})`;
    if (i.imm === BPF_XCHG) return `${code} r${i.src} = atomic${a64}_xchg((${sz} *)${mem}, r${i.src})`;
    if (i.imm & BPF_FETCH) return `${code} r${i.src} = atomic${a64}_fetch_${ATOMIC_STR[i.imm & 0xf0]}((${sz} *)${mem}, r${i.src})`;
    return `${code} lock *(${sz} *)${mem} ${ALU_STR[i.imm >> 4]} r${i.src}`;
  }
  if (cls === BPF_ST) return `${code} *(${LDST(i.code)} *)(r${i.dst} ${sgn(i.off)}) = ${i.imm}`;
  if (cls === BPF_LDX) return `${code} r${i.dst} = *(${bpfMode(i.code) === BPF_MEM ? LDST(i.code) : LDSX(i.code)} *)(r${i.src} ${sgn(i.off)})`;
  if (cls === BPF_LD) {
    if (bpfMode(i.code) === BPF_ABS) return `${code} r0 = *(${LDST(i.code)} *)skb[${i.imm}]`;
    if (bpfMode(i.code) === BPF_IND) return `${code} r0 = *(${LDST(i.code)} *)skb[r${i.src} + ${i.imm}]`;
    return `${code} r${i.dst} = ${imm64Text(i)}`;
  }
  // BPF_JMP, BPF_JMP32
  if (op === BPF_CALL) {
    if (i.src === BPF_PSEUDO_CALL) return `${code} call pc${sgn(i.imm)}`;
    const name = i.src === 0 ? (helperName(i.imm) ?? 'unknown') : 'kernel-function';
    return `${code} call ${name}#${i.imm}`;
  }
  if (op === BPF_EXIT) return `${code} exit`;
  if (op === BPF_JA) return cls === BPF_JMP ? `${code} goto pc${sgn(i.off)}` : `${code} gotol pc${sgn(i.imm)}`;
  const w = cls === BPF_JMP32 ? 'w' : 'r';
  const rhs = x ? `${w}${i.src}` : `0x${(i.imm >>> 0).toString(16)}`;
  return `${code} if ${w}${i.dst} ${JMP_STR[op >> 4]} ${rhs} goto pc${sgn(i.off)}`;
}

/** `pc: (code) text` lines, numbered by slot as the verifier numbers them (LD_IMM64 counts 2). */
export function disassemble(program: Uint8Array | readonly Item[], opts: AssembleOptions = {}): string[] {
  const insns = program instanceof Uint8Array ? decodeInsns(program) : resolve(program, opts);
  const lines: string[] = [];
  let pc = 0;
  for (const i of insns) {
    lines.push(`${pc}: ${formatInsn(i)}`);
    pc += slotsOf(i);
  }
  return lines;
}
