/**
 * What a generated program matches and does, at the codec level (no import from src/): the
 * backend turns a MarkRule into a BpfRuleSpec, the program generators compile it, and the config
 * map stores it so `list` can decode it back without any state file.
 */
import { PktmarkError } from '../../errors.js';
import type { Item, MapRef } from '../insn.js';

export interface BpfAddrMatch {
  readonly family: 'ip' | 'ip6';
  /** network order, 4 or 16 bytes */
  readonly address: Uint8Array;
  readonly prefix: number;
  readonly negate: boolean;
}
/** a single port is from === to; host-order numbers */
export interface BpfPortMatch { readonly from: number; readonly to: number; readonly negate: boolean }
export type RateUnit = 'second' | 'minute' | 'hour' | 'day';
export interface BpfRate { readonly rate: number; readonly unit: RateUnit; readonly burst: number }

export interface BpfRuleSpec {
  readonly family?: 'ip' | 'ip6';
  readonly src?: BpfAddrMatch;
  readonly dst?: BpfAddrMatch;
  /** IPv4 protocol / IPv6 next header (of the fixed header) */
  readonly proto?: number;
  readonly sport?: BpfPortMatch;
  readonly dport?: BpfPortMatch;
  /** new = (old & ~mask) ^ mark; with xor false the mark must lie within mask, so ^ is | */
  readonly mark: number;
  readonly mask: number;
  readonly xor: boolean;
  readonly rate?: BpfRate;
  /** ≤ 128 bytes of UTF-8 */
  readonly comment?: string;
  /** apply's ownership tag: the hash of the rule's name (0: unnamed); absent for rules not made by apply. The program never reads it. */
  readonly applyTag?: number;
}

/** One rule of a program: its slot in the config map (stable for the rule's life) and its spec. */
export interface SlotRule { readonly slot: number; readonly spec: BpfRuleSpec }
export interface ProgramMaps { readonly config: MapRef }

/** A program ready to assemble and load; `items` holds labels and unresolved map references. */
export interface BpfProgram {
  /** the kernel object name (BPF_OBJ_NAME_LEN 16 with the NUL, [A-Za-z0-9_.]) */
  readonly name: string;
  /** BPF_PROG_TYPE_* */
  readonly progType: number;
  /** BPF_* attach type the verifier checks against, where the program type needs one */
  readonly expectedAttachType?: number;
  /** no GPL-only helper is used, so the project's own license */
  readonly license: string;
  readonly items: readonly Item[];
}

export const PKTMARK_TC_PROG = 'pktmark_tc';
export const PKTMARK_XDP_PROG = 'pktmark_xdp';
export const PKTMARK_XDP_COPY_PROG = 'pktmark_xdpcp';
export const PKTMARK_CGROUP_PROG = 'pktmark_cg';
export const PKTMARK_CONFIG_MAP = 'pktmark_cfg';
/** the MapRef the generators are usually given; the loader maps its name to the map's fd */
export const CONFIG_MAP_REF: MapRef = { name: PKTMARK_CONFIG_MAP };
export const PROGRAM_LICENSE = 'MIT';

// include/uapi/linux/bpf.h enum bpf_prog_type / bpf_attach_type (also in ../attr.ts, which the
// generators do not import so that they stay usable without the syscall layer's tables)
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_PROG_TYPE_CGROUP_SOCK = 9;
export const BPF_CGROUP_INET_SOCK_CREATE = 2;

// return codes: include/uapi/linux/pkt_cls.h and bpf.h enum xdp_action
export const TC_ACT_UNSPEC = -1;
export const XDP_PASS = 2;

/** Slots must be distinct u32s; a program's rules run in slot order. */
export function sortedRules(rules: readonly SlotRule[]): SlotRule[] {
  const seen = new Set<number>();
  for (const r of rules) {
    if (!Number.isInteger(r.slot) || r.slot < 0 || r.slot > 0xffffffff) throw new PktmarkError('INVALID_ARGUMENT', `bpf: rule slot ${r.slot} is not a u32`, { field: 'slot' });
    if (seen.has(r.slot)) throw new PktmarkError('INVALID_ARGUMENT', `bpf: rule slot ${r.slot} is used twice`, { field: 'slot' });
    seen.add(r.slot);
  }
  return [...rules].sort((a, b) => a.slot - b.slot);
}
