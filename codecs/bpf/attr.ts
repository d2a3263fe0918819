/**
 * `union bpf_attr` and the two info structs pktmark reads back, from include/uapi/linux/bpf.h.
 * Each command has its own member of the union; each is declared here as its own struct, with the
 * fields in the header's order. Everything is host order (the kernel copies bpf_attr with
 * copy_from_user, no byte swapping). Pointers are `__aligned_u64` fields that the caller fills
 * with an address; this module never touches memory outside the bytes it is given.
 *
 * The kernel accepts an attr shorter than its own union (the rest reads as zero) and a longer one
 * whose tail is zero (bpf_check_uarg_tail_zero), so each layout stops at its last field in use.
 */
import { defineStruct, type FieldSpec, type Struct } from '../netlink/struct.js';
import { PktmarkError } from '../errors.js';

/** BPF_OBJ_NAME_LEN: prog_name, map_name and the info structs' name are char[16], NUL-terminated. */
export const BPF_OBJ_NAME_LEN = 16;
/** BPF_TAG_SIZE: bpf_prog_info.tag is the first 8 bytes of the program's SHA-1. */
export const BPF_TAG_SIZE = 8;

/** enum bpf_cmd */
export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_MAP_DELETE_ELEM = 3;
export const BPF_MAP_GET_NEXT_KEY = 4;
export const BPF_PROG_LOAD = 5;
export const BPF_OBJ_PIN = 6;
export const BPF_OBJ_GET = 7;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_NEXT_ID = 11;
export const BPF_MAP_GET_NEXT_ID = 12;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_MAP_GET_FD_BY_ID = 14;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_PROG_QUERY = 16;

/** The command names, for error messages ("BPF_PROG_LOAD: Permission denied"). */
export const BPF_CMD_NAMES: Readonly<Record<number, string>> = {
  [BPF_MAP_CREATE]: 'BPF_MAP_CREATE', [BPF_MAP_LOOKUP_ELEM]: 'BPF_MAP_LOOKUP_ELEM',
  [BPF_MAP_UPDATE_ELEM]: 'BPF_MAP_UPDATE_ELEM', [BPF_MAP_DELETE_ELEM]: 'BPF_MAP_DELETE_ELEM',
  [BPF_MAP_GET_NEXT_KEY]: 'BPF_MAP_GET_NEXT_KEY', [BPF_PROG_LOAD]: 'BPF_PROG_LOAD',
  [BPF_OBJ_PIN]: 'BPF_OBJ_PIN', [BPF_OBJ_GET]: 'BPF_OBJ_GET', [BPF_PROG_ATTACH]: 'BPF_PROG_ATTACH',
  [BPF_PROG_DETACH]: 'BPF_PROG_DETACH', [BPF_PROG_GET_NEXT_ID]: 'BPF_PROG_GET_NEXT_ID',
  [BPF_MAP_GET_NEXT_ID]: 'BPF_MAP_GET_NEXT_ID', [BPF_PROG_GET_FD_BY_ID]: 'BPF_PROG_GET_FD_BY_ID',
  [BPF_MAP_GET_FD_BY_ID]: 'BPF_MAP_GET_FD_BY_ID', [BPF_OBJ_GET_INFO_BY_FD]: 'BPF_OBJ_GET_INFO_BY_FD',
  [BPF_PROG_QUERY]: 'BPF_PROG_QUERY',
};

/** enum bpf_prog_type (the ones pktmark loads, and SOCKET_FILTER for probes) */
export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_SCHED_ACT = 4;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_PROG_TYPE_CGROUP_SKB = 8;
export const BPF_PROG_TYPE_CGROUP_SOCK = 9;

/** enum bpf_attach_type */
export const BPF_CGROUP_INET_INGRESS = 0;
export const BPF_CGROUP_INET_EGRESS = 1;
export const BPF_CGROUP_INET_SOCK_CREATE = 2;
export const BPF_CGROUP_INET4_POST_BIND = 12;
export const BPF_CGROUP_INET6_POST_BIND = 13;
export const BPF_CGROUP_INET_SOCK_RELEASE = 34;
export const BPF_XDP = 37;

