/**
 * The tc marker: a cls_bpf direct-action program (BPF_PROG_TYPE_SCHED_CLS) holding all rules of
 * one device and direction. The packet is parsed once; then each rule, in slot order, is matched
 * and — like an nft chain — every matching rule applies, later ones on top of earlier ones.
 * It returns TC_ACT_UNSPEC so the filters after it still run.
 */
import { Mov } from '../alu.js';
import { exit } from '../jump.js';
import { label, R0, R1, R5, R6, type Item } from '../insn.js';
import { loadMem } from '../load-store.js';
import { validateSpec } from './config.js';
import { applyMark, count, lookupSlot, tokenBucket } from './actions.js';
import { matchRule, usesPorts } from './match.js';
import { parseL3L4, skbPreamble, SKB, zeroFrame } from './parse.js';
import {
  BPF_PROG_TYPE_SCHED_CLS, PKTMARK_TC_PROG, PROGRAM_LICENSE, TC_ACT_UNSPEC, sortedRules,
  type BpfProgram, type ProgramMaps, type SlotRule,
} from './spec.js';

export interface TcMarkerOptions {
  /** bytes before the L3 header in skb data: 14 on Ethernet (default), 0 on an L3 device (tun, wireguard) */
  readonly linkHeaderLen?: 0 | 14;
}

export function tcMarkerProgram(rules: readonly SlotRule[], maps: ProgramMaps, opts: TcMarkerOptions = {}): BpfProgram {
  const items: Item[] = [Mov.reg(R6, R1), ...zeroFrame(), ...skbPreamble(opts.linkHeaderLen ?? 14, 'done'), ...parseL3L4('done', rules.some(usesPorts))];
  for (const { slot, spec } of sortedRules(rules)) {
    validateSpec(spec);
    const id = `s${slot}`, next = `${id}_next`;
    items.push(...matchRule(spec, next, id), ...lookupSlot(maps.config, slot, next));
    if (spec.rate) items.push(...tokenBucket(next, id));
    items.push(loadMem(R5, R6, SKB.len, 'W'), ...count(R5), ...applyMark(R6, SKB.mark), label(next));
  }
  items.push(label('done'), Mov.imm(R0, TC_ACT_UNSPEC), exit());
  return { name: PKTMARK_TC_PROG, progType: BPF_PROG_TYPE_SCHED_CLS, license: PROGRAM_LICENSE, items };
}
