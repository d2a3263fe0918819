/**
 * The bpf(2) operations pktmark uses, as one small typed interface. `openBpf()` gives the real
 * one (koffi, loaded on first call); `pktmark/testing`'s FakeBpf implements the same interface in
 * memory, with fault injection. Every method either succeeds or throws a PktmarkError
 * (see bpf-errors.ts): EPERM with the capability hint, NOT_FOUND, BPF_VERIFIER or SYSCALL.
 *
 * Fds returned here belong to the caller, who closes them with `close()`. A program or map lives
 * while any fd, attachment, pin or (for maps) loaded program refers to it.
 */
import { KoffiBpf } from './bpf-koffi.js';

export interface ProgLoadRequest {
  /** BPF_PROG_TYPE_* */
  readonly type: number;
  /** the instructions, 8 bytes each, host order (codecs/bpf's assemble() output) */
  readonly insns: Uint8Array;
  /** "GPL" unlocks GPL-only helpers; the kernel reads it as a C string */
  readonly license: string;
  /** ≤ 15 characters of [A-Za-z0-9_.] (the kernel's rule) */
  readonly name: string;
  /** BPF_* attach type the verifier should check against (needed for CGROUP_SOCK) */
  readonly expectedAttachType?: number;
  /** BPF_F_* prog_flags */
  readonly flags?: number;
  /**
   * Force a verifier log on the first load (1 or 2). Without it the first load has no log, and
   * only a failed load is retried with log_level 1 to explain the failure: verifying with a log
   * is slower and fails with ENOSPC on a log buffer that is too small.
   */
  readonly logLevel?: number;
}

export interface MapCreateRequest {
  /** BPF_MAP_TYPE_* */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly name: string;
  /** BPF_F_* map_flags */
  readonly flags?: number;
}

export interface ProgInfo {
  readonly id: number;
  readonly type: number;
  readonly name: string;
  /** hex of the kernel's 8-byte program tag, as bpftool prints it */
  readonly tag: string;
  readonly mapIds: readonly number[];
  /** cumulative run time and count; non-zero only while kernel.bpf_stats_enabled is 1 */
  readonly runTimeNs: bigint;
  readonly runCnt: bigint;
  readonly xlatedLen: number;
  readonly jitedLen: number;
}

export interface MapInfo {
  readonly id: number;
  readonly type: number;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
}

export interface AttachRequest {
  /** a cgroup v2 directory fd (cgroup.ts openCgroup) */
  readonly targetFd: number;
  readonly progFd: number;
  /** BPF_CGROUP_* */
  readonly attachType: number;
  /** BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_REPLACE */
  readonly flags?: number;
  /** with BPF_F_REPLACE: the attached program to replace */
  readonly replaceFd?: number;
}

export interface DetachRequest {
  readonly targetFd: number;
  /** the program to detach; required when the cgroup's list is BPF_F_ALLOW_MULTI */
  readonly progFd: number;
  readonly attachType: number;
}

export interface QueryResult {
  /** the cgroup's mode for this attach type: 0 (exclusive), BPF_F_ALLOW_OVERRIDE or BPF_F_ALLOW_MULTI */
  readonly attachFlags: number;
  /** in run order */
  readonly progIds: readonly number[];
}

export interface BpfSys {
  progLoad(p: ProgLoadRequest): number;
  mapCreate(p: MapCreateRequest): number;
  /** BPF_ANY by default; BPF_NOEXIST / BPF_EXIST as the kernel defines them */
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags?: number): void;
  /** undefined when the key has no element (ENOENT) */
  mapLookup(fd: number, key: Uint8Array): Uint8Array | undefined;
  mapDelete(fd: number, key: Uint8Array): void;
  /** the key after `key` (the first key when undefined), or undefined at the end */
  mapNextKey(fd: number, key: Uint8Array | undefined): Uint8Array | undefined;
  progInfo(fd: number): ProgInfo;
  mapInfo(fd: number): MapInfo;
  /** CAP_SYS_ADMIN; NOT_FOUND when no program has this id */
  progGetFdById(id: number): number;
  mapGetFdById(id: number): number;
  /** the next loaded program id after `id` (0 for the first), or undefined at the end; CAP_SYS_ADMIN */
  progNextId(id: number): number | undefined;
  progAttach(p: AttachRequest): void;
  progDetach(p: DetachRequest): void;
  /** `effective`: the programs that run for this cgroup, inherited ones included (BPF_F_QUERY_EFFECTIVE) */
  progQuery(targetFd: number, attachType: number, opts?: { effective?: boolean }): QueryResult;
  /** for tests and tools: pin in bpffs / open a pinned object */
  objPin(fd: number, path: string): void;
  objGet(path: string): number;
  close(fd: number): void;
}

let real: BpfSys | undefined;

/** The kernel's bpf(), through koffi. koffi itself loads on the first call, not here. */
export function openBpf(): BpfSys {
  return (real ??= new KoffiBpf());
}