/** enum bpf_map_type */
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;

/**
 * BPF_PROG_ATTACH flags for cgroups. Without a flag the program is exclusive: nothing may be
 * attached below it. OVERRIDE lets a child cgroup's program replace it; MULTI keeps a list
 * that runs in order, and is the only mode that lets systemd's programs and ours coexist.
 */
export const BPF_F_ALLOW_OVERRIDE = 1 << 0;
export const BPF_F_ALLOW_MULTI = 1 << 1;
/** with MULTI: replace_bpf_fd names the attached program to swap out atomically */
export const BPF_F_REPLACE = 1 << 2;
/** BPF_PROG_QUERY: the programs that run for this cgroup, inherited ones included */
export const BPF_F_QUERY_EFFECTIVE = 1 << 0;

/** BPF_MAP_UPDATE_ELEM flags */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** BPF_MAP_CREATE map_flags / open_flags */
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;

/** BPF_PROG_LOAD log_level: 1 = the verifier's instruction trace, 2 = every state, 4 = stats only */
export const BPF_LOG_LEVEL1 = 1;
export const BPF_LOG_LEVEL2 = 2;
export const BPF_LOG_STATS = 4;

/** A struct plus the byte offset of every field (char arrays included), from one field list. */
export interface Layout<T> extends Struct<T> {
  readonly offsets: Readonly<Record<string, number>>;
}

const u32 = (name: string): FieldSpec => ({ name, type: 'u32', order: 'host' });
const u64 = (name: string): FieldSpec => ({ name, type: 'u64', order: 'host' });
/** char[n] / __u8[n]: bytes, read and written with the name helpers below */
const chars = (name: string, size: number): FieldSpec => ({ name, type: 'pad', size });
/** the hole the compiler leaves before an __aligned_u64 or at the end of an 8-aligned struct */
const hole = (size: number): FieldSpec => ({ name: '', type: 'pad', size });

function layout<T extends { [K in keyof T]: number | bigint }>(name: string, fields: readonly FieldSpec[]): Layout<T> {
  const offsets: Record<string, number> = {};
  let at = 0;
  for (const f of fields) {
    if (f.name) offsets[f.name] = at;
    at += f.type === 'pad' ? (f.size ?? 0) : f.type === 'u64' ? 8 : f.type === 'u16' ? 2 : f.type === 'u8' ? 1 : 4;
  }
  return { ...defineStruct<T>(name, fields), offsets };
}

/** BPF_MAP_CREATE (bpf.h: `struct { /* anonymous struct used by BPF_MAP_CREATE command *\/`) */
export interface MapCreateAttr {
  map_type: number; key_size: number; value_size: number; max_entries: number; map_flags: number;
  inner_map_fd?: number; numa_node?: number; map_ifindex?: number;
}
export const mapCreateAttr = layout<MapCreateAttr>('bpf_attr.map_create', [
  u32('map_type'), u32('key_size'), u32('value_size'), u32('max_entries'), u32('map_flags'),
  u32('inner_map_fd'), u32('numa_node'), chars('map_name', BPF_OBJ_NAME_LEN), u32('map_ifindex'),
  u32('btf_fd'), u32('btf_key_type_id'), u32('btf_value_type_id'), u32('btf_vmlinux_value_type_id'),
  u64('map_extra'),
]);

/** BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM and GET_NEXT_KEY: `value` is `next_key` for the latter */
export interface MapElemAttr { map_fd: number; key: bigint; value: bigint; flags: bigint }
export const mapElemAttr = layout<MapElemAttr>('bpf_attr.map_elem', [
  u32('map_fd'), hole(4), u64('key'), u64('value'), u64('flags'),
]);

