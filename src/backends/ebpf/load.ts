/**
 * Loading a generated program: assemble it with its config map's fd, load it (BPF_VERIFIER with
 * the log on refusal), and create config maps. Every fd is the caller's to close; on an error
 * nothing this module opened stays open.
 */
import { assemble } from '../../../codecs/bpf/asm.js';
import { BPF_MAP_TYPE_ARRAY } from '../../../codecs/bpf/attr.js';
import { CONFIG_VALUE_SIZE, PKTMARK_CONFIG_MAP, type BpfProgram } from '../../../codecs/bpf/programs/index.js';
import { HOST_LITTLE_ENDIAN } from '../../../codecs/netlink/struct.js';
import type { BpfSys } from '../../transport/bpf.js';

/** Program instructions as loaded; without `configFd` the map loads carry the dry-run placeholder fd 0. */
export function programBytes(p: BpfProgram, configFd?: number): Uint8Array {
  return assemble(p.items, configFd === undefined ? {} : { maps: { [PKTMARK_CONFIG_MAP]: configFd } });
}

export function loadProgram(sys: BpfSys, p: BpfProgram, configFd: number): number {
  return sys.progLoad({
    type: p.progType, insns: programBytes(p, configFd), license: p.license, name: p.name,
    ...(p.expectedAttachType !== undefined ? { expectedAttachType: p.expectedAttachType } : {}),
  });
}

/** A config map: array of `slots` values, key = rule slot. */
export function createConfigMap(sys: BpfSys, slots: number): number {
  return sys.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: CONFIG_VALUE_SIZE, maxEntries: slots, name: PKTMARK_CONFIG_MAP });
}

/** array map keys are host-order u32s */
export const slotKey = (slot: number): Uint8Array => { const k = new Uint8Array(4); new DataView(k.buffer).setUint32(0, slot, HOST_LITTLE_ENDIAN); return k; };

/** Close fds, ignoring errors: used on error paths, where the first error is the one to report. */
export function closeAll(sys: BpfSys, fds: readonly (number | undefined)[]): void {
  for (const fd of fds) if (fd !== undefined && fd >= 0) { try { sys.close(fd); } catch { /* already reporting an error */ } }
}
