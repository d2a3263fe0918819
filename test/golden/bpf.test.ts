/**
 * Golden instruction bytes of every generated program shape (fixtures/bpf/*.json, written by
 * fixtures/capture-bpf.ts). These fixtures are pktmark's own output — no external tool generates
 * eBPF from a mark rule — so they pin the generated code: any change is a reviewed fixture diff.
 * Compared byte for byte, with the disassembly beside them; the verifier's acceptance of the same
 * bytes is checked live in test/live/bpf-programs.test.ts.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { assemble, resolve } from '../../codecs/bpf/asm.js';
import { decodeInsns, disassemble } from '../../codecs/bpf/disasm.js';
import { SHAPES, buildShape, type ProgramKind, type Shape } from '../../fixtures/bpf/shapes.js';

interface Fixture {
  name: string; kind: ProgramKind; rules: Shape['rules'];
  program: { name: string; progType: number; expectedAttachType?: number; license: string };
  insns: number; hex: string; disasm: string[];
}
const dir = new URL('../../fixtures/bpf/', import.meta.url);
const fixtures: Fixture[] = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Fixture);

test('every shape has a fixture and every fixture a shape', (t) => {
  t.deepEqual(fixtures.map((f) => f.name).sort(), SHAPES.map((s) => s.name).sort());
});

for (const f of fixtures) {
  test(`golden bpf: ${f.name} (${f.insns} instructions)`, (t) => {
    const p = buildShape(f.kind, f.rules);
    const bytes = assemble(p.items);
    t.is(Buffer.from(bytes).toString('hex'), f.hex);
    t.deepEqual(disassemble(bytes), f.disasm);
    t.deepEqual(disassemble(p.items), f.disasm, 'items and bytes print the same');
    t.deepEqual(decodeInsns(bytes), resolve(p.items));
    t.like(p, { name: f.program.name, progType: f.program.progType, license: f.program.license });
    t.is(p.expectedAttachType, f.program.expectedAttachType);
  });
}
