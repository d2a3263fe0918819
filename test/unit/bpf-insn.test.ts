/**
 * One table per instruction class, cilium/ebpf style: each builder yields exactly the kernel's
 * code/registers/off/imm, and the disassembler prints kernel/bpf/disasm.c's text for it.
 */
import test from 'ava';
import { Add, And, ArSh, Div, LSh, Mod, Mov, Mul, Or, RSh, Sub, Xor, neg, neg32, toBE, toLE } from '../../codecs/bpf/alu.js';
import { JEq, JGE, JGT, JLE, JLT, JNE, JSet, JSGE, JSGT, JSLE, JSLT, call, exit, ja } from '../../codecs/bpf/jump.js';
import {
  AtomicAdd, AtomicAnd, AtomicOr, AtomicXor, CmpXchg, FetchAdd, FetchAnd, FetchOr, FetchXor, Xchg,
  loadImm64, loadMapPtr, loadMapValue, loadMem, storeImm, storeMem,
} from '../../codecs/bpf/load-store.js';
import { R0, R1, R2, R3, R4, R5, R6, R7, R10, insn, label, type Insn, type Item } from '../../codecs/bpf/insn.js';
import { resolve } from '../../codecs/bpf/asm.js';
import { formatInsn, disassemble } from '../../codecs/bpf/disasm.js';
import { BPF_FUNC_ktime_get_ns, BPF_FUNC_map_lookup_elem, BPF_FUNC_xdp_adjust_meta, helperName } from '../../codecs/bpf/helpers.js';

type Row = [Insn, { code: number; dst: number; src: number; off: number; imm: number }, string];
const f = (code: number, dst: number, src: number, off: number, imm: number) => ({ code, dst, src, off, imm });

function table(name: string, rows: Row[]): void {
  test(`${name}: builders yield the kernel's fields and disasm.c's text`, (t) => {
    for (const [i, want, text] of rows) {
      t.like(i, want, text);
      t.is(formatInsn(i), text);
    }
  });
}

table('ALU64', [
  [Add.imm(R1, 22), f(0x07, 1, 0, 0, 22), '(07) r1 += 22'],
  [Add.reg(R1, R2), f(0x0f, 1, 2, 0, 0), '(0f) r1 += r2'],
  [Sub.imm(R1, -3), f(0x17, 1, 0, 0, -3), '(17) r1 -= -3'],
  [Sub.reg(R3, R1), f(0x1f, 3, 1, 0, 0), '(1f) r3 -= r1'],
  [Mul.imm(R2, 10), f(0x27, 2, 0, 0, 10), '(27) r2 *= 10'],
  [Div.reg(R2, R3), f(0x3f, 2, 3, 0, 0), '(3f) r2 /= r3'],
  [Or.imm(R0, 0x10), f(0x47, 0, 0, 0, 16), '(47) r0 |= 16'],
  [And.imm(R1, 0x0f), f(0x57, 1, 0, 0, 15), '(57) r1 &= 15'],
  [LSh.imm(R1, 2), f(0x67, 1, 0, 0, 2), '(67) r1 <<= 2'],
  [RSh.reg(R1, R2), f(0x7f, 1, 2, 0, 0), '(7f) r1 >>= r2'],
  [neg(R1), f(0x87, 1, 0, 0, 0), '(87) r1 = -r1'],
  [Mod.imm(R1, 7), f(0x97, 1, 0, 0, 7), '(97) r1 %= 7'],
  [Xor.reg(R1, R1), f(0xaf, 1, 1, 0, 0), '(af) r1 ^= r1'],
  [Mov.imm(R0, 0), f(0xb7, 0, 0, 0, 0), '(b7) r0 = 0'],
  [Mov.imm(R0, -1), f(0xb7, 0, 0, 0, -1), '(b7) r0 = -1'],
  [Mov.reg(R6, R1), f(0xbf, 6, 1, 0, 0), '(bf) r6 = r1'],
  [ArSh.imm(R1, 3), f(0xc7, 1, 0, 0, 3), '(c7) r1 s>>= 3'],
]);

