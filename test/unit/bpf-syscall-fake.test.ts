/** FakeBpf (pktmark/testing): the kernel rules it models, reference counts, and fault injection. */
import test, { type ExecutionContext } from 'ava';
import {
  BPF_CGROUP_INET_SOCK_CREATE, BPF_EXIST, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_REPLACE, BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH, BPF_NOEXIST, BPF_PROG_TYPE_CGROUP_SOCK, BPF_PROG_TYPE_SCHED_CLS,
} from '../../codecs/bpf/attr.js';
import { BPF_CGROUP_MAX_PROGS, FakeBpf } from '../../src/testing/bpf.js';
import { EPERM, ENOSPC } from '../../src/transport/syscalls.js';

/** t.throws plus a check of the error's fields; a RegExp matches a field's text */
function fails(t: ExecutionContext, fn: () => unknown, want: Record<string, unknown>, msg = ''): Record<string, unknown> {
  const e = t.throws(fn, undefined, msg) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(want)) {
    if (v instanceof RegExp) t.regex(String(e?.[k]), v, `${msg} ${k}`);
    else t.deepEqual(e?.[k], v, `${msg} ${k}`);
  }
  return e;
}

const RET0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
/** r1 = map fd (BPF_LD_IMM64 with BPF_PSEUDO_MAP_FD), r0 = 0, exit */
function withMap(fd: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = 0x18; b[1] = 0x01 | (1 << 4);
  new DataView(b.buffer).setInt32(4, fd, true);
  b.set(RET0, 16);
  return b;
}
const sock = (bpf: FakeBpf, name: string): number => bpf.progLoad({ type: BPF_PROG_TYPE_CGROUP_SOCK, insns: RET0, license: 'GPL', name, expectedAttachType: BPF_CGROUP_INET_SOCK_CREATE });
const attach = (bpf: FakeBpf, targetFd: number, progFd: number, flags?: number, replaceFd?: number): void =>
  bpf.progAttach({ targetFd, progFd, attachType: BPF_CGROUP_INET_SOCK_CREATE, flags, replaceFd });

test('array map: fixed size, zero-filled, NOEXIST is EEXIST, index past the end is E2BIG, delete is EINVAL', (t) => {
  const bpf = new FakeBpf();
  const m = bpf.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, name: 'pm_cfg' });
  t.deepEqual(bpf.mapLookup(m, u32(1)), new Uint8Array(8));
  t.is(bpf.mapLookup(m, u32(2)), undefined);
  bpf.mapUpdate(m, u32(1), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), BPF_EXIST);
  t.deepEqual(bpf.mapLookup(m, u32(1)), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  fails(t, () => bpf.mapUpdate(m, u32(0), new Uint8Array(8), BPF_NOEXIST), { code: 'SYSCALL', errno: 17 });
  fails(t, () => bpf.mapUpdate(m, u32(2), new Uint8Array(8)), { code: 'SYSCALL', errno: 7 });
  fails(t, () => bpf.mapDelete(m, u32(0)), { code: 'SYSCALL', errno: 22 });
  fails(t, () => bpf.mapUpdate(m, u32(0), new Uint8Array(4)), { code: 'INVALID_ARGUMENT', field: 'value' });
  t.deepEqual([bpf.mapNextKey(m, undefined), bpf.mapNextKey(m, u32(0)), bpf.mapNextKey(m, u32(1))], [u32(0), u32(1), undefined]);
  fails(t, () => bpf.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 8, valueSize: 8, maxEntries: 1, name: 'x' }), { code: 'SYSCALL', errno: 22 });
  t.like(bpf.mapInfo(m), { type: BPF_MAP_TYPE_ARRAY, name: 'pm_cfg', keySize: 4, valueSize: 8, maxEntries: 2 });
});

test('hash map: NOEXIST/EXIST, full is E2BIG, delete of a missing key is ENOENT', (t) => {
  const bpf = new FakeBpf();
  const m = bpf.mapCreate({ type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 4, maxEntries: 1, name: 'pm_h' });
  fails(t, () => bpf.mapUpdate(m, u32(5), u32(1), BPF_EXIST), { errno: 2 });
  bpf.mapUpdate(m, u32(5), u32(1), BPF_NOEXIST);
  fails(t, () => bpf.mapUpdate(m, u32(5), u32(1), BPF_NOEXIST), { errno: 17 });
  fails(t, () => bpf.mapUpdate(m, u32(6), u32(1)), { errno: 7 });
  bpf.mapDelete(m, u32(5));
  fails(t, () => bpf.mapDelete(m, u32(5)), { errno: 2 });
});