/** BPF_PROG_LOAD. log_true_size (6.4+) is written back by kernels that know it; older ones see a zero tail. */
export interface ProgLoadAttr {
  prog_type: number; insn_cnt: number; insns: bigint; license: bigint;
  log_level: number; log_size: number; log_buf: bigint; kern_version: number; prog_flags: number;
  prog_ifindex: number; expected_attach_type: number; log_true_size: number;
}
export const progLoadAttr = layout<ProgLoadAttr>('bpf_attr.prog_load', [
  u32('prog_type'), u32('insn_cnt'), u64('insns'), u64('license'),
  u32('log_level'), u32('log_size'), u64('log_buf'), u32('kern_version'), u32('prog_flags'),
  chars('prog_name', BPF_OBJ_NAME_LEN), u32('prog_ifindex'), u32('expected_attach_type'),
  u32('prog_btf_fd'), u32('func_info_rec_size'), u64('func_info'), u32('func_info_cnt'),
  u32('line_info_rec_size'), u64('line_info'), u32('line_info_cnt'), u32('attach_btf_id'),
  u32('attach_prog_fd'), u32('core_relo_cnt'), u64('fd_array'), u64('core_relos'),
  u32('core_relo_rec_size'), u32('log_true_size'),
]);

/** BPF_OBJ_PIN / BPF_OBJ_GET: a path in bpffs */
export interface ObjAttr { pathname: bigint; bpf_fd: number; file_flags: number }
export const objAttr = layout<ObjAttr>('bpf_attr.obj', [u64('pathname'), u32('bpf_fd'), u32('file_flags')]);

/** BPF_PROG_ATTACH / BPF_PROG_DETACH (cgroup form: target_fd is the cgroup directory's fd) */
export interface ProgAttachAttr {
  target_fd: number; attach_bpf_fd: number; attach_type: number; attach_flags: number; replace_bpf_fd: number;
}
export const progAttachAttr = layout<ProgAttachAttr>('bpf_attr.prog_attach', [
  u32('target_fd'), u32('attach_bpf_fd'), u32('attach_type'), u32('attach_flags'), u32('replace_bpf_fd'),
]);

/** BPF_PROG_GET_FD_BY_ID / BPF_MAP_GET_FD_BY_ID (`start_id`, `prog_id` and `map_id` share offset 0) */
export interface GetIdAttr { id: number; next_id: number; open_flags: number }
export const getIdAttr = layout<GetIdAttr>('bpf_attr.get_id', [u32('id'), u32('next_id'), u32('open_flags')]);

/** BPF_OBJ_GET_INFO_BY_FD: the kernel writes at most info_len bytes and stores the length it wrote */
export interface InfoAttr { bpf_fd: number; info_len: number; info: bigint }
export const infoAttr = layout<InfoAttr>('bpf_attr.info', [u32('bpf_fd'), u32('info_len'), u64('info')]);

/**
 * BPF_PROG_QUERY. In: prog_cnt = room in prog_ids. Out: prog_cnt = programs attached (even when
 * more than the room: then ENOSPC), attach_flags = the cgroup's mode (0, OVERRIDE or MULTI).
 */
export interface ProgQueryAttr {
  target_fd: number; attach_type: number; query_flags: number; attach_flags: number;
  prog_ids: bigint; prog_cnt: number; prog_attach_flags: bigint;
}
export const progQueryAttr = layout<ProgQueryAttr>('bpf_attr.query', [
  u32('target_fd'), u32('attach_type'), u32('query_flags'), u32('attach_flags'),
  u64('prog_ids'), u32('prog_cnt'), hole(4), u64('prog_attach_flags'),
]);