table('ALU (32-bit) and byte swaps', [
  [Add.imm32(R1, 1), f(0x04, 1, 0, 0, 1), '(04) w1 += 1'],
  [Sub.reg32(R1, R2), f(0x1c, 1, 2, 0, 0), '(1c) w1 -= w2'],
  [Mul.reg32(R1, R2), f(0x2c, 1, 2, 0, 0), '(2c) w1 *= w2'],
  [Div.imm32(R1, 2), f(0x34, 1, 0, 0, 2), '(34) w1 /= 2'],
  [Or.reg32(R3, R2), f(0x4c, 3, 2, 0, 0), '(4c) w3 |= w2'],
  [And.imm32(R1, 0xffffff00), f(0x54, 1, 0, 0, -256), '(54) w1 &= -256'],
  [LSh.imm32(R1, 8), f(0x64, 1, 0, 0, 8), '(64) w1 <<= 8'],
  [RSh.imm32(R1, 8), f(0x74, 1, 0, 0, 8), '(74) w1 >>= 8'],
  [neg32(R2), f(0x84, 2, 0, 0, 0), '(84) w2 = -w2'],
  [Mod.reg32(R1, R2), f(0x9c, 1, 2, 0, 0), '(9c) w1 %= w2'],
  [Xor.imm32(R2, -1), f(0xa4, 2, 0, 0, -1), '(a4) w2 ^= -1'],
  [Mov.imm32(R0, 2), f(0xb4, 0, 0, 0, 2), '(b4) w0 = 2'],
  [Mov.reg32(R0, R1), f(0xbc, 0, 1, 0, 0), '(bc) w0 = w1'],
  [ArSh.reg32(R1, R2), f(0xcc, 1, 2, 0, 0), '(cc) w1 s>>= w2'],
  [toBE(R4, 16), f(0xdc, 4, 0, 0, 16), '(dc) r4 = be16 r4'],
  [toBE(R1, 32), f(0xdc, 1, 0, 0, 32), '(dc) r1 = be32 r1'],
  [toBE(R1, 64), f(0xdc, 1, 0, 0, 64), '(dc) r1 = be64 r1'],
  [toLE(R1, 16), f(0xd4, 1, 0, 0, 16), '(d4) r1 = le16 r1'],
  [toLE(R1, 32), f(0xd4, 1, 0, 0, 32), '(d4) r1 = le32 r1'],
  [toLE(R1, 64), f(0xd4, 1, 0, 0, 64), '(d4) r1 = le64 r1'],
  // forms pktmark does not build but decodes: ALU64 bswap, signed division, sign-extending mov
  [insn(0xd7, 1, 0, 0, 16), f(0xd7, 1, 0, 0, 16), '(d7) r1 = bswap16 r1'],
  [insn(0x3f, 1, 2, 1, 0), f(0x3f, 1, 2, 1, 0), '(3f) r1 s/= r2'],
  [insn(0x97, 1, 0, 1, 3), f(0x97, 1, 0, 1, 3), '(97) r1 s%= 3'],
  [insn(0xbf, 1, 2, 8, 0), f(0xbf, 1, 2, 8, 0), '(bf) r1 = (s8)r2'],
]);

