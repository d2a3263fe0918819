/**
 * assemble(): a list of instructions and labels → the kernel's 8-byte `struct bpf_insn` slots.
 *
 * - A jump's label becomes its pc-relative offset, `off = target - (pc + 1)`, counted in slots:
 *   BPF_LD_IMM64 takes two, so a label after one is two further on.
 * - `off` is 16 bits: a jump further than ±32767 slots cannot be encoded (`BPF_TOO_LARGE`,
 *   naming the jump) — that is what makes a rule set too large for one program.
 * - Map references get their fd from `maps`. Without `maps` (dry run, golden tests, `explain`)
 *   every map load gets MAP_FD_PLACEHOLDER = 0: fd 0 is stdin in every process and never a map,
 *   so bytes that escape a dry run fail BPF_PROG_LOAD with EINVAL instead of binding some other
 *   map; the disassembler prints it as `map[fd:0]`.
 * - Byte order: off and imm are host order; the register byte is dst in the low nibble and src in
 *   the high nibble on little-endian hosts, swapped on big-endian ones (the C bitfield layout).
 * Output depends only on the input: same items and options, same bytes.
 */
import { PktmarkError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from '../netlink/struct.js';
import { BPF_PSEUDO_MAP_VALUE, insn, isLabel, isLoadImm64, slotsOf, type Insn, type Item } from './insn.js';

export const MAP_FD_PLACEHOLDER = 0;
/** the kernel's per-program limit for loaders without CAP_BPF (include/linux/bpf.h BPF_MAXINSNS) */
export const BPF_MAXINSNS = 4096;
/** the limit with CAP_BPF / CAP_SYS_ADMIN (BPF_COMPLEXITY_LIMIT_INSNS), pktmark's default */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

export interface AssembleOptions {
  /** map name (MapRef.name) → fd; when given, every referenced map must be in it */
  readonly maps?: Readonly<Record<string, number>>;
  /** largest program in slots (default BPF_COMPLEXITY_LIMIT_INSNS) */
  readonly maxInsns?: number;
}

/** Labels and map references resolved: plain instructions, exactly what decodeInsns() returns for the bytes. */
export function resolve(items: readonly Item[], opts: AssembleOptions = {}): Insn[] {
  const labels = new Map<string, number>();
  let pc = 0;
  for (const it of items) {
    if (isLabel(it)) {
      if (labels.has(it.label)) throw new PktmarkError('ENCODE', `bpf: label '${it.label}' is defined twice`, { field: it.label });
      labels.set(it.label, pc);
    } else pc += slotsOf(it);
  }
  const total = pc;
  const max = opts.maxInsns ?? BPF_COMPLEXITY_LIMIT_INSNS;
  if (total > max) throw new PktmarkError('BPF_TOO_LARGE', `bpf: program has ${total} instructions, the limit is ${max}`);

  const out: Insn[] = [];
  pc = 0;
  for (const it of items) {
    if (isLabel(it)) continue;
    let { off, imm, imm64 } = it;
    if (it.target !== undefined) {
      const at = labels.get(it.target);
      if (at === undefined) throw new PktmarkError('ENCODE', `bpf: jump at pc ${pc} to unknown label '${it.target}'`, { field: it.target });
      if (at >= total) throw new PktmarkError('ENCODE', `bpf: label '${it.target}' is after the last instruction (jump at pc ${pc})`, { field: it.target });
      off = at - (pc + 1);
      if (off < -0x8000 || off > 0x7fff) {
        throw new PktmarkError('BPF_TOO_LARGE', `bpf: jump at pc ${pc} to '${it.target}' needs offset ${off}, beyond the 16-bit range ±32767`, {
          field: it.target, hint: 'split the rules over more than one program',
        });
      }
    }
    if (it.map !== undefined) {
      let fd = MAP_FD_PLACEHOLDER;
      if (opts.maps !== undefined) {
        const v = opts.maps[it.map.name];
        if (v === undefined) throw new PktmarkError('ENCODE', `bpf: no fd given for map '${it.map.name}'`, { field: it.map.name });
        fd = v;
      }
      imm = fd;
      const high = it.src === BPF_PSEUDO_MAP_VALUE ? BigInt.asUintN(64, imm64 ?? 0n) >> 32n : 0n;
      imm64 = (high << 32n) | BigInt(fd >>> 0);
    }
    out.push(insn(it.code, it.dst, it.src, off, imm, imm64 === undefined ? {} : { imm64 }));
    pc += slotsOf(it);
  }
  return out;
}

/** Instructions (already resolved) → bytes. */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  let slots = 0;
  for (const i of insns) slots += slotsOf(i);
  const bytes = new Uint8Array(slots * 8);
  const view = new DataView(bytes.buffer);
  let p = 0;
  const put = (code: number, dst: number, src: number, off: number, imm: number): void => {
    view.setUint8(p, code);
    view.setUint8(p + 1, HOST_LITTLE_ENDIAN ? (src << 4) | dst : (dst << 4) | src);
    view.setInt16(p + 2, off, HOST_LITTLE_ENDIAN);
    view.setInt32(p + 4, imm, HOST_LITTLE_ENDIAN);
    p += 8;
  };
  for (const i of insns) {
    if (i.target !== undefined || i.map !== undefined) throw new PktmarkError('ENCODE', 'bpf: encodeInsns() needs resolved instructions; use assemble()');
    if (isLoadImm64(i.code)) {
      const v = BigInt.asUintN(64, i.imm64 ?? BigInt(i.imm >>> 0));
      put(i.code, i.dst, i.src, i.off, Number(BigInt.asIntN(32, v)));
      put(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)));
    } else put(i.code, i.dst, i.src, i.off, i.imm);
  }
  return bytes;
}

/** Labels and maps resolved, then encoded: the bytes BPF_PROG_LOAD takes as `insns`. */
export function assemble(items: readonly Item[], opts: AssembleOptions = {}): Uint8Array {
  return encodeInsns(resolve(items, opts));
}
