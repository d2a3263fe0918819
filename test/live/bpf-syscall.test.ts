/**
 * The real bpf() through koffi (root): maps, program load and info, the verifier's rejection
 * with its log, get-by-id, EPERM as nobody, and a CGROUP_SOCK program attached with
 * BPF_F_ALLOW_MULTI to a fresh cgroup that is always removed. Nothing stays loaded: every fd is
 * closed in `finally`, and the test checks by id that the programs are gone.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BPF_CGROUP_INET_SOCK_CREATE, BPF_F_ALLOW_MULTI, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_PROG_TYPE_CGROUP_SOCK,
  BPF_PROG_TYPE_SOCKET_FILTER,
} from '../../codecs/bpf/attr.js';
import { openBpf, type BpfSys } from '../../src/transport/bpf.js';
import { findCgroup2Mount, openCgroup, resolveCgroupPath } from '../../src/transport/cgroup.js';
import { inCI, isRoot, uniqueName } from '../helpers/netns.js';

/** r0 = imm (BPF_ALU64 | BPF_MOV | BPF_K = 0xb7), exit (BPF_JMP | BPF_EXIT = 0x95): 16 bytes, host order */
function ret(imm: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0xb7;
  new DataView(b.buffer).setInt32(4, imm, true);
  b[8] = 0x95;
  return b;
}
/** exit with r0 never written: the verifier's "R0 !read_ok" */
const UNINIT_EXIT = new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0]);
/** r1 = map fd (BPF_LD_IMM64 = 0x18 with src_reg BPF_PSEUDO_MAP_FD = 1, two slots), then r0 = 0; exit */
function referencing(mapFd: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = 0x18;
  b[1] = 0x01 | (1 << 4);
  new DataView(b.buffer).setInt32(4, mapFd, true);
  b.set(ret(0), 16);
  return b;
}
const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };

function unavailable(): string | undefined {
  if (!isRoot()) return 'needs root (bpf() with CAP_BPF/CAP_NET_ADMIN/CAP_SYS_ADMIN)';
  if (process.arch !== 'x64' && process.arch !== 'arm64') return `no bpf syscall number for ${process.arch}`;
  return undefined;
}

function bpfTest(title: string, fn: (t: ExecutionContext, bpf: BpfSys) => void): void {
  const why = unavailable();
  if (why === undefined) { test.serial(title, (t) => fn(t, openBpf())); return; }
  if (inCI()) { test(title, (t) => { t.fail(`live test cannot run: ${why}`); }); return; }
  console.log(`skip: ${title}: ${why}`);
  test.skip(title, () => {});
}

/** Close every fd opened in `fn`, whatever happens. */
function withFds<T>(bpf: BpfSys, fn: (keep: (fd: number) => number) => T): T {
  const fds: number[] = [];
  try { return fn((fd) => { fds.push(fd); return fd; }); } finally { for (const fd of fds.reverse()) bpf.close(fd); }
}

const gone = (bpf: BpfSys, id: number): boolean => {
  try { bpf.close(bpf.progGetFdById(id)); return false; } catch (e) { return (e as { code?: string }).code === 'NOT_FOUND'; }
};

bpfTest('bpf: array and hash maps: create, info, update, lookup, delete, next key; sizes checked before the call', (t, bpf) => {
  withFds(bpf, (keep) => {
    const a = keep(bpf.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, name: 'pm_live_arr' }));
    t.like(bpf.mapInfo(a), { type: BPF_MAP_TYPE_ARRAY, name: 'pm_live_arr', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 });
    t.deepEqual(bpf.mapLookup(a, u32(3)), new Uint8Array(8), 'array elements exist, zeroed');
    t.is(bpf.mapLookup(a, u32(4)), undefined, 'past the end: ENOENT');
    bpf.mapUpdate(a, u32(1), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    t.deepEqual(bpf.mapLookup(a, u32(1)), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    t.like(t.throws(() => bpf.mapDelete(a, u32(1))), { code: 'SYSCALL', errno: 22 }, 'array elements cannot be deleted (EINVAL)');
    t.like(t.throws(() => bpf.mapUpdate(a, u32(9), new Uint8Array(8))), { code: 'SYSCALL', errno: 7 }, 'index past the end: E2BIG');
    t.like(t.throws(() => bpf.mapUpdate(a, u32(0), new Uint8Array(4))), { code: 'INVALID_ARGUMENT', field: 'value' });

    const h = keep(bpf.mapCreate({ type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 4, maxEntries: 8, name: 'pm_live_hash' }));
    bpf.mapUpdate(h, u32(7), u32(70));
    t.deepEqual(bpf.mapNextKey(h, undefined), u32(7));
    t.is(bpf.mapNextKey(h, u32(7)), undefined);
    bpf.mapDelete(h, u32(7));
    t.is(bpf.mapLookup(h, u32(7)), undefined);
  });
});

