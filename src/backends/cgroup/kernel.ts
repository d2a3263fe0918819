/**
 * The kernel steps of the cgroup backend, each closing what it opens: check that the cgroup's
 * hook accepts a BPF_F_ALLOW_MULTI program, attach one rule (config map → program → attach),
 * find pktmark's programs by walking the cgroup v2 tree with BPF_PROG_QUERY, and read a
 * program's rule back from its config map (prog info → map ids → `pktmark_cfg`).
 */
import { posix } from 'node:path';
import { BPF_CGROUP_INET_SOCK_CREATE, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_PROG_TYPE_CGROUP_SOCK } from '../../../codecs/bpf/attr.js';
import {
  CGROUP_SLOT, CONFIG_MAP_REF, CONFIG_VALUE_SIZE, PKTMARK_CGROUP_PROG, PKTMARK_CONFIG_MAP,
  cgroupSockProgram, decodeConfigValue, encodeConfigValue, type ConfigValue,
} from '../../../codecs/bpf/programs/index.js';
import { PktmarkError } from '../../errors.js';
import type { MarkRule } from '../../rule.js';
import type { BpfSys, ProgInfo } from '../../transport/bpf.js';
import type { Cgroup2Mount, CgroupDir, CgroupPath } from '../../transport/cgroup.js';
import type { CgroupFs } from '../../transport/cgroup-fs.js';
import { closeAll, createConfigMap, loadProgram, slotKey } from '../ebpf/load.js';
import { ruleToSpec } from '../ebpf/spec.js';

export const ATTACH_TYPE = BPF_CGROUP_INET_SOCK_CREATE;
/** how long list, delete and clear may spend walking the cgroup tree */
export const WALK_TIMEOUT_MS = 2000;

const isNotFound = (e: unknown): boolean => e instanceof PktmarkError && e.code === 'NOT_FOUND';

function withFd<T>(sys: BpfSys, fd: number, fn: (fd: number) => T): T {
  try { return fn(fd); } finally { closeAll(sys, [fd]); }
}

const modeName = (flags: number): string => (flags & BPF_F_ALLOW_MULTI ? 'BPF_F_ALLOW_MULTI' : flags & BPF_F_ALLOW_OVERRIDE ? 'BPF_F_ALLOW_OVERRIDE' : 'exclusive (no flag)');

function exclusiveError(where: string, self: boolean, flags: number, ids: readonly number[]): PktmarkError {
  return new PktmarkError('NOT_OWNED',
    `cgroup ${where} ${self ? '' : '(an ancestor) '}has ${ids.length === 1 ? 'program' : 'programs'} ${ids.join(', ')} attached at BPF_CGROUP_INET_SOCK_CREATE in ${modeName(flags)} mode; ` +
    'the kernel refuses a BPF_F_ALLOW_MULTI program there (BPF_PROG_ATTACH fails with EPERM), and pktmark never replaces a foreign program',
    { field: 'cgroup', hint: 'detach that program (bpftool cgroup detach …) or re-attach it with BPF_F_ALLOW_MULTI, or mark a cgroup outside its subtree' });
}

/**
 * Refuse, before anything is loaded, what kernel/bpf/cgroup.c would refuse with a bare EPERM:
 * programs in this cgroup attached in another mode than MULTI, or an ancestor whose nearest
 * attachment is exclusive (hierarchy_allows_attach: MULTI or OVERRIDE allow programs below).
 */
export function checkAttachable(sys: BpfSys, fs: CgroupFs, mount: Cgroup2Mount, target: CgroupPath): void {
  const own = withFd(sys, fs.open(target.path), (fd) => sys.progQuery(fd, ATTACH_TYPE));
  if (own.progIds.length > 0 && own.attachFlags !== BPF_F_ALLOW_MULTI) throw exclusiveError(target.relative, true, own.attachFlags, own.progIds);
  const segs = target.relative.split('/').filter(Boolean);
  for (let n = segs.length - 1; n >= 0; n--) {
    const rel = `/${segs.slice(0, n).join('/')}`;
    const q = withFd(sys, fs.open(posix.join(mount.mountPoint, ...segs.slice(0, n))), (fd) => sys.progQuery(fd, ATTACH_TYPE));
    if (q.progIds.length === 0) continue;
    if (q.attachFlags & (BPF_F_ALLOW_MULTI | BPF_F_ALLOW_OVERRIDE)) return;
    throw exclusiveError(rel, false, q.attachFlags, q.progIds);
  }
}

/** One attached rule and the fds that were used for it (the attachment keeps the program, the program its map). */
export interface Held { readonly id: number; readonly cgroupFd: number; readonly progFd: number; readonly mapFd: number }

