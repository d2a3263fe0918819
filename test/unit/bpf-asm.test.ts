/** assemble(): labels, slot counting, byte layout, typed errors; decodeInsns(): round trip and fuzz. */
import test from 'ava';
import fc from 'fast-check';
import { Add, Mov, toBE } from '../../codecs/bpf/alu.js';
import { JEq, JGT, JNE, call, exit, ja } from '../../codecs/bpf/jump.js';
import { AtomicAdd, CmpXchg, FetchAdd, loadImm64, loadMapPtr, loadMem, storeImm, storeMem } from '../../codecs/bpf/load-store.js';
import { R0, R1, R2, R3, R6, R10, insn, label, type Insn, type Item, type Reg } from '../../codecs/bpf/insn.js';
import { assemble, resolve } from '../../codecs/bpf/asm.js';
import { decodeInsns, disassemble } from '../../codecs/bpf/disasm.js';
import { PktmarkError, type ErrorCode } from '../../codecs/errors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('slots are 8 bytes: code, dst in the low nibble and src in the high one, off and imm little-endian', (t) => {
  t.is(hex(assemble([loadMem(R2, R1, 8, 'W')])), '6112080000000000');
  t.is(hex(assemble([storeImm(R10, -4, -1, 'W')])), '620afcffffffffff');
  t.is(hex(assemble([loadImm64(R1, 0x1122334455667788n)])), '1801000088776655' + '0000000044332211');
});

test('labels resolve to target - (pc + 1), and LD_IMM64 counts as two slots', (t) => {
  const items: Item[] = [
    JEq.imm32(R2, 1, 'end'), // pc 0
    loadImm64(R1, 5n), //       pc 1-2
    label('back'),
    Mov.imm(R0, 0), //          pc 3
    JNE.imm(R0, 0, 'back'), //  pc 4 → 3: off -2
    label('end'),
    exit(), //                  pc 5
  ];
  const r = resolve(items);
  t.is(r[0].off, 4);
  t.is(r[3].off, -2);
  t.deepEqual(disassemble(items), [
    '0: (16) if w2 == 0x1 goto pc+4',
    '1: (18) r1 = 0x5',
    '3: (b7) r0 = 0',
    '4: (55) if r0 != 0x0 goto pc-2',
    '5: (95) exit',
  ]);
});

test('the verifier-log example of the brief, byte for byte through decode', (t) => {
  const items: Item[] = [
    Mov.imm(R0, 0), loadMem(R2, R1, 8, 'W'), JEq.imm32(R2, 1, 'x'), call(5), loadMapPtr(R1, { name: 'cfg' }),
    label('x'), CmpXchg.mem(R1, 0, R2, 'DW'), exit(),
  ];
  t.deepEqual(disassemble(assemble(items, { maps: { cfg: 3 } })), [
    '0: (b7) r0 = 0',
    '1: (61) r2 = *(u32 *)(r1 +8)',
    '2: (16) if w2 == 0x1 goto pc+3',
    '3: (85) call bpf_ktime_get_ns#5',
    '4: (18) r1 = map[fd:3]',
    '6: (db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)',
    '7: (95) exit',
  ]);
});

test('typed errors: unknown and duplicate labels, a label past the end, missing map fds', (t) => {
  const err = (f: () => unknown, code: ErrorCode, re: RegExp): void => {
    const e = t.throws(f, { instanceOf: PktmarkError, message: re });
    t.is(e?.code, code);
  };
  err(() => assemble([ja('nowhere'), exit()]), 'ENCODE', /unknown label 'nowhere'/);
  err(() => assemble([label('a'), exit(), label('a'), exit()]), 'ENCODE', /'a' is defined twice/);
  err(() => assemble([ja('end'), exit(), label('end')]), 'ENCODE', /after the last instruction/);
  err(() => assemble([loadMapPtr(R1, { name: 'cfg' }), exit()], { maps: { other: 4 } }), 'ENCODE', /no fd given for map 'cfg'/);
});

test('a jump beyond ±32767 slots is BPF_TOO_LARGE naming the jump; so is a program over the limit', (t) => {
  const filler = Array.from({ length: 32768 }, () => Mov.imm(R0, 0));
  const e = t.throws(() => assemble([JEq.imm32(R1, 1, 'far'), ...filler, label('far'), exit()]), { instanceOf: PktmarkError });
  t.is(e?.code, 'BPF_TOO_LARGE');
  t.regex(e?.message ?? '', /jump at pc 0 to 'far' needs offset 32768/);
  t.notThrows(() => assemble([JEq.imm32(R1, 1, 'far'), ...filler.slice(1), label('far'), exit()]));
  const back = t.throws(() => assemble([label('top'), ...filler, ja('top')]), { instanceOf: PktmarkError });
  t.regex(back?.message ?? '', /offset -32769/);
  const big = t.throws(() => assemble([Mov.imm(R0, 0), loadImm64(R1, 1n), exit()], { maxInsns: 3 }), { instanceOf: PktmarkError });
  t.is(big?.code, 'BPF_TOO_LARGE');
  t.regex(big?.message ?? '', /4 instructions, the limit is 3/);
});