bpfTest('bpf: load r0 = 0; exit, read its info, get it by id; a program that references a map lists it; all gone after close', (t, bpf) => {
  const ids = withFds(bpf, (keep) => {
    const p = keep(bpf.progLoad({ type: BPF_PROG_TYPE_SOCKET_FILTER, insns: ret(0), license: 'GPL', name: 'pm_live_ret0' }));
    const info = bpf.progInfo(p);
    t.like(info, { type: BPF_PROG_TYPE_SOCKET_FILTER, name: 'pm_live_ret0', mapIds: [], xlatedLen: 16 });
    t.regex(info.tag, /^[0-9a-f]{16}$/);
    t.is(typeof info.runCnt, 'bigint');
    const again = keep(bpf.progGetFdById(info.id));
    t.is(bpf.progInfo(again).id, info.id);

    const m = keep(bpf.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: 'pm_live_cfg' }));
    const mapId = bpf.mapInfo(m).id;
    const q = keep(bpf.progLoad({ type: BPF_PROG_TYPE_SOCKET_FILTER, insns: referencing(m), license: 'GPL', name: 'pm_live_map' }));
    const qi = bpf.progInfo(q);
    t.deepEqual(qi.mapIds, [mapId]);
    t.is(bpf.mapInfo(keep(bpf.mapGetFdById(mapId))).name, 'pm_live_cfg');
    let listed = false;
    for (let id = bpf.progNextId(0); id !== undefined; id = bpf.progNextId(id)) listed ||= id === qi.id;
    t.true(listed, 'BPF_PROG_GET_NEXT_ID lists it');
    return [info.id, qi.id];
  });
  for (const id of ids) t.true(gone(bpf, id), `program ${id} unloaded once its fds are closed`);
  t.like(t.throws(() => bpf.progGetFdById(ids[0])), { code: 'NOT_FOUND', field: 'id' });
});

bpfTest('bpf: an exit with r0 unset is BPF_VERIFIER with the verifier\'s "R0 !read_ok", and nothing stays loaded', (t, bpf) => {
  const before = new Set<number>();
  for (let id = bpf.progNextId(0); id !== undefined; id = bpf.progNextId(id)) before.add(id);
  const e = t.throws(() => bpf.progLoad({ type: BPF_PROG_TYPE_SOCKET_FILTER, insns: UNINIT_EXIT, license: 'GPL', name: 'pm_live_bad' })) as unknown as { code: string; message: string; log: string; errno: number };
  t.is(e.code, 'BPF_VERIFIER');
  t.regex(e.log, /R0 !read_ok/);
  t.regex(e.message, /verifier rejected program "pm_live_bad" \(EACCES\):[\s\S]*R0 !read_ok/);
  t.is(e.errno, 13);
  const after: number[] = [];
  for (let id = bpf.progNextId(0); id !== undefined; id = bpf.progNextId(id)) if (!before.has(id)) after.push(id);
  const named = after.filter((id) => { try { const fd = bpf.progGetFdById(id); try { return bpf.progInfo(fd).name === 'pm_live_bad'; } finally { bpf.close(fd); } } catch { return false; } });
  t.deepEqual(named, [], 'no program of that name was left loaded');
  t.like(t.throws(() => bpf.progLoad({ type: BPF_PROG_TYPE_SOCKET_FILTER, insns: ret(0), license: 'GPL', name: 'pm-bad-name' })), { code: 'INVALID_ARGUMENT', field: 'name' });
});

