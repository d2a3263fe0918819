/**
 * A program set: one loaded program holding all rules of one place (a device and direction for
 * bpf, a device for xdp) and its config map, one value per rule slot. The kernel is the only
 * state: the attached program's id (from the filter or link dump) leads to its map
 * (progInfo().mapIds, the one named pktmark_cfg), and the map holds every rule's spec and
 * counters — so list/delete work in any process, after the adding one has exited.
 *
 * Reaching a program by id needs CAP_SYS_ADMIN (BPF_PROG_GET_FD_BY_ID, BPF_MAP_GET_FD_BY_ID; see
 * transport/bpf-errors.ts), even when this process loaded it.
 */
import { decodeConfigValue, encodeConfigValue, CONFIG_VALUE_SIZE, PKTMARK_CONFIG_MAP, type BpfProgram, type BpfRuleSpec, type SlotRule } from '../../../codecs/bpf/programs/index.js';
import { PktmarkError } from '../../errors.js';
import type { BpfSys } from '../../transport/bpf.js';
import { closeAll, createConfigMap, loadProgram, programBytes, slotKey } from './load.js';

/** slots per config map (BPF_MAP_TYPE_ARRAY max_entries): the rules one place can hold */
export const MAX_SLOTS = 1024;

export interface Slot {
  readonly slot: number;
  /** undefined when the value does not decode (kept as raw by list, never dropped) */
  readonly spec?: BpfRuleSpec;
  readonly error?: string;
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** fds a user operation opened; closed once at its end, whatever happened */
export class Fds {
  private readonly fds: number[] = [];
  constructor(readonly sys: BpfSys) {}
  keep(fd: number): number { this.fds.push(fd); return fd; }
  closeAll(): void { closeAll(this.sys, this.fds.splice(0)); }
}

export interface OpenSet {
  readonly progFd: number;
  readonly mapFd: number;
  readonly progId: number;
  readonly slots: readonly Slot[];
}

/**
 * Open the attached program `progId` and its config map, and read the rules. A program that is
 * not named `name` or has no pktmark_cfg map is not pktmark's: NOT_OWNED.
 */
export function openSet(fds: Fds, progId: number, name: string, where: string): OpenSet {
  const sys = fds.sys;
  const progFd = fds.keep(sys.progGetFdById(progId));
  const info = sys.progInfo(progFd);
  if (info.name !== name) throw new PktmarkError('NOT_OWNED', `${where}: program ${progId} is ${JSON.stringify(info.name)}, not pktmark's ${name}; it is left alone`, { field: 'dev' });
  for (const id of info.mapIds) {
    const fd = fds.keep(sys.mapGetFdById(id));
    const m = sys.mapInfo(fd);
    if (m.name === PKTMARK_CONFIG_MAP && m.valueSize === CONFIG_VALUE_SIZE && m.keySize === 4) {
      return { progFd, mapFd: fd, progId, slots: readSlots(sys, fd, m.maxEntries) };
    }
  }
  throw new PktmarkError('NOT_OWNED', `${where}: program ${progId} (${info.name}) has no ${PKTMARK_CONFIG_MAP} map; it is left alone`, { field: 'dev' });
}

/** Every used slot of a config map, in slot order. */
export function readSlots(sys: BpfSys, mapFd: number, entries: number): Slot[] {
  const out: Slot[] = [];
  for (let slot = 0; slot < entries; slot++) {
    const v = sys.mapLookup(mapFd, slotKey(slot));
    if (!v || v.every((b) => b === 0)) continue;
    try {
      const d = decodeConfigValue(v);
      if (d.spec) out.push({ slot, spec: d.spec, packets: d.packets, bytes: d.bytes });
    } catch (e) {
      out.push({ slot, error: e instanceof Error ? e.message : String(e), packets: 0n, bytes: 0n });
    }
  }
  return out;
}

/** The lowest `n` slots not in use; BPF_TOO_LARGE when the map is full (checked before anything is loaded). */
export function freeSlots(used: readonly Slot[], n: number, where: string): number[] {
  const taken = new Set(used.map((s) => s.slot));
  const out: number[] = [];
  for (let s = 0; s < MAX_SLOTS && out.length < n; s++) if (!taken.has(s)) out.push(s);
  if (out.length < n) {
    throw new PktmarkError('BPF_TOO_LARGE', `${where}: ${used.length} + ${n} rules exceed the ${MAX_SLOTS} slots of one program's config map`, { field: 'dev', hint: 'spread the rules over devices, or use via: \'nft\' with a set' });
  }
  return out;
}

/** The set's rules as the program generators take them (undecodable slots cannot be compiled: refused). */
export function slotRules(slots: readonly Slot[], where: string): SlotRule[] {
  return slots.map((s) => {
    if (!s.spec) throw new PktmarkError('DECODE', `${where}: config slot ${s.slot} does not decode (${s.error}); delete it or clear the backend`, { field: 'id' });
    return { slot: s.slot, spec: s.spec };
  });
}

/** Assemble once with the placeholder fd: a program too large fails here, before a map or program exists. */
export function checkSize(p: BpfProgram): void { programBytes(p); }

export const newConfigMap = (fds: Fds): number => fds.keep(createConfigMap(fds.sys, MAX_SLOTS));
export const load = (fds: Fds, p: BpfProgram, mapFd: number): number => fds.keep(loadProgram(fds.sys, p, mapFd));

/** Write new rules' values (their counters start at zero, the bucket full). */
export function writeSlots(sys: BpfSys, mapFd: number, rules: readonly SlotRule[]): void {
  for (const r of rules) sys.mapUpdate(mapFd, slotKey(r.slot), encodeConfigValue(r.spec));
}

/** An array map element cannot be deleted: a freed slot is written back to zeros ("unused"). */
export function clearSlots(sys: BpfSys, mapFd: number, slots: readonly number[]): void {
  const zero = new Uint8Array(CONFIG_VALUE_SIZE);
  for (const s of slots) sys.mapUpdate(mapFd, slotKey(s), zero);
}
