/**
 * An in-memory bpf() for tests without root: {@link FakeBpf} implements the same
 * {@link BpfSys} interface as the real kernel binding, with the kernel's rules where a caller
 * could get them wrong (array maps, cgroup attach modes, reference counts), and fault injection.
 * Errors come from the same errno mapping as the real binding, so a test sees the codes
 * (`EPERM`, `NOT_FOUND`, `BPF_VERIFIER`, `SYSCALL`) and hints production code would see.
 *
 * @example
 * ```ts
 * const bpf = new FakeBpf();
 * const cg = bpf.addCgroup('/svc');
 * bpf.failNext('progAttach', EPERM);          // the next attach fails like a missing CAP_NET_ADMIN
 * await t.throwsAsync(() => marker.add(rule), { code: 'EPERM' });
 * t.deepEqual(bpf.liveObjects(), []);         // nothing stayed loaded
 * ```
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import {
  BPF_ANY, BPF_EXIST, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_REPLACE, BPF_MAP_CREATE, BPF_MAP_DELETE_ELEM,
  BPF_MAP_GET_FD_BY_ID, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_ELEM, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH,
  BPF_MAP_UPDATE_ELEM, BPF_NOEXIST, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD, BPF_OBJ_PIN, BPF_PROG_ATTACH, BPF_PROG_DETACH,
  BPF_PROG_GET_FD_BY_ID, BPF_PROG_GET_NEXT_ID, BPF_PROG_LOAD, BPF_PROG_QUERY, checkObjName,
} from '../../codecs/bpf/attr.js';
import { BpfVerifierError, bpfError } from '../transport/bpf-errors.js';
import type {
  AttachRequest, BpfSys, DetachRequest, MapCreateRequest, MapInfo, ProgInfo, ProgLoadRequest, QueryResult,
} from '../transport/bpf.js';
import { E2BIG, EACCES, EBADF, EEXIST, EINVAL, ENOENT, EPERM } from '../transport/syscalls.js';
import { PktmarkError } from '../errors.js';

/** The BpfSys methods, by name: what {@link FakeBpf.failNext} and {@link FakeBpf.calls} count. */
export type BpfOp = keyof BpfSys;

/** The bpf command each operation issues (close is not a bpf command: it fails as SYSCALL). */
const CMD: Record<BpfOp, number> = {
  progLoad: BPF_PROG_LOAD, mapCreate: BPF_MAP_CREATE, mapUpdate: BPF_MAP_UPDATE_ELEM, mapLookup: BPF_MAP_LOOKUP_ELEM,
  mapDelete: BPF_MAP_DELETE_ELEM, mapNextKey: BPF_MAP_GET_NEXT_KEY, progInfo: BPF_OBJ_GET_INFO_BY_FD,
  mapInfo: BPF_OBJ_GET_INFO_BY_FD, progGetFdById: BPF_PROG_GET_FD_BY_ID, mapGetFdById: BPF_MAP_GET_FD_BY_ID,
  progNextId: BPF_PROG_GET_NEXT_ID, progAttach: BPF_PROG_ATTACH, progDetach: BPF_PROG_DETACH, progQuery: BPF_PROG_QUERY,
  objPin: BPF_OBJ_PIN, objGet: BPF_OBJ_GET, close: -1,
};

/** One injected failure: an errno, or (for progLoad) a verifier rejection with its log. */
export type Fault = { readonly errno: number } | { readonly verifierLog: string; readonly errno?: number };

/** A program the fake holds: what was loaded, and what refers to it. */
export interface FakeProgram {
  readonly kind: 'prog';
  readonly id: number;
  readonly type: number;
  readonly name: string;
  readonly insns: Uint8Array;
  readonly license: string;
  readonly expectedAttachType: number;
  /** ids of the maps its `BPF_LD_IMM64 … BPF_PSEUDO_MAP_FD` instructions named */
  readonly mapIds: readonly number[];
  refs: number;
}

/** A map: its parameters (what BPF_OBJ_GET_INFO_BY_FD reports) and elements (hex key → value). */
export interface FakeMap extends MapInfo {
  readonly kind: 'map';
  readonly elements: Map<string, Uint8Array>;
  refs: number;
}