table('JMP and JMP32 (offsets as resolved)', [
  [{ ...JEq.imm32(R2, 1, 'x'), off: 3 }, f(0x16, 2, 0, 3, 1), '(16) if w2 == 0x1 goto pc+3'],
  [{ ...JEq.imm(R0, 0, 'x'), off: 5 }, f(0x15, 0, 0, 5, 0), '(15) if r0 == 0x0 goto pc+5'],
  [{ ...JNE.imm32(R1, 0xc0a80001, 'x'), off: 1 }, f(0x56, 1, 0, 1, -1062731775), '(56) if w1 != 0xc0a80001 goto pc+1'],
  [{ ...JNE.reg(R1, R2, 'x'), off: -2 }, f(0x5d, 1, 2, -2, 0), '(5d) if r1 != r2 goto pc-2'],
  [{ ...JGT.reg(R5, R3, 'x'), off: 9 }, f(0x2d, 5, 3, 9, 0), '(2d) if r5 > r3 goto pc+9'],
  [{ ...JGT.imm32(R1, 2000, 'x'), off: 0 }, f(0x26, 1, 0, 0, 2000), '(26) if w1 > 0x7d0 goto pc+0'],
  [{ ...JGE.reg(R2, R3, 'x'), off: 1 }, f(0x3d, 2, 3, 1, 0), '(3d) if r2 >= r3 goto pc+1'],
  [{ ...JGE.imm32(R2, 7, 'x'), off: 1 }, f(0x36, 2, 0, 1, 7), '(36) if w2 >= 0x7 goto pc+1'],
  [{ ...JSet.imm(R1, 4, 'x'), off: 1 }, f(0x45, 1, 0, 1, 4), '(45) if r1 & 0x4 goto pc+1'],
  [{ ...JSet.reg32(R1, R2, 'x'), off: 1 }, f(0x4e, 1, 2, 1, 0), '(4e) if w1 & w2 goto pc+1'],
  [{ ...JSGT.imm(R1, -1, 'x'), off: 1 }, f(0x65, 1, 0, 1, -1), '(65) if r1 s> 0xffffffff goto pc+1'],
  [{ ...JSGE.reg32(R1, R2, 'x'), off: 1 }, f(0x7e, 1, 2, 1, 0), '(7e) if w1 s>= w2 goto pc+1'],
  [{ ...JLT.imm(R1, 20, 'x'), off: 4 }, f(0xa5, 1, 0, 4, 20), '(a5) if r1 < 0x14 goto pc+4'],
  [{ ...JLT.reg32(R1, R2, 'x'), off: 4 }, f(0xae, 1, 2, 4, 0), '(ae) if w1 < w2 goto pc+4'],
  [{ ...JLE.imm32(R1, 80, 'x'), off: 2 }, f(0xb6, 1, 0, 2, 80), '(b6) if w1 <= 0x50 goto pc+2'],
  [{ ...JSLT.imm32(R1, 0, 'x'), off: 2 }, f(0xc6, 1, 0, 2, 0), '(c6) if w1 s< 0x0 goto pc+2'],
  [{ ...JSLE.reg(R1, R2, 'x'), off: 2 }, f(0xdd, 1, 2, 2, 0), '(dd) if r1 s<= r2 goto pc+2'],
  [{ ...ja('x'), off: 7 }, f(0x05, 0, 0, 7, 0), '(05) goto pc+7'],
  [call(BPF_FUNC_ktime_get_ns), f(0x85, 0, 0, 0, 5), '(85) call bpf_ktime_get_ns#5'],
  [call(BPF_FUNC_map_lookup_elem), f(0x85, 0, 0, 0, 1), '(85) call bpf_map_lookup_elem#1'],
  [call(BPF_FUNC_xdp_adjust_meta), f(0x85, 0, 0, 0, 54), '(85) call bpf_xdp_adjust_meta#54'],
  [call(999), f(0x85, 0, 0, 0, 999), '(85) call unknown#999'],
  [exit(), f(0x95, 0, 0, 0, 0), '(95) exit'],
]);