/** Config map (1 slot) → program → attach with BPF_F_ALLOW_MULTI. On an error nothing of it stays. */
export function attachRule(sys: BpfSys, fs: CgroupFs, mount: Cgroup2Mount, target: CgroupPath, rule: MarkRule): Held {
  const fds: number[] = [];
  let cgroupFd = -1, progFd = -1, attached = false;
  try {
    cgroupFd = fs.open(target.path); fds.push(cgroupFd);
    const mapFd = createConfigMap(sys, 1); fds.push(mapFd);
    sys.mapUpdate(mapFd, slotKey(CGROUP_SLOT), encodeConfigValue(ruleToSpec(rule)));
    progFd = loadProgram(sys, cgroupSockProgram({ config: CONFIG_MAP_REF }), mapFd); fds.push(progFd);
    try {
      sys.progAttach({ targetFd: cgroupFd, progFd, attachType: ATTACH_TYPE, flags: BPF_F_ALLOW_MULTI });
    } catch (e) {
      // EPERM is also the kernel's answer to a foreign exclusive program that appeared since the check
      if (e instanceof PktmarkError && e.code === 'EPERM') checkAttachable(sys, fs, mount, target);
      throw e;
    }
    attached = true;
    return { id: sys.progInfo(progFd).id, cgroupFd, progFd, mapFd };
  } catch (e) {
    if (attached) { try { sys.progDetach({ targetFd: cgroupFd, progFd, attachType: ATTACH_TYPE }); } catch { /* reporting e */ } }
    closeAll(sys, fds.reverse());
    throw e;
  }
}

export function release(sys: BpfSys, h: Held, detach: boolean): void {
  if (detach) { try { sys.progDetach({ targetFd: h.cgroupFd, progFd: h.progFd, attachType: ATTACH_TYPE }); } catch { /* reporting another error */ } }
  closeAll(sys, [h.progFd, h.mapFd, h.cgroupFd]);
}

/** A program attached directly to one cgroup directory. */
export interface Attachment { readonly progId: number; readonly dir: CgroupDir }

/**
 * Every program attached at INET_SOCK_CREATE, per directory (a non-effective query lists a
 * cgroup's own attachments, so each is seen once), breadth-first within WALK_TIMEOUT_MS. A
 * directory that vanishes mid-walk is skipped. `until` stops early once it returns true.
 * A walk cut short by its deadline is a TIMEOUT: a partial list would hide rules.
 */
export function walkAttachments(sys: BpfSys, fs: CgroupFs, mount: Cgroup2Mount, until?: (a: readonly Attachment[]) => boolean): Attachment[] {
  const out: Attachment[] = [];
  const started = Date.now();
  const walk = fs.walk(mount.mountPoint, { timeoutMs: WALK_TIMEOUT_MS });
  for (const dir of walk) {
    let fd: number;
    try { fd = fs.open(dir.path); } catch (e) { if (isNotFound(e)) continue; throw e; }
    const q = withFd(sys, fd, (f) => sys.progQuery(f, ATTACH_TYPE));
    for (const progId of q.progIds) out.push({ progId, dir });
    if (until?.(out)) return out;
  }
  if (walk.stopped) {
    throw new PktmarkError('TIMEOUT', `walking the cgroup v2 tree at ${mount.mountPoint} took over ${WALK_TIMEOUT_MS} ms (${walk.stopped.visited} cgroups in ${Date.now() - started} ms) and was stopped before its end`, {
      field: 'cgroup', hint: 'the host has very many cgroups; nothing was skipped silently — retry, or delete by id',
    });
  }
  return out;
}

/** A pktmark cgroup program opened by id, with its rule as stored in its config map. */
export interface Owned { readonly progFd: number; readonly info: ProgInfo; readonly config: ConfigValue | undefined; readonly raw: Uint8Array | undefined }

/**
 * Open program `id` and read its config map; undefined when it is not pktmark's (another
 * name or type) or already gone. The caller closes `progFd`. Reading by id needs CAP_SYS_ADMIN.
 */
export function openOwned(sys: BpfSys, id: number): Owned | undefined {
  let progFd: number;
  try { progFd = sys.progGetFdById(id); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
  try {
    const info = sys.progInfo(progFd);
    if (info.name !== PKTMARK_CGROUP_PROG || info.type !== BPF_PROG_TYPE_CGROUP_SOCK) { closeAll(sys, [progFd]); return undefined; }
    let config: ConfigValue | undefined, raw: Uint8Array | undefined;
    for (const mapId of info.mapIds) {
      let mapFd: number;
      try { mapFd = sys.mapGetFdById(mapId); } catch (e) { if (isNotFound(e)) continue; throw e; }
      withFd(sys, mapFd, (fd) => {
        const m = sys.mapInfo(fd);
        if (m.name !== PKTMARK_CONFIG_MAP || m.valueSize !== CONFIG_VALUE_SIZE) return;
        raw = sys.mapLookup(fd, slotKey(CGROUP_SLOT));
        // a value pktmark could not have written stays raw (list shows it, never drops it)
        if (raw) { try { config = decodeConfigValue(raw); } catch { config = undefined; } }
      });
    }
    return { progFd, info, config, raw };
  } catch (e) {
    closeAll(sys, [progFd]);
    throw e;
  }
}

/** Detach `progFd` from a directory; a cgroup or attachment that has gone meanwhile is no error. */
export function detachFrom(sys: BpfSys, fs: CgroupFs, dir: CgroupDir, progFd: number): void {
  let fd: number;
  try { fd = fs.open(dir.path); } catch (e) { if (isNotFound(e)) return; throw e; }
  withFd(sys, fd, (f) => {
    try { sys.progDetach({ targetFd: f, progFd, attachType: ATTACH_TYPE }); } catch (e) { if (!isNotFound(e)) throw e; }
  });
}