/** A cgroup made with {@link FakeBpf.addCgroup}: attach lists per attach type, and its parent. */
export interface FakeCgroup {
  readonly kind: 'cgroup';
  readonly path: string;
  readonly parent: FakeCgroup | undefined;
  /** attach type → the cgroup's mode (0, OVERRIDE or MULTI) and its programs in run order */
  readonly attached: Map<number, { flags: number; progs: FakeProgram[] }>;
}

type Obj = FakeProgram | FakeMap;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The kernel's cgroup limit on programs per attach type (kernel/bpf/cgroup.c BPF_CGROUP_MAX_PROGS). */
export const BPF_CGROUP_MAX_PROGS = 64;

/**
 * An in-memory kernel for {@link BpfSys}: fds, ids, array and hash maps, programs with their
 * names and map references, cgroup attachments with the kernel's MULTI/OVERRIDE/exclusive rules,
 * pins, and fault injection. Objects are reference-counted as in the kernel: a program lives
 * while an fd, an attachment or a pin holds it; a map also while a loaded program references it.
 */
export class FakeBpf implements BpfSys {
  /** every call made, in order (`close` included), for assertions on what production code did */
  readonly calls: { readonly op: BpfOp; readonly args: readonly unknown[] }[] = [];
  private readonly fds = new Map<number, Obj | FakeCgroup>();
  private readonly objects = new Map<string, Obj>();
  private readonly pins = new Map<string, Obj>();
  private readonly cgroups = new Map<string, FakeCgroup>();
  private readonly byCall = new Map<number, Fault>();
  private readonly byOp = new Map<BpfOp, Fault[]>();
  private nextFd = 100;
  private nextId = 1;

  /** Make the call numbered `n` (1-based, counting every call of any kind) fail with `fault`. */
  failCall(n: number, fault: Fault | number): this {
    this.byCall.set(n, typeof fault === 'number' ? { errno: fault } : fault);
    return this;
  }

  /** Make the next call of kind `op` fail (queued: call twice to fail the next two). */
  failNext(op: BpfOp, fault: Fault | number): this {
    const q = this.byOp.get(op) ?? [];
    q.push(typeof fault === 'number' ? { errno: fault } : fault);
    this.byOp.set(op, q);
    return this;
  }

  /** Make the next `progLoad` fail as a verifier rejection with this log (EACCES, as for `R0 !read_ok`). */
  rejectNextLoad(log: string, errno = EACCES): this {
    return this.failNext('progLoad', { verifierLog: log, errno });
  }

  /** A cgroup to attach to; returns its directory fd. `parent` is another cgroup's fd. */
  addCgroup(path: string, parent?: number): number {
    const p = parent === undefined ? undefined : this.fds.get(parent);
    if (parent !== undefined && p?.kind !== 'cgroup') throw new Error(`FakeBpf.addCgroup: ${parent} is not a cgroup fd`);
    const cg: FakeCgroup = this.cgroups.get(path) ?? { kind: 'cgroup', path, parent: p as FakeCgroup | undefined, attached: new Map() };
    this.cgroups.set(path, cg);
    return this.newFd(cg);
  }

  /** The cgroup registered at `path`, for inspecting its attachments. */
  cgroup(path: string): FakeCgroup | undefined { return this.cgroups.get(path); }

  /** Programs and maps still alive (held by an fd, attachment, pin or program). Empty after a clean test. */
  liveObjects(): readonly Obj[] { return [...this.objects.values()]; }

  /** Programs still loaded. */
  programs(): readonly FakeProgram[] { return this.liveObjects().filter((o): o is FakeProgram => o.kind === 'prog'); }

  /** Maps still alive. */
  maps(): readonly FakeMap[] { return this.liveObjects().filter((o): o is FakeMap => o.kind === 'map'); }

  /** Open bpf fds (cgroup fds made by addCgroup excluded). */
  openFds(): readonly number[] { return [...this.fds].filter(([, o]) => o.kind !== 'cgroup').map(([fd]) => fd); }