test('programs: name and map ids recorded; a program holds its maps; closing the last fd unloads both', (t) => {
  const bpf = new FakeBpf();
  const m = bpf.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: 'pm_cfg' });
  const mapId = bpf.mapInfo(m).id;
  const p = bpf.progLoad({ type: BPF_PROG_TYPE_SCHED_CLS, insns: withMap(m), license: 'GPL', name: 'pktmark_tc' });
  const info = bpf.progInfo(p);
  t.like(info, { type: BPF_PROG_TYPE_SCHED_CLS, name: 'pktmark_tc', mapIds: [mapId], xlatedLen: 32 });
  t.regex(info.tag, /^[0-9a-f]{16}$/);
  bpf.close(m);
  t.is(bpf.maps().length, 1, 'the loaded program keeps its map');
  const again = bpf.mapGetFdById(mapId);
  bpf.close(again);
  const p2 = bpf.progGetFdById(info.id);
  bpf.close(p);
  t.is(bpf.programs().length, 1);
  t.is(bpf.progNextId(0), info.id);
  bpf.close(p2);
  t.deepEqual(bpf.liveObjects(), []);
  t.deepEqual(bpf.openFds(), []);
  fails(t, () => bpf.progGetFdById(info.id), { code: 'NOT_FOUND', field: 'id' });
  t.is(bpf.progNextId(0), undefined);
  fails(t, () => bpf.close(p), { code: 'SYSCALL', errno: 9 });
});

test('programs: falling off the end and a bad map fd are verifier rejections', (t) => {
  const bpf = new FakeBpf();
  fails(t, () => bpf.progLoad({ type: 3, insns: new Uint8Array(8), license: 'GPL', name: 'pm_x' }), { code: 'BPF_VERIFIER', message: /last insn is not an exit or jmp/ });
  fails(t, () => bpf.progLoad({ type: 3, insns: withMap(999), license: 'GPL', name: 'pm_x' }), { code: 'BPF_VERIFIER', message: /fd 999 is not pointing to valid bpf_map/ });
  fails(t, () => bpf.progLoad({ type: 3, insns: RET0, license: 'GPL', name: 'pktmark-bad' }), { code: 'INVALID_ARGUMENT', field: 'name' });
  t.deepEqual(bpf.liveObjects(), []);
});

test('cgroup MULTI: programs run in attach order, the same one twice is EEXIST, REPLACE swaps in place, detach needs the program', (t) => {
  const bpf = new FakeBpf();
  const cg = bpf.addCgroup('/svc');
  const [a, b, c] = ['pm_a', 'pm_b', 'pm_c'].map((n) => sock(bpf, n));
  const [ia, ib, ic] = [a, b, c].map((fd) => bpf.progInfo(fd).id);
  attach(bpf, cg, a, BPF_F_ALLOW_MULTI);
  attach(bpf, cg, b, BPF_F_ALLOW_MULTI);
  t.deepEqual(bpf.progQuery(cg, BPF_CGROUP_INET_SOCK_CREATE), { attachFlags: BPF_F_ALLOW_MULTI, progIds: [ia, ib] });
  fails(t, () => attach(bpf, cg, a, BPF_F_ALLOW_MULTI), { code: 'SYSCALL', errno: 17 });
  attach(bpf, cg, c, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, a);
  t.deepEqual(bpf.progQuery(cg, BPF_CGROUP_INET_SOCK_CREATE).progIds, [ic, ib]);
  fails(t, () => attach(bpf, cg, a, BPF_F_REPLACE), { code: 'SYSCALL', errno: 22 }, 'REPLACE without MULTI');
  fails(t, () => attach(bpf, cg, a, BPF_F_ALLOW_MULTI | BPF_F_ALLOW_OVERRIDE), { errno: 22 });
  fails(t, () => attach(bpf, cg, a), { code: 'EPERM', errno: EPERM, hint: /attached with flags 2, not 0/ }, 'exclusive on top of MULTI');
  fails(t, () => bpf.progDetach({ targetFd: cg, progFd: 0, attachType: BPF_CGROUP_INET_SOCK_CREATE }), { errno: 22 });
  fails(t, () => bpf.progDetach({ targetFd: cg, progFd: a, attachType: BPF_CGROUP_INET_SOCK_CREATE }), { code: 'NOT_FOUND' });
  for (const fd of [a, b, c]) bpf.close(fd);
  t.is(bpf.programs().length, 2, 'attachments hold their programs after the fds are closed');
  for (const fd of [bpf.progGetFdById(ib), bpf.progGetFdById(ic)]) {
    bpf.progDetach({ targetFd: cg, progFd: fd, attachType: BPF_CGROUP_INET_SOCK_CREATE });
    bpf.close(fd);
  }
  t.deepEqual(bpf.progQuery(cg, BPF_CGROUP_INET_SOCK_CREATE), { attachFlags: 0, progIds: [] });
  t.deepEqual(bpf.liveObjects(), []);
});

