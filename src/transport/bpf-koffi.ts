/**
 * BpfSys over the real bpf(2), through koffi's syscall(2). Every pointer in bpf_attr points at
 * native memory allocated for that one call (a JS buffer could move under the kernel) and freed
 * in `finally`; errno is read right after the call, before any other native call can reset it.
 */
import { readFileSync } from 'node:fs';
import { PktmarkError } from '../errors.js';
import {
  BPF_ANY, BPF_F_QUERY_EFFECTIVE, BPF_LOG_LEVEL1, BPF_MAP_CREATE, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_FD_BY_ID,
  BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD, BPF_OBJ_NAME_LEN,
  BPF_OBJ_PIN, BPF_PROG_ATTACH, BPF_PROG_DETACH, BPF_PROG_GET_FD_BY_ID, BPF_PROG_GET_NEXT_ID, BPF_PROG_LOAD,
  BPF_PROG_QUERY, BPF_TAG_SIZE, checkObjName, getIdAttr, infoAttr, mapCreateAttr, mapElemAttr, mapInfo as mapInfoLayout,
  objAttr, progAttachAttr, progInfo as progInfoLayout, progLoadAttr, progQueryAttr, readCString, readHex, writeObjName,
} from '../../codecs/bpf/attr.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { BpfVerifierError, bpfError } from './bpf-errors.js';
import type { AttachRequest, BpfSys, DetachRequest, MapCreateRequest, MapInfo, ProgInfo, ProgLoadRequest, QueryResult } from './bpf.js';
import { EAGAIN, ENOENT, ENOSPC, getLibc, type Libc, type NativeBuffer } from './syscalls.js';

/** __NR_bpf: arch/x86/entry/syscalls/syscall_64.tbl (321) and include/uapi/asm-generic/unistd.h (280, arm64) */
const SYS_BPF: Readonly<Record<string, number>> = { x64: 321, arm64: 280 };

/** First verifier log buffer, and the cap: kernels before 5.2 refuse log_size > UINT_MAX >> 8. */
const LOG_START = 64 * 1024;
const LOG_MAX = (1 << 24) - 1;
/** libbpf retries BPF_PROG_LOAD on EAGAIN (a verifier interrupted by a signal); so do we, as often */
const LOAD_ATTEMPTS = 5;
const MAP_IDS_START = 64;
const PROG_IDS_START = 64;

/** Native memory for one operation's pointers, all freed together. */
class Mem {
  private readonly bufs: NativeBuffer[] = [];
  constructor(private readonly c: Libc) {}
  out(size: number): NativeBuffer {
    const b = this.c.alloc(size);
    this.bufs.push(b);
    return b;
  }
  in(bytes: Uint8Array): bigint {
    const b = this.out(bytes.length);
    b.bytes.set(bytes);
    return b.address;
  }
  /** a NUL-terminated copy of `s` (UTF-8) */
  cstring(s: string): bigint {
    const utf8 = new TextEncoder().encode(s);
    const b = this.out(utf8.length + 1);
    b.bytes.set(utf8);
    return b.address;
  }
  release(b: NativeBuffer): void {
    b.free();
    this.bufs.splice(this.bufs.indexOf(b), 1);
  }
  freeAll(): void { for (const b of this.bufs.splice(0)) b.free(); }
}

interface Result { readonly rc: number; readonly errno: number; readonly attr: Uint8Array }

const PERCPU_MAP_TYPES = new Set([5, 6, 10]); // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH

/** /sys/devices/system/cpu/possible ("0-3,8"): a per-CPU value is round_up(value_size, 8) per possible CPU */
function possibleCpus(): number {
  let n = 0;
  for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

export class KoffiBpf implements BpfSys {
  private libcCache: Libc | undefined;
  private nrCache: number | undefined;

  private get libc(): Libc { return (this.libcCache ??= getLibc()); }

  private get nr(): number {
    if (this.nrCache !== undefined) return this.nrCache;
    const nr = SYS_BPF[process.arch];
    if (nr === undefined) throw new PktmarkError('UNSUPPORTED', `bpf(): no syscall number known for ${process.arch} (pktmark supports x64 and arm64)`);
    return (this.nrCache = nr);
  }

  private with<T>(fn: (m: Mem) => T): T {
    const m = new Mem(this.libc);
    try { return fn(m); } finally { m.freeAll(); }
  }

  /** One bpf(cmd, attr, size). The attr is copied to native memory and copied back (the kernel writes some fields). */
  private sys(m: Mem, cmd: number, attr: Uint8Array): Result {
    const a = m.out(attr.length);
    a.bytes.set(attr);
    const rc = this.libc.syscall3(this.nr, cmd, a.address, attr.length);
    const errno = rc < 0 ? this.libc.errno() : 0;
    const out = a.bytes.slice();
    m.release(a);
    return { rc, errno, attr: out };
  }

  progLoad(p: ProgLoadRequest): number {
    checkObjName(p.name, 'name');
    if (p.insns.length === 0 || p.insns.length % 8 !== 0) {
      throw new PktmarkError('INVALID_ARGUMENT', `BPF_PROG_LOAD: ${p.insns.length} bytes of instructions is not a whole number of 8-byte instructions`, { field: 'insns' });
    }
    return this.with((m) => {
      const insns = m.in(p.insns);
      const license = m.cstring(p.license);
      const load = (logLevel: number, logSize: number): Result & { log: string; trueSize: number } => {
        const log = logSize > 0 ? m.out(logSize) : undefined;
        const attr = progLoadAttr.encode({
          prog_type: p.type, insn_cnt: p.insns.length / 8, insns, license,
          log_level: log ? logLevel : 0, log_size: logSize, log_buf: log?.address ?? 0n, kern_version: 0,
          prog_flags: p.flags ?? 0, prog_ifindex: 0, expected_attach_type: p.expectedAttachType ?? 0, log_true_size: 0,
        });
        writeObjName(attr, progLoadAttr.offsets.prog_name, p.name);
        let r = this.sys(m, BPF_PROG_LOAD, attr);
        for (let i = 1; i < LOAD_ATTEMPTS && r.rc < 0 && r.errno === EAGAIN; i++) r = this.sys(m, BPF_PROG_LOAD, attr);
        const text = log ? readCString(log.bytes, 0, log.bytes.length) : '';
        if (log) m.release(log);
        return { ...r, log: text, trueSize: progLoadAttr.decode(r.attr).log_true_size };
      };
      const first = load(p.logLevel ?? 0, p.logLevel ? LOG_START : 0);
      if (first.rc >= 0) return first.rc;
      // Failed: load again with a log to say why, growing the buffer while the kernel says it
      // was too small (ENOSPC; 6.4+ also reports the size it needed in log_true_size).
      let size = LOG_START;
      for (;;) {
        const r = load(p.logLevel || BPF_LOG_LEVEL1, size);
        if (r.rc >= 0) return r.rc; // the first failure was transient
        const truncated = r.errno === ENOSPC && r.log.length > 0;
        if (truncated && size < LOG_MAX) { size = Math.min(LOG_MAX, Math.max(size * 4, r.trueSize + 1)); continue; }
        if (r.log.length > 0) throw new BpfVerifierError(p.name, r.errno, r.log, truncated);
        throw bpfError(BPF_PROG_LOAD, first.errno, { what: `of ${JSON.stringify(p.name)}` });
      }
    });
  }

  mapCreate(p: MapCreateRequest): number {
    checkObjName(p.name, 'name');
    return this.with((m) => {
      const attr = mapCreateAttr.encode({ map_type: p.type, key_size: p.keySize, value_size: p.valueSize, max_entries: p.maxEntries, map_flags: p.flags ?? 0 });
      writeObjName(attr, mapCreateAttr.offsets.map_name, p.name);
      const r = this.sys(m, BPF_MAP_CREATE, attr);
      if (r.rc < 0) throw bpfError(BPF_MAP_CREATE, r.errno, { what: `of ${JSON.stringify(p.name)}` });
      return r.rc;
    });
  }

  /** key and value sizes from the kernel, so a short JS buffer can never make the kernel read past our memory */
  private sizes(fd: number): { key: number; value: number } {
    const i = this.mapInfo(fd);
    return { key: i.keySize, value: PERCPU_MAP_TYPES.has(i.type) ? Math.ceil(i.valueSize / 8) * 8 * possibleCpus() : i.valueSize };
  }

  private checkLen(what: 'key' | 'value', got: number, want: number): void {
    if (got !== want) throw new PktmarkError('INVALID_ARGUMENT', `map ${what} is ${got} bytes, the map's ${what} size is ${want}`, { field: what });
  }

  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    const s = this.sizes(fd);
    this.checkLen('key', key.length, s.key);
    this.checkLen('value', value.length, s.value);
    this.with((m) => {
      const r = this.sys(m, BPF_MAP_UPDATE_ELEM, mapElemAttr.encode({ map_fd: fd, key: m.in(key), value: m.in(value), flags: BigInt(flags) }));
      if (r.rc < 0) throw bpfError(BPF_MAP_UPDATE_ELEM, r.errno);
    });
  }

  mapLookup(fd: number, key: Uint8Array): Uint8Array | undefined {
    const s = this.sizes(fd);
    this.checkLen('key', key.length, s.key);
    return this.with((m) => {
      const value = m.out(s.value);
      const r = this.sys(m, BPF_MAP_LOOKUP_ELEM, mapElemAttr.encode({ map_fd: fd, key: m.in(key), value: value.address, flags: 0n }));
      if (r.rc < 0 && r.errno === ENOENT) return undefined;
      if (r.rc < 0) throw bpfError(BPF_MAP_LOOKUP_ELEM, r.errno);
      return value.bytes.slice();
    });
  }

  mapDelete(fd: number, key: Uint8Array): void {
    this.checkLen('key', key.length, this.sizes(fd).key);
    this.with((m) => {
      const r = this.sys(m, BPF_MAP_DELETE_ELEM, mapElemAttr.encode({ map_fd: fd, key: m.in(key), value: 0n, flags: 0n }));
      if (r.rc < 0) throw bpfError(BPF_MAP_DELETE_ELEM, r.errno);
    });
  }

  mapNextKey(fd: number, key: Uint8Array | undefined): Uint8Array | undefined {
    const size = this.sizes(fd).key;
    if (key) this.checkLen('key', key.length, size);
    return this.with((m) => {
      const next = m.out(size);
      const r = this.sys(m, BPF_MAP_GET_NEXT_KEY, mapElemAttr.encode({ map_fd: fd, key: key ? m.in(key) : 0n, value: next.address, flags: 0n }));
      if (r.rc < 0 && r.errno === ENOENT) return undefined;
      if (r.rc < 0) throw bpfError(BPF_MAP_GET_NEXT_KEY, r.errno);
      return next.bytes.slice();
    });
  }

  /** BPF_OBJ_GET_INFO_BY_FD into a zeroed info struct; `fill` sets its in/out pointers first */
  private info(m: Mem, fd: number, size: number, fill?: (info: DataView) => void): Uint8Array {
    const info = m.out(size);
    if (fill) fill(new DataView(info.bytes.buffer, info.bytes.byteOffset, size));
    const r = this.sys(m, BPF_OBJ_GET_INFO_BY_FD, infoAttr.encode({ bpf_fd: fd, info_len: size, info: info.address }));
    if (r.rc < 0) throw bpfError(BPF_OBJ_GET_INFO_BY_FD, r.errno);
    return info.bytes.slice();
  }

  progInfo(fd: number): ProgInfo {
    return this.with((m) => {
      const o = progInfoLayout.offsets;
      for (let room = MAP_IDS_START; ; ) {
        const ids = m.out(room * 4);
        const bytes = this.info(m, fd, progInfoLayout.size, (v) => {
          v.setUint32(o.nr_map_ids, room, HOST_LITTLE_ENDIAN);
          v.setBigUint64(o.map_ids, ids.address, HOST_LITTLE_ENDIAN);
        });
        const i = progInfoLayout.decode(bytes);
        if (i.nr_map_ids > room) { room = i.nr_map_ids; continue; } // the kernel wrote `room` ids and said how many there are
        const view = new DataView(ids.bytes.buffer, ids.bytes.byteOffset, room * 4);
        return {
          id: i.id, type: i.type, name: readCString(bytes, o.name, BPF_OBJ_NAME_LEN), tag: readHex(bytes, o.tag, BPF_TAG_SIZE),
          mapIds: Array.from({ length: i.nr_map_ids }, (_, k) => view.getUint32(k * 4, HOST_LITTLE_ENDIAN)),
          runTimeNs: i.run_time_ns, runCnt: i.run_cnt, xlatedLen: i.xlated_prog_len, jitedLen: i.jited_prog_len,
        };
      }
    });
  }

  mapInfo(fd: number): MapInfo {
    return this.with((m) => {
      const bytes = this.info(m, fd, mapInfoLayout.size);
      const i = mapInfoLayout.decode(bytes);
      return {
        id: i.id, type: i.type, name: readCString(bytes, mapInfoLayout.offsets.name, BPF_OBJ_NAME_LEN),
        keySize: i.key_size, valueSize: i.value_size, maxEntries: i.max_entries, flags: i.map_flags,
      };
    });
  }

  private fdById(cmd: number, id: number): number {
    return this.with((m) => {
      const r = this.sys(m, cmd, getIdAttr.encode({ id, next_id: 0, open_flags: 0 }));
      if (r.rc < 0) throw bpfError(cmd, r.errno, { what: `of id ${id}`, field: 'id' });
      return r.rc;
    });
  }

  progGetFdById(id: number): number { return this.fdById(BPF_PROG_GET_FD_BY_ID, id); }
  mapGetFdById(id: number): number { return this.fdById(BPF_MAP_GET_FD_BY_ID, id); }

  progNextId(id: number): number | undefined {
    return this.with((m) => {
      const r = this.sys(m, BPF_PROG_GET_NEXT_ID, getIdAttr.encode({ id, next_id: 0, open_flags: 0 }));
      if (r.rc < 0 && r.errno === ENOENT) return undefined;
      if (r.rc < 0) throw bpfError(BPF_PROG_GET_NEXT_ID, r.errno);
      return getIdAttr.decode(r.attr).next_id;
    });
  }

  progAttach(p: AttachRequest): void {
    this.with((m) => {
      const r = this.sys(m, BPF_PROG_ATTACH, progAttachAttr.encode({
        target_fd: p.targetFd, attach_bpf_fd: p.progFd, attach_type: p.attachType, attach_flags: p.flags ?? 0, replace_bpf_fd: p.replaceFd ?? 0,
      }));
      if (r.rc < 0) throw bpfError(BPF_PROG_ATTACH, r.errno);
    });
  }

  progDetach(p: DetachRequest): void {
    this.with((m) => {
      const r = this.sys(m, BPF_PROG_DETACH, progAttachAttr.encode({
        target_fd: p.targetFd, attach_bpf_fd: p.progFd, attach_type: p.attachType, attach_flags: 0, replace_bpf_fd: 0,
      }));
      if (r.rc < 0) throw bpfError(BPF_PROG_DETACH, r.errno, { hint: r.errno === ENOENT ? 'that program is not attached there' : undefined });
    });
  }

  progQuery(targetFd: number, attachType: number, opts: { effective?: boolean } = {}): QueryResult {
    return this.with((m) => {
      for (let room = PROG_IDS_START; ; ) {
        const ids = m.out(room * 4);
        const r = this.sys(m, BPF_PROG_QUERY, progQueryAttr.encode({
          target_fd: targetFd, attach_type: attachType, query_flags: opts.effective ? BPF_F_QUERY_EFFECTIVE : 0,
          attach_flags: 0, prog_ids: ids.address, prog_cnt: room, prog_attach_flags: 0n,
        }));
        const q = progQueryAttr.decode(r.attr);
        // ENOSPC: more programs than room; prog_cnt says how many there are
        if (r.rc < 0 && r.errno === ENOSPC && q.prog_cnt > room) { room = q.prog_cnt; continue; }
        if (r.rc < 0) throw bpfError(BPF_PROG_QUERY, r.errno);
        const view = new DataView(ids.bytes.buffer, ids.bytes.byteOffset, room * 4);
        return { attachFlags: q.attach_flags, progIds: Array.from({ length: q.prog_cnt }, (_, k) => view.getUint32(k * 4, HOST_LITTLE_ENDIAN)) };
      }
    });
  }

  objPin(fd: number, path: string): void {
    this.with((m) => {
      const r = this.sys(m, BPF_OBJ_PIN, objAttr.encode({ pathname: m.cstring(path), bpf_fd: fd, file_flags: 0 }));
      if (r.rc < 0) throw bpfError(BPF_OBJ_PIN, r.errno, { what: `at ${path}` });
    });
  }

  objGet(path: string): number {
    return this.with((m) => {
      const r = this.sys(m, BPF_OBJ_GET, objAttr.encode({ pathname: m.cstring(path), bpf_fd: 0, file_flags: 0 }));
      if (r.rc < 0) throw bpfError(BPF_OBJ_GET, r.errno, { what: `of ${path}` });
      return r.rc;
    });
  }

  close(fd: number): void {
    if (this.libc.close(fd) < 0) {
      const errno = this.libc.errno();
      throw new PktmarkError('SYSCALL', `close(${fd}): errno ${errno}`, { errno });
    }
  }
}