  // ---- BpfSys ----

  progLoad(p: ProgLoadRequest): number {
    this.enter('progLoad', [p]);
    checkObjName(p.name, 'name');
    if (p.insns.length === 0 || p.insns.length % 8 !== 0) throw bpfError(BPF_PROG_LOAD, EINVAL, { what: `of ${JSON.stringify(p.name)}` });
    const last = p.insns[p.insns.length - 8];
    // the verifier's check_cfg: control must not fall off the end (the last instruction is exit 0x95 or ja 0x05)
    if (last !== 0x95 && last !== 0x05) throw new BpfVerifierError(p.name, EINVAL, 'last insn is not an exit or jmp\n', false);
    const mapIds: number[] = [];
    const v = new DataView(p.insns.buffer, p.insns.byteOffset, p.insns.byteLength);
    for (let at = 0; at + 16 <= p.insns.length; at += 8) {
      // BPF_LD | BPF_IMM | BPF_DW (0x18) with src_reg BPF_PSEUDO_MAP_FD (1): imm is a map fd
      if (p.insns[at] !== 0x18) continue;
      if (p.insns[at + 1] >> 4 === 1) {
        const m = this.fds.get(v.getInt32(at + 4, true));
        if (m?.kind !== 'map') throw new BpfVerifierError(p.name, EBADF, `fd ${v.getInt32(at + 4, true)} is not pointing to valid bpf_map\n`, false);
        if (!mapIds.includes(m.id)) mapIds.push(m.id);
      }
      at += 8;
    }
    const prog: FakeProgram = {
      kind: 'prog', id: this.nextId++, type: p.type, name: p.name, insns: p.insns.slice(), license: p.license,
      expectedAttachType: p.expectedAttachType ?? 0, mapIds, refs: 0,
    };
    for (const id of mapIds) this.ref(this.objects.get(`map:${id}`)!);
    this.objects.set(`prog:${prog.id}`, prog);
    return this.newFd(prog);
  }

