/**
 * The XDP metadata pair, pktmark's version of the kernel's samples/bpf/xdp2skb_meta:
 * - xdpMetaProgram (BPF_PROG_TYPE_XDP) matches the raw frame against all of a device's rules,
 *   composes the marks of the matching ones into one (value, mask), and puts
 *   { magic, value, mask } in front of the packet with bpf_xdp_adjust_meta;
 * - tcMetaCopyProgram (SCHED_CLS, ingress) finds that metadata and applies it to skb->mark,
 *   because XDP runs before an skb exists and cannot set the mark itself.
 * Metadata is host order: both programs run on the same machine.
 */
import { Add, And, Mov, Xor } from '../alu.js';
import { JEq, JGT, JNE, call, exit } from '../jump.js';
import { label, R0, R1, R2, R3, R4, R5, R6, RFP, type Item } from '../insn.js';
import { loadMem, storeMem } from '../load-store.js';
import { BPF_FUNC_xdp_adjust_meta } from '../helpers.js';
import { validateSpec } from './config.js';
import { composeMark, count, lookupSlot, tokenBucket } from './actions.js';
import { matchRule, usesPorts } from './match.js';
import { FP, parseL3L4, SKB, XDP_MD, xdpPreamble, zeroFrame } from './parse.js';
import {
  BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP, PKTMARK_XDP_COPY_PROG, PKTMARK_XDP_PROG, PROGRAM_LICENSE, TC_ACT_UNSPEC, XDP_PASS,
  sortedRules, type BpfProgram, type ProgramMaps, type SlotRule,
} from './spec.js';

/** "PKM1": tells the copy program the metadata is pktmark's and not another XDP program's */
export const XDP_META_MAGIC = 0x504b4d31;
/** bytes of { u32 magic; u32 value; u32 mask } (adjust_meta wants a multiple of 4) */
export const XDP_META_LEN = 12;

export function xdpMetaProgram(rules: readonly SlotRule[], maps: ProgramMaps): BpfProgram {
  const items: Item[] = [Mov.reg(R6, R1), ...zeroFrame(), ...xdpPreamble('pass'), ...parseL3L4('pass', rules.some(usesPorts))];
  for (const { slot, spec } of sortedRules(rules)) {
    validateSpec(spec);
    const id = `s${slot}`, next = `${id}_next`;
    items.push(...matchRule(spec, next, id), ...lookupSlot(maps.config, slot, next));
    if (spec.rate) items.push(...tokenBucket(next, id));
    items.push(loadMem(R5, RFP, FP.length, 'W'), ...count(R5), ...composeMark(), label(next));
  }
  items.push(
    loadMem(R1, RFP, FP.matched, 'W'),
    JEq.imm32(R1, 0, 'pass'),
    Mov.reg(R1, R6),
    Mov.imm(R2, -XDP_META_LEN),
    call(BPF_FUNC_xdp_adjust_meta),
    // a driver without metadata support fails here: the packet still passes, unmarked
    JNE.imm(R0, 0, 'pass'),
    // adjust_meta moved the packet pointers: read them again from the context
    loadMem(R2, R6, XDP_MD.dataMeta, 'W'),
    loadMem(R3, R6, XDP_MD.data, 'W'),
    Mov.reg(R4, R2),
    Add.imm(R4, XDP_META_LEN),
    JGT.reg(R4, R3, 'pass'),
    Mov.imm(R1, XDP_META_MAGIC),
    storeMem(R2, 0, R1, 'W'),
    loadMem(R1, RFP, FP.accValue, 'W'),
    storeMem(R2, 4, R1, 'W'),
    loadMem(R1, RFP, FP.accMask, 'W'),
    storeMem(R2, 8, R1, 'W'),
    label('pass'),
    Mov.imm(R0, XDP_PASS),
    exit(),
  );
  return { name: PKTMARK_XDP_PROG, progType: BPF_PROG_TYPE_XDP, license: PROGRAM_LICENSE, items };
}

/** The tc half: skb->mark = (skb->mark & ~mask) ^ value when pktmark's metadata is there. */
export function tcMetaCopyProgram(): BpfProgram {
  const items: Item[] = [
    loadMem(R2, R1, SKB.dataMeta, 'W'),
    loadMem(R3, R1, SKB.data, 'W'),
    Mov.reg(R4, R2),
    Add.imm(R4, XDP_META_LEN),
    JGT.reg(R4, R3, 'out'),
    loadMem(R4, R2, 0, 'W'),
    JNE.imm32(R4, XDP_META_MAGIC, 'out'),
    loadMem(R4, R2, 4, 'W'),
    loadMem(R5, R2, 8, 'W'),
    loadMem(R0, R1, SKB.mark, 'W'),
    Xor.imm32(R5, -1),
    And.reg32(R0, R5),
    Xor.reg32(R0, R4),
    storeMem(R1, SKB.mark, R0, 'W'),
    label('out'),
    Mov.imm(R0, TC_ACT_UNSPEC),
    exit(),
  ];
  return { name: PKTMARK_XDP_COPY_PROG, progType: BPF_PROG_TYPE_SCHED_CLS, license: PROGRAM_LICENSE, items };
}
