/**
 * One rule's match against the stack copy of the headers (parse.ts): every test that fails jumps
 * to the rule's `next` label. All compares are JMP32 on 32-bit words: a 64-bit compare would
 * sign-extend an immediate >= 2^31 (most address words) and never match.
 */
import { And } from '../alu.js';
import { JEq, JGT, JLE, JLT, JNE, ja } from '../jump.js';
import { label, R1, RFP, type Item } from '../insn.js';
import { loadMem } from '../load-store.js';
import { HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';
import { FP } from './parse.js';
import type { BpfAddrMatch, BpfPortMatch, BpfRuleSpec } from './spec.js';

/** The family a rule needs: its own, or the one its addresses imply. */
export const ruleFamily = (s: BpfRuleSpec): 'ip' | 'ip6' | undefined => s.family ?? s.src?.family ?? s.dst?.family;

/**
 * Prefix → per-word (mask, value) as the u32 a 4-byte load of the stack copy yields on this host,
 * so no byte swap is needed at run time. Words past the prefix are not compared at all.
 */
export function prefixWords(a: BpfAddrMatch): { mask: number; value: number }[] {
  const out: { mask: number; value: number }[] = [];
  for (let k = 0; 32 * k < a.prefix; k++) {
    const bits = Math.min(32, a.prefix - 32 * k);
    const m = new Uint8Array(4), v = new Uint8Array(4);
    for (let j = 0; j < 4; j++) {
      const byteBits = Math.max(0, Math.min(8, bits - 8 * j));
      m[j] = (0xff00 >> byteBits) & 0xff;
      v[j] = a.address[4 * k + j] & m[j];
    }
    const read = (b: Uint8Array): number => new DataView(b.buffer).getUint32(0, HOST_LITTLE_ENDIAN);
    out.push({ mask: read(m), value: read(v) });
  }
  return out;
}

function matchAddr(a: BpfAddrMatch, base: number, next: string, id: string): Item[] {
  const words = prefixWords(a);
  // /0 matches every address of the family: nothing to test, and its negation matches none
  if (words.length === 0) return a.negate ? [ja(next)] : [];
  const out: Item[] = [];
  const ok = `${id}_ok`;
  words.forEach(({ mask, value }, k) => {
    out.push(loadMem(R1, RFP, base + 4 * k, 'W'));
    if (mask !== 0xffffffff) out.push(And.imm32(R1, mask));
    const last = k === words.length - 1;
    // negated: any differing word is a match, all equal is a miss
    if (!a.negate) out.push(JNE.imm32(R1, value, next));
    else out.push(last ? JEq.imm32(R1, value, next) : JNE.imm32(R1, value, ok));
  });
  if (a.negate && words.length > 1) out.push(label(ok));
  return out;
}

function matchPorts(p: BpfPortMatch, at: number, next: string, id: string): Item[] {
  const out: Item[] = [loadMem(R1, RFP, at, 'W')];
  const all = p.from === 0 && p.to === 0xffff;
  if (p.from === p.to) out.push((p.negate ? JEq : JNE).imm32(R1, p.from, next));
  else if (!p.negate) {
    if (p.from > 0) out.push(JLT.imm32(R1, p.from, next));
    if (p.to < 0xffff) out.push(JGT.imm32(R1, p.to, next));
  } else if (all) out.push(ja(next));
  else {
    const ok = `${id}_ok`;
    if (p.from > 0) out.push(JLT.imm32(R1, p.from, ok));
    out.push(JLE.imm32(R1, p.to, next));
    if (p.from > 0) out.push(label(ok));
  }
  return out;
}

export const usesPorts = (r: { readonly spec: BpfRuleSpec }): boolean => r.spec.sport !== undefined || r.spec.dport !== undefined;

/** The match part of rule `id`: falls through on a match, jumps to `next` otherwise. */
export function matchRule(s: BpfRuleSpec, next: string, id: string): Item[] {
  const out: Item[] = [];
  const fam = ruleFamily(s);
  if (fam) out.push(loadMem(R1, RFP, FP.family, 'W'), JNE.imm32(R1, fam === 'ip' ? 4 : 6, next));
  if (s.proto !== undefined) out.push(loadMem(R1, RFP, FP.proto, 'W'), JNE.imm32(R1, s.proto, next));
  if (s.src) out.push(...matchAddr(s.src, FP.src, next, `${id}_src`));
  if (s.dst) out.push(...matchAddr(s.dst, FP.dst, next, `${id}_dst`));
  if (s.sport || s.dport) out.push(loadMem(R1, RFP, FP.l4ok, 'W'), JEq.imm32(R1, 0, next));
  if (s.sport) out.push(...matchPorts(s.sport, FP.sport, next, `${id}_sport`));
  if (s.dport) out.push(...matchPorts(s.dport, FP.dport, next, `${id}_dport`));
  return out;
}