  mapCreate(p: MapCreateRequest): number {
    this.enter('mapCreate', [p]);
    checkObjName(p.name, 'name');
    // array_map_alloc_check: 4-byte keys; both kinds need non-zero sizes and entries
    const ok = (p.type === BPF_MAP_TYPE_ARRAY && p.keySize === 4) || (p.type === BPF_MAP_TYPE_HASH && p.keySize > 0);
    if (!ok || p.valueSize === 0 || p.maxEntries === 0) throw bpfError(BPF_MAP_CREATE, EINVAL, { what: `of ${JSON.stringify(p.name)}` });
    const m: FakeMap = {
      kind: 'map', id: this.nextId++, type: p.type, name: p.name, keySize: p.keySize, valueSize: p.valueSize,
      maxEntries: p.maxEntries, flags: p.flags ?? 0, elements: new Map(), refs: 0,
    };
    this.objects.set(`map:${m.id}`, m);
    return this.newFd(m);
  }

  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.enter('mapUpdate', [fd, key, value, flags]);
    const m = this.map(fd, BPF_MAP_UPDATE_ELEM);
    this.sizes(m, key, value);
    const k = hex(key);
    if (m.type === BPF_MAP_TYPE_ARRAY) {
      // array_map_update_elem: every element exists, so NOEXIST is EEXIST; an index past the end is E2BIG
      if (flags > BPF_EXIST) throw bpfError(BPF_MAP_UPDATE_ELEM, EINVAL);
      if (this.index(key) >= m.maxEntries) throw bpfError(BPF_MAP_UPDATE_ELEM, E2BIG);
      if (flags === BPF_NOEXIST) throw bpfError(BPF_MAP_UPDATE_ELEM, EEXIST);
    } else {
      const has = m.elements.has(k);
      if (flags === BPF_NOEXIST && has) throw bpfError(BPF_MAP_UPDATE_ELEM, EEXIST);
      if (flags === BPF_EXIST && !has) throw bpfError(BPF_MAP_UPDATE_ELEM, ENOENT);
      if (!has && m.elements.size >= m.maxEntries) throw bpfError(BPF_MAP_UPDATE_ELEM, E2BIG);
    }
    m.elements.set(k, value.slice());
  }

  mapLookup(fd: number, key: Uint8Array): Uint8Array | undefined {
    this.enter('mapLookup', [fd, key]);
    const m = this.map(fd, BPF_MAP_LOOKUP_ELEM);
    this.sizes(m, key);
    if (m.type === BPF_MAP_TYPE_ARRAY) return this.index(key) < m.maxEntries ? (m.elements.get(hex(key))?.slice() ?? new Uint8Array(m.valueSize)) : undefined;
    return m.elements.get(hex(key))?.slice();
  }

  mapDelete(fd: number, key: Uint8Array): void {
    this.enter('mapDelete', [fd, key]);
    const m = this.map(fd, BPF_MAP_DELETE_ELEM);
    this.sizes(m, key);
    if (m.type === BPF_MAP_TYPE_ARRAY) throw bpfError(BPF_MAP_DELETE_ELEM, EINVAL); // array_map_delete_elem
    if (!m.elements.delete(hex(key))) throw bpfError(BPF_MAP_DELETE_ELEM, ENOENT);
  }

  mapNextKey(fd: number, key: Uint8Array | undefined): Uint8Array | undefined {
    this.enter('mapNextKey', [fd, key]);
    const m = this.map(fd, BPF_MAP_GET_NEXT_KEY);
    if (m.type === BPF_MAP_TYPE_ARRAY) {
      const next = key === undefined || this.index(key) >= m.maxEntries ? 0 : this.index(key) + 1;
      if (next >= m.maxEntries) return undefined;
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, next, true);
      return out;
    }
    const keys = [...m.elements.keys()];
    const i = key === undefined ? 0 : keys.indexOf(hex(key)) + 1;
    return i < keys.length ? Uint8Array.from(Buffer.from(keys[i], 'hex')) : undefined;
  }

  progInfo(fd: number): ProgInfo {
    this.enter('progInfo', [fd]);
    const p = this.prog(fd, BPF_OBJ_GET_INFO_BY_FD);
    return {
      id: p.id, type: p.type, name: p.name, tag: createHash('sha1').update(p.insns).digest('hex').slice(0, 16),
      mapIds: [...p.mapIds], runTimeNs: 0n, runCnt: 0n, xlatedLen: p.insns.length, jitedLen: 0,
    };
  }

  mapInfo(fd: number): MapInfo {
    this.enter('mapInfo', [fd]);
    const m = this.map(fd, BPF_OBJ_GET_INFO_BY_FD);
    return { id: m.id, type: m.type, name: m.name, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags };
  }

  progGetFdById(id: number): number {
    this.enter('progGetFdById', [id]);
    return this.fdById(`prog:${id}`, BPF_PROG_GET_FD_BY_ID, id);
  }

  mapGetFdById(id: number): number {
    this.enter('mapGetFdById', [id]);
    return this.fdById(`map:${id}`, BPF_MAP_GET_FD_BY_ID, id);
  }

  progNextId(id: number): number | undefined {
    this.enter('progNextId', [id]);
    return this.programs().map((p) => p.id).filter((i) => i > id).sort((a, b) => a - b)[0];
  }

  progAttach(p: AttachRequest): void {
    this.enter('progAttach', [p]);
    const cg = this.target(p.targetFd, BPF_PROG_ATTACH);
    const prog = this.prog(p.progFd, BPF_PROG_ATTACH);
    const flags = p.flags ?? 0;
    // __cgroup_bpf_attach (kernel/bpf/cgroup.c): the flag combinations it refuses
    if (flags & ~(BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI | BPF_F_REPLACE)) throw bpfError(BPF_PROG_ATTACH, EINVAL);
    if ((flags & BPF_F_ALLOW_OVERRIDE && flags & BPF_F_ALLOW_MULTI) || (flags & BPF_F_REPLACE && !(flags & BPF_F_ALLOW_MULTI))) throw bpfError(BPF_PROG_ATTACH, EINVAL);
    // hierarchy_allows_attach: the nearest ancestor with programs decides; MULTI and OVERRIDE
    // allow programs below, an exclusive (no-flag) program forbids them
    for (let a = cg.parent; a; a = a.parent) {
      const l = a.attached.get(p.attachType);
      if (!l || l.progs.length === 0) continue;
      if (l.flags === 0) throw bpfError(BPF_PROG_ATTACH, EPERM, { hint: `an ancestor cgroup (${a.path}) has an exclusive program for this attach type` });
      break;
    }
    const mode = flags & (BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI);
    const list = cg.attached.get(p.attachType) ?? { flags: mode, progs: [] };
    // "Disallow attaching non-overridable on top of existing overridable in this cgroup;
    //  disallow attaching multi-prog if overridable or none" — EPERM, not a capability problem
    if (list.progs.length > 0 && list.flags !== mode) {
      throw bpfError(BPF_PROG_ATTACH, EPERM, { hint: `the cgroup's programs for this attach type were attached with flags ${list.flags}, not ${mode}` });
    }
    if (mode === BPF_F_ALLOW_MULTI) {
      if (list.progs.includes(prog)) throw bpfError(BPF_PROG_ATTACH, EEXIST);
      if (flags & BPF_F_REPLACE) {
        const old = this.prog(p.replaceFd ?? -1, BPF_PROG_ATTACH);
        const i = list.progs.indexOf(old);
        if (i < 0) throw bpfError(BPF_PROG_ATTACH, ENOENT);
        list.progs[i] = prog;
        this.unref(old);
      } else {
        if (list.progs.length >= BPF_CGROUP_MAX_PROGS) throw bpfError(BPF_PROG_ATTACH, E2BIG);
        list.progs.push(prog);
      }
    } else {
      // one program: a second attach replaces it
      for (const old of list.progs.splice(0)) this.unref(old);
      list.progs.push(prog);
    }
    list.flags = mode;
    cg.attached.set(p.attachType, list);
    this.ref(prog);
  }

  progDetach(p: DetachRequest): void {
    this.enter('progDetach', [p]);
    const cg = this.target(p.targetFd, BPF_PROG_DETACH);
    const list = cg.attached.get(p.attachType);
    const prog = p.progFd ? this.prog(p.progFd, BPF_PROG_DETACH) : undefined;
    // find_detach_entry: MULTI needs the program (EINVAL without one); the others detach whatever is there (or that program)
    if (list?.flags === BPF_F_ALLOW_MULTI && !prog) throw bpfError(BPF_PROG_DETACH, EINVAL, { hint: 'a BPF_F_ALLOW_MULTI list needs the program to detach' });
    const i = !list || list.progs.length === 0 ? -1 : prog ? list.progs.indexOf(prog) : 0;
    if (!list || i < 0) throw bpfError(BPF_PROG_DETACH, ENOENT, { hint: 'that program is not attached there' });
    const [gone] = list.progs.splice(i, 1);
    if (list.progs.length === 0) cg.attached.delete(p.attachType);
    this.unref(gone);
  }

  progQuery(targetFd: number, attachType: number, opts: { effective?: boolean } = {}): QueryResult {
    this.enter('progQuery', [targetFd, attachType, opts]);
    const cg = this.target(targetFd, BPF_PROG_QUERY);
    const own = cg.attached.get(attachType);
    if (!opts.effective) return { attachFlags: own?.flags ?? 0, progIds: (own?.progs ?? []).map((p) => p.id) };
    // effective: this cgroup's programs, then each ancestor's while the chain allows (compute_effective_progs)
    const ids: number[] = [];
    for (let c: FakeCgroup | undefined = cg; c; c = c.parent) {
      const l = c.attached.get(attachType);
      if (l && (ids.length === 0 || l.flags === BPF_F_ALLOW_MULTI)) ids.push(...l.progs.map((p) => p.id));
    }
    return { attachFlags: 0, progIds: ids };
  }

  objPin(fd: number, path: string): void {
    this.enter('objPin', [fd, path]);
    const o = this.fds.get(fd);
    if (!o || o.kind === 'cgroup') throw bpfError(BPF_OBJ_PIN, EBADF);
    if (this.pins.has(path)) throw bpfError(BPF_OBJ_PIN, EEXIST, { what: `at ${path}` });
    this.pins.set(path, o);
    this.ref(o);
  }

  objGet(path: string): number {
    this.enter('objGet', [path]);
    const o = this.pins.get(path);
    if (!o) throw bpfError(BPF_OBJ_GET, ENOENT, { what: `of ${path}` });
    return this.newFd(o);
  }

  /** Remove a pin, as unlink(2) of a bpffs file would. */
  unpin(path: string): void {
    const o = this.pins.get(path);
    if (!o) return;
    this.pins.delete(path);
    this.unref(o);
  }

  close(fd: number): void {
    this.enter('close', [fd]);
    const o = this.fds.get(fd);
    if (!o) throw new PktmarkError('SYSCALL', `close(${fd}): EBADF (errno ${EBADF})`, { errno: EBADF });
    this.fds.delete(fd);
    if (o.kind !== 'cgroup') this.unref(o);
  }

  // ---- the fake kernel's internals ----

  private enter(op: BpfOp, args: readonly unknown[]): void {
    this.calls.push({ op, args });
    const fault = this.byCall.get(this.calls.length) ?? this.byOp.get(op)?.shift();
    this.byCall.delete(this.calls.length);
    if (!fault) return;
    if ('verifierLog' in fault) {
      const name = op === 'progLoad' ? (args[0] as ProgLoadRequest).name : '';
      throw new BpfVerifierError(name, fault.errno ?? EACCES, fault.verifierLog, false);
    }
    if (op === 'close') throw new PktmarkError('SYSCALL', `close: errno ${fault.errno}`, { errno: fault.errno });
    throw bpfError(CMD[op], fault.errno);
  }

  private newFd(o: Obj | FakeCgroup): number {
    const fd = this.nextFd++;
    this.fds.set(fd, o);
    if (o.kind !== 'cgroup') this.ref(o);
    return fd;
  }

  private ref(o: Obj): void { o.refs++; }

  /** Drop a reference; at zero the object is freed, and a program's maps lose theirs. */
  private unref(o: Obj): void {
    if (--o.refs > 0) return;
    this.objects.delete(`${o.kind}:${o.id}`);
    if (o.kind === 'prog') for (const id of o.mapIds) { const m = this.objects.get(`map:${id}`); if (m) this.unref(m); }
  }

  private fdById(key: string, cmd: number, id: number): number {
    const o = this.objects.get(key);
    if (!o) throw bpfError(cmd, ENOENT, { what: `of id ${id}`, field: 'id' });
    return this.newFd(o);
  }

  private map(fd: number, cmd: number): FakeMap {
    const o = this.fds.get(fd);
    if (o?.kind !== 'map') throw bpfError(cmd, o ? EINVAL : EBADF);
    return o;
  }

  private prog(fd: number, cmd: number): FakeProgram {
    const o = this.fds.get(fd);
    if (o?.kind !== 'prog') throw bpfError(cmd, o ? EINVAL : EBADF);
    return o;
  }

  private target(fd: number, cmd: number): FakeCgroup {
    const o = this.fds.get(fd);
    if (o?.kind !== 'cgroup') throw bpfError(cmd, EBADF, { hint: 'the target fd is not a cgroup made with FakeBpf.addCgroup' });
    return o;
  }

  private sizes(m: FakeMap, key: Uint8Array, value?: Uint8Array): void {
    if (key.length !== m.keySize) throw new PktmarkError('INVALID_ARGUMENT', `map key is ${key.length} bytes, the map's key size is ${m.keySize}`, { field: 'key' });
    if (value && value.length !== m.valueSize) throw new PktmarkError('INVALID_ARGUMENT', `map value is ${value.length} bytes, the map's value size is ${m.valueSize}`, { field: 'value' });
  }

  private index(key: Uint8Array): number { return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true); }
}
