/**
 * Socket marks for a cgroup: BPF_PROG_TYPE_CGROUP_SOCK at BPF_CGROUP_INET_SOCK_CREATE runs once
 * per socket created by a process in the cgroup, and may write bpf_sock.mark (offset 16 in
 * include/uapi/linux/bpf.h struct bpf_sock). Every packet of that socket then carries the mark —
 * inside the socket's own network namespace only. Returning 1 lets the socket be created.
 */
import { Mov } from '../alu.js';
import { exit } from '../jump.js';
import { label, R0, R1, R6, type Item } from '../insn.js';
import { applyMark, count, lookupSlot } from './actions.js';
import { BPF_CGROUP_INET_SOCK_CREATE, BPF_PROG_TYPE_CGROUP_SOCK, PKTMARK_CGROUP_PROG, PROGRAM_LICENSE, type BpfProgram, type ProgramMaps } from './spec.js';

export const BPF_SOCK_MARK = 16;
/** the one rule of a cgroup program lives in slot 0; `packets` counts sockets */
export const CGROUP_SLOT = 0;

export function cgroupSockProgram(maps: ProgramMaps): BpfProgram {
  const items: Item[] = [
    Mov.reg(R6, R1),
    ...lookupSlot(maps.config, CGROUP_SLOT, 'out'),
    ...count(),
    ...applyMark(R6, BPF_SOCK_MARK),
    label('out'),
    Mov.imm(R0, 1),
    exit(),
  ];
  return {
    name: PKTMARK_CGROUP_PROG, progType: BPF_PROG_TYPE_CGROUP_SOCK, expectedAttachType: BPF_CGROUP_INET_SOCK_CREATE,
    license: PROGRAM_LICENSE, items,
  };
}