test('cgroup exclusive and OVERRIDE: a second attach replaces, an exclusive parent forbids children, MULTI parents allow them', (t) => {
  const bpf = new FakeBpf();
  const root = bpf.addCgroup('/');
  const child = bpf.addCgroup('/svc', root);
  const [a, b] = [sock(bpf, 'pm_a'), sock(bpf, 'pm_b')];
  attach(bpf, child, a, BPF_F_ALLOW_OVERRIDE);
  attach(bpf, child, b, BPF_F_ALLOW_OVERRIDE);
  t.deepEqual(bpf.progQuery(child, BPF_CGROUP_INET_SOCK_CREATE).progIds, [bpf.progInfo(b).id]);
  bpf.progDetach({ targetFd: child, progFd: 0, attachType: BPF_CGROUP_INET_SOCK_CREATE });
  attach(bpf, root, a);
  fails(t, () => attach(bpf, child, b, BPF_F_ALLOW_MULTI), { code: 'EPERM', hint: /ancestor cgroup \(\/\) has an exclusive program/ });
  bpf.progDetach({ targetFd: root, progFd: a, attachType: BPF_CGROUP_INET_SOCK_CREATE });
  attach(bpf, root, a, BPF_F_ALLOW_MULTI);
  attach(bpf, child, b, BPF_F_ALLOW_MULTI);
  t.deepEqual(bpf.progQuery(child, BPF_CGROUP_INET_SOCK_CREATE, { effective: true }).progIds, [bpf.progInfo(b).id, bpf.progInfo(a).id]);
});

test('cgroup: at most BPF_CGROUP_MAX_PROGS (64) per attach type', (t) => {
  const bpf = new FakeBpf();
  const cg = bpf.addCgroup('/svc');
  for (let i = 0; i < BPF_CGROUP_MAX_PROGS; i++) attach(bpf, cg, sock(bpf, `pm_${i}`), BPF_F_ALLOW_MULTI);
  fails(t, () => attach(bpf, cg, sock(bpf, 'pm_65'), BPF_F_ALLOW_MULTI), { errno: 7 });
});

test('faults: the next call of a kind, call number N, and a verifier rejection with a given log, each typed as the kernel would', (t) => {
  const bpf = new FakeBpf().failNext('progAttach', EPERM).failNext('progAttach', ENOSPC);
  const cg = bpf.addCgroup('/svc');
  const p = sock(bpf, 'pm_a');
  fails(t, () => attach(bpf, cg, p, BPF_F_ALLOW_MULTI), { code: 'EPERM', message: 'BPF_PROG_ATTACH: EPERM (errno 1)', hint: /CAP_NET_ADMIN/ });
  fails(t, () => attach(bpf, cg, p, BPF_F_ALLOW_MULTI), { code: 'SYSCALL', errno: ENOSPC });
  attach(bpf, cg, p, BPF_F_ALLOW_MULTI);
  t.deepEqual(bpf.calls.map((c) => c.op), ['progLoad', 'progAttach', 'progAttach', 'progAttach']);

  const n = bpf.calls.length;
  bpf.failCall(n + 2, { errno: 2 });
  bpf.progInfo(p);
  fails(t, () => bpf.progGetFdById(1), { code: 'NOT_FOUND' });

  bpf.rejectNextLoad('0: (95) exit\nR0 !read_ok\n');
  const e = t.throws(() => sock(bpf, 'pm_bad'));
  t.like(e, { code: 'BPF_VERIFIER', errno: 13, log: '0: (95) exit\nR0 !read_ok\n' });
  t.is(bpf.programs().length, 1, 'a rejected load leaves nothing loaded');
});

test('pins: a pin holds the object until unpinned; objGet of a missing path is NOT_FOUND', (t) => {
  const bpf = new FakeBpf();
  const p = sock(bpf, 'pm_a');
  bpf.objPin(p, '/sys/fs/bpf/pm_a');
  bpf.close(p);
  const q = bpf.objGet('/sys/fs/bpf/pm_a');
  t.is(bpf.progInfo(q).name, 'pm_a');
  bpf.close(q);
  bpf.unpin('/sys/fs/bpf/pm_a');
  t.deepEqual(bpf.liveObjects(), []);
  fails(t, () => bpf.objGet('/sys/fs/bpf/pm_a'), { code: 'NOT_FOUND' });
});