table('LDX / ST / STX and atomics', [
  [loadMem(R2, R1, 8, 'W'), f(0x61, 2, 1, 8, 0), '(61) r2 = *(u32 *)(r1 +8)'],
  [loadMem(R2, R1, 12, 'H'), f(0x69, 2, 1, 12, 0), '(69) r2 = *(u16 *)(r1 +12)'],
  [loadMem(R2, R1, 0, 'B'), f(0x71, 2, 1, 0, 0), '(71) r2 = *(u8 *)(r1 +0)'],
  [loadMem(R1, R7, 240, 'DW'), f(0x79, 1, 7, 240, 0), '(79) r1 = *(u64 *)(r7 +240)'],
  [storeMem(R10, -4, R1, 'W'), f(0x63, 10, 1, -4, 0), '(63) *(u32 *)(r10 -4) = r1'],
  [storeMem(R1, 2, R2, 'H'), f(0x6b, 1, 2, 2, 0), '(6b) *(u16 *)(r1 +2) = r2'],
  [storeMem(R1, 0, R2, 'B'), f(0x73, 1, 2, 0, 0), '(73) *(u8 *)(r1 +0) = r2'],
  [storeMem(R10, -8, R1, 'DW'), f(0x7b, 10, 1, -8, 0), '(7b) *(u64 *)(r10 -8) = r1'],
  [storeImm(R10, -4, 0, 'W'), f(0x62, 10, 0, -4, 0), '(62) *(u32 *)(r10 -4) = 0'],
  [storeImm(R10, -8, 0, 'DW'), f(0x7a, 10, 0, -8, 0), '(7a) *(u64 *)(r10 -8) = 0'],
  [storeImm(R1, 1, 7, 'B'), f(0x72, 1, 0, 1, 7), '(72) *(u8 *)(r1 +1) = 7'],
  [storeImm(R1, 2, -1, 'H'), f(0x6a, 1, 0, 2, -1), '(6a) *(u16 *)(r1 +2) = -1'],
  [AtomicAdd.mem(R7, 224, R1, 'DW'), f(0xdb, 7, 1, 224, 0x00), '(db) lock *(u64 *)(r7 +224) += r1'],
  [AtomicAdd.mem(R7, 4, R1, 'W'), f(0xc3, 7, 1, 4, 0x00), '(c3) lock *(u32 *)(r7 +4) += r1'],
  [AtomicOr.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0x40), '(db) lock *(u64 *)(r1 +0) |= r2'],
  [AtomicAnd.mem(R1, 0, R2, 'W'), f(0xc3, 1, 2, 0, 0x50), '(c3) lock *(u32 *)(r1 +0) &= r2'],
  [AtomicXor.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0xa0), '(db) lock *(u64 *)(r1 +0) ^= r2'],
  [FetchAdd.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0x01), '(db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)'],
  [FetchAdd.mem(R1, 8, R2, 'W'), f(0xc3, 1, 2, 8, 0x01), '(c3) r2 = atomic_fetch_add((u32 *)(r1 +8), r2)'],
  [FetchOr.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0x41), '(db) r2 = atomic64_fetch_or((u64 *)(r1 +0), r2)'],
  [FetchAnd.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0x51), '(db) r2 = atomic64_fetch_and((u64 *)(r1 +0), r2)'],
  [FetchXor.mem(R1, 0, R2, 'W'), f(0xc3, 1, 2, 0, 0xa1), '(c3) r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)'],
  [Xchg.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0xe1), '(db) r2 = atomic64_xchg((u64 *)(r1 +0), r2)'],
  [CmpXchg.mem(R1, 0, R2, 'DW'), f(0xdb, 1, 2, 0, 0xf1), '(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)'],
  [CmpXchg.mem(R1, 4, R2, 'W'), f(0xc3, 1, 2, 4, 0xf1), '(c3) r0 = atomic_cmpxchg((u32 *)(r1 +4), r0, r2)'],
  [loadImm64(R1, 0x123456789n), f(0x18, 1, 0, 0, 0x23456789), '(18) r1 = 0x123456789'],
  [loadImm64(R1, -1n), f(0x18, 1, 0, 0, -1), '(18) r1 = 0xffffffffffffffff'],
  [loadMapPtr(R1, { name: 'config' }), f(0x18, 1, 1, 0, 0), '(18) r1 = map[fd:0]'],
  [loadMapValue(R1, { name: 'config' }, 16), f(0x18, 1, 2, 0, 0), '(18) r1 = map[fd:0][0]+16'],
]);

test('LD_IMM64 keeps the whole 64-bit value and its signed low half', (t) => {
  const i = loadImm64(R3, 0xffffffff00000001n);
  t.is(i.imm64, 0xffffffff00000001n);
  t.is(i.imm, 1);
});

test('builders refuse offsets and immediates that do not fit', (t) => {
  t.throws(() => loadMem(R1, R2, 40000, 'W'), { message: /16-bit off/ });
  t.throws(() => Mov.imm(R1, 2 ** 32), { message: /32 bits/ });
  t.throws(() => Mov.imm(R1, 1.5), { message: /32 bits/ });
  t.notThrows(() => Mov.imm32(R1, 0xffffffff));
});

test('a resolved map load prints its fd, as the loader will pass it', (t) => {
  const items: Item[] = [loadMapPtr(R1, { name: 'config' }), loadMapValue(R2, { name: 'config' }, 8), exit()];
  t.deepEqual(disassemble(items, { maps: { config: 7 } }), ['0: (18) r1 = map[fd:7]', '2: (18) r2 = map[fd:7][0]+8', '4: (95) exit']);
  t.like(resolve(items, { maps: { config: 7 } })[1], { imm: 7, imm64: (8n << 32n) | 7n });
  t.true(label('x').label === 'x');
});

test('helper names follow ___BPF_FUNC_MAPPER order', (t) => {
  t.is(helperName(1), 'bpf_map_lookup_elem');
  t.is(helperName(5), 'bpf_ktime_get_ns');
  t.is(helperName(54), 'bpf_xdp_adjust_meta');
  t.is(helperName(8), 'bpf_get_smp_processor_id');
  t.is(helperName(211), 'bpf_cgrp_storage_delete');
  t.is(helperName(212), undefined);
});