test('assembly is deterministic', (t) => {
  const items: Item[] = [Mov.reg(R6, R1), JGT.reg(R2, R3, 'a'), toBE(R2, 16), label('a'), exit()];
  t.is(hex(assemble(items)), hex(assemble(items)));
});

// ---- round trip: generated programs made of every builder ----
const reg = fc.integer({ min: 0, max: 10 }) as fc.Arbitrary<Reg>;
const r9 = fc.integer({ min: 0, max: 9 }) as fc.Arbitrary<Reg>;
const s16 = fc.integer({ min: -0x8000, max: 0x7fff });
const s32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const size = fc.constantFrom('B' as const, 'H' as const, 'W' as const, 'DW' as const);
const straight: fc.Arbitrary<Insn> = fc.oneof(
  fc.tuple(r9, s32).map(([d, v]) => Mov.imm(d, v)),
  fc.tuple(r9, reg).map(([d, s]) => Add.reg32(d, s)),
  fc.tuple(r9, fc.constantFrom(16 as const, 32 as const, 64 as const)).map(([d, w]) => toBE(d, w)),
  fc.tuple(r9, reg, s16, size).map(([d, s, o, z]) => loadMem(d, s, o, z)),
  fc.tuple(reg, s16, reg, size).map(([d, o, s, z]) => storeMem(d, o, s, z)),
  fc.tuple(reg, s16, s32, size).map(([d, o, v, z]) => storeImm(d, o, v, z)),
  fc.tuple(reg, s16, reg, fc.constantFrom('W' as const, 'DW' as const)).map(([d, o, s, z]) => AtomicAdd.mem(d, o, s, z)),
  fc.tuple(reg, s16, reg).map(([d, o, s]) => FetchAdd.mem(d, o, s, 'DW')),
  fc.tuple(r9, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })).map(([d, v]) => loadImm64(d, v)),
  fc.integer({ min: 0, max: 211 }).map((id) => call(id)),
);
const program: fc.Arbitrary<Item[]> = fc.array(straight, { minLength: 1, maxLength: 40 }).chain((body) =>
  fc.array(fc.tuple(fc.nat({ max: body.length - 1 }), fc.nat({ max: body.length }), r9, s32), { maxLength: 8 }).map((jumps) => {
    const items: Item[] = [];
    body.forEach((b, k) => {
      items.push(label(`L${k}`));
      for (const [at, to, d, v] of jumps) if (at === k) items.push(JEq.imm32(d, v, `L${to}`));
      items.push(b);
    });
    items.push(label(`L${body.length}`), exit());
    return items;
  }));

test('decodeInsns(assemble(x)) equals x with labels resolved (property)', (t) => {
  fc.assert(fc.property(program, (items) => {
    const bytes = assemble(items);
    t.deepEqual(decodeInsns(bytes), resolve(items));
    t.is(disassemble(bytes).join('\n'), disassemble(items).join('\n'));
  }), { numRuns: 300 });
});

// ---- decoder fuzz ----
const onlyTyped = (bytes: Uint8Array): boolean => {
  try {
    const insns = decodeInsns(bytes);
    disassemble(bytes);
    return insns.length <= bytes.length / 8;
  } catch (e) {
    return e instanceof PktmarkError && e.code === 'DECODE' && typeof e.offset === 'number' && e.offset >= 0 && e.offset <= bytes.length;
  }
};

test('decoder: random bytes only ever give instructions or a DECODE error with its offset, quickly', (t) => {
  const start = Date.now();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), onlyTyped), { numRuns: 3000 });
  t.true(Date.now() - start < 20_000);
});

test('decoder: mutated valid programs only ever give instructions or a DECODE error', (t) => {
  const start = Date.now();
  fc.assert(fc.property(program, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat({ max: 7 }), (items, flips, cut) => {
    const b = assemble(items).slice();
    for (const [at, v] of flips) b[at % b.length] = v;
    return onlyTyped(b) && onlyTyped(b.subarray(0, Math.max(0, b.length - cut)));
  }), { numRuns: 1000 });
  t.true(Date.now() - start < 20_000);
});

test('decoder: specific malformed input names the byte', (t) => {
  const e1 = t.throws(() => decodeInsns(new Uint8Array(12)), { instanceOf: PktmarkError });
  t.is(e1?.offset, 8);
  const ld = assemble([loadImm64(R1, 1n)]);
  t.is(t.throws(() => decodeInsns(ld.subarray(0, 8)), { instanceOf: PktmarkError })?.offset, 0);
  const bad2 = ld.slice(); bad2[8] = 0x07;
  t.is(t.throws(() => decodeInsns(bad2), { instanceOf: PktmarkError })?.offset, 8);
  const badReg = assemble([Mov.imm(R1, 0)]); badReg[1] = 0x0b;
  t.regex(t.throws(() => decodeInsns(badReg), { instanceOf: PktmarkError })?.message ?? '', /r11 does not exist at byte 1/);
  t.regex(t.throws(() => decodeInsns(Uint8Array.of(0xff, 0, 0, 0, 0, 0, 0, 0)), { instanceOf: PktmarkError })?.message ?? '', /code 0xff/);
  t.notThrows(() => decodeInsns(new Uint8Array(0)));
  t.like(decodeInsns(assemble([insn(0x05, 0, 0, -1, 0)]))[0], { code: 0x05, off: -1 });
});