/** struct bpf_prog_info, up to attach_btf_id (232 bytes with the trailing hole, as on 6.1) */
export interface ProgInfo {
  type: number; id: number; jited_prog_len: number; xlated_prog_len: number;
  jited_prog_insns: bigint; xlated_prog_insns: bigint; load_time: bigint; created_by_uid: number;
  nr_map_ids: number; map_ids: bigint; ifindex: number; netns_dev: bigint; netns_ino: bigint;
  run_time_ns: bigint; run_cnt: bigint; recursion_misses: bigint; verified_insns: number;
}
export const progInfo = layout<ProgInfo>('bpf_prog_info', [
  u32('type'), u32('id'), chars('tag', BPF_TAG_SIZE), u32('jited_prog_len'), u32('xlated_prog_len'),
  u64('jited_prog_insns'), u64('xlated_prog_insns'), u64('load_time'), u32('created_by_uid'),
  u32('nr_map_ids'), u64('map_ids'), chars('name', BPF_OBJ_NAME_LEN), u32('ifindex'),
  u32('gpl_compatible'), u64('netns_dev'), u64('netns_ino'), u32('nr_jited_ksyms'),
  u32('nr_jited_func_lens'), u64('jited_ksyms'), u64('jited_func_lens'), u32('btf_id'),
  u32('func_info_rec_size'), u64('func_info'), u32('nr_func_info'), u32('nr_line_info'),
  u64('line_info'), u64('jited_line_info'), u32('nr_jited_line_info'), u32('line_info_rec_size'),
  u32('jited_line_info_rec_size'), u32('nr_prog_tags'), u64('prog_tags'), u64('run_time_ns'),
  u64('run_cnt'), u64('recursion_misses'), u32('verified_insns'), u32('attach_btf_obj_id'),
  u32('attach_btf_id'), hole(4),
]);

/** struct bpf_map_info, up to map_extra (88 bytes) */
export interface MapInfo {
  type: number; id: number; key_size: number; value_size: number; max_entries: number; map_flags: number;
  ifindex: number; netns_dev: bigint; netns_ino: bigint; map_extra: bigint;
}
export const mapInfo = layout<MapInfo>('bpf_map_info', [
  u32('type'), u32('id'), u32('key_size'), u32('value_size'), u32('max_entries'), u32('map_flags'),
  chars('name', BPF_OBJ_NAME_LEN), u32('ifindex'), u32('btf_vmlinux_value_type_id'),
  u64('netns_dev'), u64('netns_ino'), u32('btf_id'), u32('btf_key_type_id'), u32('btf_value_type_id'),
  hole(4), u64('map_extra'),
]);

/**
 * The kernel's rule for object names (kernel/bpf/syscall.c bpf_obj_name_cpy): at most 15 bytes
 * of `[A-Za-z0-9_.]`, since the 16th is the NUL. Anything else is EINVAL from the kernel; we say
 * which name and why before any call.
 */
export function checkObjName(name: string, field = 'name'): void {
  if (name.length >= BPF_OBJ_NAME_LEN || !/^[A-Za-z0-9_.]*$/.test(name)) {
    throw new PktmarkError('INVALID_ARGUMENT',
      `bpf object name ${JSON.stringify(name)}: at most ${BPF_OBJ_NAME_LEN - 1} characters of [A-Za-z0-9_.]`, { field });
  }
}

/** Write a checked name into a char[16] field at `offset` (the rest stays zero: the NUL). */
export function writeObjName(bytes: Uint8Array, offset: number, name: string): void {
  checkObjName(name);
  for (let i = 0; i < name.length; i++) bytes[offset + i] = name.charCodeAt(i);
}

/** Read a NUL-terminated char[len] field. */
export function readCString(bytes: Uint8Array, offset: number, len: number): string {
  let s = '';
  for (let i = 0; i < len && offset + i < bytes.length; i++) {
    const c = bytes[offset + i];
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Read `len` bytes as lower-case hex (bpf_prog_info.tag prints like bpftool's `tag`). */
export function readHex(bytes: Uint8Array, offset: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += bytes[offset + i].toString(16).padStart(2, '0');
  return s;
}