bpfTest('bpf: as nobody, loading a SCHED_CLS program is EPERM naming BPF_PROG_LOAD and the capabilities it needs', (t) => {
  const url = (p: string): string => pathToFileURL(join(process.cwd(), p)).href;
  const code = `import { openBpf } from ${JSON.stringify(url('src/transport/bpf.ts'))};
try { openBpf().progLoad({ type: 3, insns: new Uint8Array([0xb7,0,0,0,0,0,0,0,0x95,0,0,0,0,0,0,0]), license: 'GPL', name: 'pm_live_eperm' }); console.log('{}'); }
catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message, hint: e.hint })); }`;
  const r = spawnSync('/usr/bin/setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
  t.like(out, { code: 'EPERM', errno: 1, message: 'BPF_PROG_LOAD of "pm_live_eperm": EPERM (errno 1)' });
  t.regex(out.hint, /CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN/);
});

bpfTest('bpf: a CGROUP_SOCK program attached with BPF_F_ALLOW_MULTI to a fresh cgroup, queried, detached; the cgroup removed', (t, bpf) => {
  const mount = findCgroup2Mount();
  const name = uniqueName('pktmark-test');
  const dir = join(mount.mountPoint, name);
  mkdirSync(dir);
  let progId = 0;
  try {
    const cg = resolveCgroupPath(name, mount);
    t.deepEqual(cg, { path: dir, relative: `/${name}` });
    withFds(bpf, (keep) => {
      const target = keep(openCgroup(cg.path));
      const p = keep(bpf.progLoad({ type: BPF_PROG_TYPE_CGROUP_SOCK, insns: ret(1), license: 'GPL', name: 'pm_live_sock', expectedAttachType: BPF_CGROUP_INET_SOCK_CREATE }));
      progId = bpf.progInfo(p).id;
      t.deepEqual(bpf.progQuery(target, BPF_CGROUP_INET_SOCK_CREATE), { attachFlags: 0, progIds: [] });
      bpf.progAttach({ targetFd: target, progFd: p, attachType: BPF_CGROUP_INET_SOCK_CREATE, flags: BPF_F_ALLOW_MULTI });
      try {
        t.deepEqual(bpf.progQuery(target, BPF_CGROUP_INET_SOCK_CREATE), { attachFlags: BPF_F_ALLOW_MULTI, progIds: [progId] });
        t.like(t.throws(() => bpf.progAttach({ targetFd: target, progFd: p, attachType: BPF_CGROUP_INET_SOCK_CREATE })), { code: 'EPERM', errno: 1 },
          'an exclusive attach on top of a MULTI list is refused (EPERM from __cgroup_bpf_attach, not a capability)');
        t.true(bpf.progQuery(target, BPF_CGROUP_INET_SOCK_CREATE, { effective: true }).progIds.includes(progId));
      } finally {
        bpf.progDetach({ targetFd: target, progFd: p, attachType: BPF_CGROUP_INET_SOCK_CREATE });
      }
      t.deepEqual(bpf.progQuery(target, BPF_CGROUP_INET_SOCK_CREATE), { attachFlags: 0, progIds: [] });
      t.like(t.throws(() => bpf.progDetach({ targetFd: target, progFd: p, attachType: BPF_CGROUP_INET_SOCK_CREATE })), { code: 'NOT_FOUND', errno: 2 });
    });
  } finally {
    rmdirSync(dir);
  }
  t.true(gone(bpf, progId), 'the program is unloaded after detach and close');
  t.like(t.throws(() => resolveCgroupPath(name, mount)), { code: 'NOT_FOUND', field: 'cgroup' });
});

bpfTest('bpf: a verifier log larger than the first 64 KiB buffer is read whole (the buffer grows on ENOSPC)', (t, bpf) => {
  // 6000 × `r1 = 0`, then `r0 = r2` (0xbf, src r2) with r2 unset, then exit: ~270 KB of log at level 1
  const n = 6000;
  const insns = new Uint8Array((n + 2) * 8);
  for (let i = 0; i < n; i++) { insns[i * 8] = 0xb7; insns[i * 8 + 1] = 0x01; }
  insns[n * 8] = 0xbf;
  insns[n * 8 + 1] = 0x20;
  insns[(n + 1) * 8] = 0x95;
  const e = t.throws(() => bpf.progLoad({ type: BPF_PROG_TYPE_SOCKET_FILTER, insns, license: 'GPL', name: 'pm_live_biglog' })) as unknown as { code: string; log: string; truncated: boolean; message: string };
  t.is(e.code, 'BPF_VERIFIER');
  t.false(e.truncated);
  t.true(e.log.length > 64 * 1024, `log is ${e.log.length} characters`);
  t.regex(e.log, /^0: R1=ctx\(\) R10=fp0|^0: \(b7\) r1 = 0/m, 'starts at instruction 0');
  t.regex(e.log, /R2 !read_ok/);
  t.true(e.message.length < 9000, 'the message carries only the tail');
});
