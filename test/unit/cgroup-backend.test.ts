/**
 * The cgroup backend against FakeBpf + FakeCgroupFs (no root): add/list/delete/clear, a foreign
 * MULTI program kept, a foreign exclusive program refused by name, an injected bpf() failure at
 * each step leaving nothing loaded, a netns Marker refusing and ignoring cgroup rules, and the
 * match fields refused as UNSUPPORTED.
 */
import test, { type ExecutionContext } from 'ava';
import type { PktmarkError } from '../../src/errors.js';
import { BPF_CGROUP_INET_SOCK_CREATE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_SOCK } from '../../codecs/bpf/attr.js';
import { CFG, decodeInsns } from '../../codecs/bpf/index.js';
import { Marker, encode, explain } from '../../src/marker.js';
import { normalizeRule } from '../../src/normalize.js';
import { FakeBpf } from '../../src/testing/bpf.js';
import { FakeCgroupFs } from '../../src/testing/cgroup.js';
import { EACCES, EPERM } from '../../src/transport/syscalls.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';

/** throwsAsync/throws plus a check of PktmarkError fields (ava's expectation has no `field`) */
async function rejects(t: ExecutionContext, fn: () => Promise<unknown>, want: Record<string, unknown>, msg = ''): Promise<PktmarkError> {
  const { field, message, ...rest } = want;
  const e = (await t.throwsAsync(fn, rest, msg)) as PktmarkError;
  if (field !== undefined) t.is(e?.field, field as string, `${msg} field`);
  if (message instanceof RegExp) t.regex(e?.message ?? '', message, msg);
  return e;
}
function throwsSync(t: ExecutionContext, fn: () => unknown, want: Record<string, unknown>, msg = ''): void {
  const { field, message, ...rest } = want;
  const e = t.throws(fn, rest, msg) as PktmarkError;
  if (field !== undefined) t.is(e?.field, field as string, `${msg} field`);
  if (message instanceof RegExp) t.regex(e?.message ?? '', message, msg);
}

const ret1 = (): Uint8Array => { const b = new Uint8Array(16); b[0] = 0xb7; b[4] = 1; b[8] = 0x95; return b; };

async function setup(dirs: string[] = ['/svc', '/other']) {
  const bpf = new FakeBpf();
  const cgroupFs = new FakeCgroupFs(bpf);
  for (const d of dirs) cgroupFs.mkdir(d);
  const m = await Marker.open({ bpf, cgroupFs, transport: () => { throw new Error('no netlink in this test'); } });
  return { bpf, cgroupFs, m };
}

/** a foreign program attached to `path` with `flags`, its fd closed (the attachment keeps it) */
function foreign(bpf: FakeBpf, fs: FakeCgroupFs, path: string, flags: number, name = 'sd_fw'): number {
  const cg = fs.open(fs.resolve(path, fs.mount()).path);
  const p = bpf.progLoad({ type: BPF_PROG_TYPE_CGROUP_SOCK, insns: ret1(), license: 'GPL', name, expectedAttachType: BPF_CGROUP_INET_SOCK_CREATE });
  bpf.progAttach({ targetFd: cg, progFd: p, attachType: BPF_CGROUP_INET_SOCK_CREATE, flags });
  const id = bpf.progInfo(p).id;
  bpf.close(p); bpf.close(cg);
  return id;
}
const attached = (bpf: FakeBpf, path: string): number[] => (bpf.cgroup(`/fake/cgroup2${path}`)?.attached.get(BPF_CGROUP_INET_SOCK_CREATE)?.progs ?? []).map((p) => p.id);

test('add → list → delete: one MULTI program per rule, its rule read back from its config map', async (t) => {
  const { bpf, m } = await setup();
  const r = await m.add({ cgroup: 'svc', mark: '0x10/0xf0', comment: 'web' });
  t.regex(r.id, /^cgroup:\d+$/);
  t.is(r.via, 'cgroup');
  t.deepEqual(r.rule, normalizeRule({ via: 'cgroup', cgroup: '/svc', mark: '0x10/0xf0', comment: 'web' }));
  t.is(bpf.cgroup('/fake/cgroup2/svc')?.attached.get(BPF_CGROUP_INET_SOCK_CREATE)?.flags, BPF_F_ALLOW_MULTI);
  const [prog] = bpf.programs();
  t.is(prog.name, 'pktmark_cg');
  t.deepEqual(bpf.openFds(), [], 'every fd closed; the attachment holds the program');
  t.is(bpf.maps().length, 1);
  t.is(bpf.maps()[0].maxEntries, 1);

  // the program counted 3 sockets: list shows them as packets
  const [map] = bpf.maps();
  const v = map.elements.get('00000000')!;
  new DataView(v.buffer, v.byteOffset).setBigUint64(CFG.packets, 3n, HOST_LITTLE_ENDIAN);
  const [second] = await m.add([{ cgroup: '/fake/cgroup2/other', mark: 7 }]);
  const list = await m.list({ via: 'cgroup' });
  t.deepEqual(list.map((x) => [x.id, x.rule?.cgroup, x.packets]).sort(), [[r.id, '/svc', 3], [second.id, '/other', 0]].sort());
  const svc = list.find((x) => x.id === r.id)!;
  t.regex(svc.text, /^bpftool cgroup attach \/fake\/cgroup2\/svc sock_create id \d+ multi/);
  t.deepEqual(svc.rule, r.rule);

  await m.delete(r.id);
  t.deepEqual((await m.list({ via: 'cgroup' })).map((x) => x.id), [second.id]);
  await rejects(t, () => m.delete(r.id), { code: 'NOT_FOUND' });
  await m.clear({ via: 'cgroup' });
  t.deepEqual(await m.list({ via: 'cgroup' }), []);
  t.deepEqual(bpf.liveObjects(), []);
  t.deepEqual(bpf.openFds(), []);
});

test('a foreign MULTI program stays through add, delete and clear; it is not listed', async (t) => {
  const { bpf, cgroupFs, m } = await setup();
  const sd = foreign(bpf, cgroupFs, '/svc', BPF_F_ALLOW_MULTI);
  const r = await m.add({ cgroup: '/svc', mark: 1 });
  t.deepEqual(attached(bpf, '/svc'), [sd, Number(r.id.slice(7))]);
  t.deepEqual((await m.list({ via: 'cgroup' })).map((x) => x.id), [r.id]);
  await rejects(t, () => m.delete(`cgroup:${sd}`), { code: 'NOT_FOUND', field: 'id' });
  await m.clear({ via: 'cgroup' });
  t.deepEqual(attached(bpf, '/svc'), [sd]);
  t.deepEqual(bpf.programs().map((p) => p.name), ['sd_fw']);
});

test('a foreign exclusive program in the cgroup or an ancestor: NOT_OWNED naming it, nothing loaded', async (t) => {
  const { bpf, cgroupFs, m } = await setup(['/svc', '/a/b/c']);
  const own = foreign(bpf, cgroupFs, '/svc', 0);
  const e = await rejects(t, () => m.add({ cgroup: '/svc', mark: 1 }), { code: 'NOT_OWNED', field: 'cgroup' });
  t.regex(e!.message, new RegExp(`program ${own} .*exclusive.*EPERM`));
  const up = foreign(bpf, cgroupFs, '/a', 0);
  const e2 = await rejects(t, () => m.add({ cgroup: '/a/b/c', mark: 1 }), { code: 'NOT_OWNED', field: 'cgroup' });
  t.regex(e2!.message, new RegExp(`cgroup /a \\(an ancestor\\) has program ${up}`));
  t.deepEqual(bpf.programs().map((p) => p.name), ['sd_fw', 'sd_fw']);
  t.is(bpf.maps().length, 0);
  t.deepEqual(bpf.openFds(), []);
});

test('a bpf() failure at any step of an add of two rules leaves nothing loaded or attached', async (t) => {
  const ops = ['mapCreate', 'mapUpdate', 'progLoad', 'progAttach', 'progInfo'] as const;
  for (const op of ops) {
    for (const nth of [1, 2]) {
      const { bpf, m } = await setup();
      if (nth === 2) {
        // let the first rule's call through, fail the second rule's
        const real = bpf[op].bind(bpf) as (...a: unknown[]) => unknown;
        let n = 0;
        (bpf as unknown as Record<string, unknown>)[op] = (...a: unknown[]) => { if (++n === 2) bpf.failNext(op, EPERM); return real(...a); };
      } else bpf.failNext(op, EPERM);
      await rejects(t, () => m.add([{ cgroup: '/svc', mark: 1 }, { cgroup: '/other', mark: 2 }]), { code: 'EPERM' }, `${op} #${nth}`);
      t.deepEqual(bpf.liveObjects(), [], `${op} #${nth}: nothing stays`);
      t.deepEqual(bpf.openFds(), [], `${op} #${nth}: no fd leaks`);
      t.deepEqual([attached(bpf, '/svc'), attached(bpf, '/other')], [[], []]);
    }
  }
  const { bpf, m } = await setup();
  bpf.rejectNextLoad('0: R0 !read_ok\n');
  const e = await rejects(t, () => m.add({ cgroup: '/svc', mark: 1 }), { code: 'BPF_VERIFIER' });
  t.regex(e!.message, /R0 !read_ok/);
  t.deepEqual(bpf.liveObjects(), []);
  bpf.failNext('progGetFdById', EPERM);
  await m.add({ cgroup: '/svc', mark: 1 });
  bpf.failNext('progGetFdById', EPERM);
  const perm = await rejects(t, () => m.list({ via: 'cgroup' }), { code: 'EPERM' });
  t.regex(perm!.hint ?? '', /CAP_SYS_ADMIN/);
  void EACCES;
});

test('a missing cgroup is NOT_FOUND (field cgroup); a removed cgroup is cleaned up, not an error', async (t) => {
  const { bpf, cgroupFs, m } = await setup();
  await rejects(t, () => m.add({ cgroup: '/nope', mark: 1 }), { code: 'NOT_FOUND', field: 'cgroup' });
  // one good, one missing: refused before anything loads
  await rejects(t, () => m.add([{ cgroup: '/svc', mark: 1 }, { cgroup: '/nope', mark: 2 }]), { code: 'NOT_FOUND' });
  t.deepEqual(bpf.liveObjects(), []);
  const r = await m.add({ cgroup: '/other', mark: 1 });
  cgroupFs.rmdir('/other');
  t.deepEqual(await m.list({ via: 'cgroup' }), []);
  await t.notThrowsAsync(() => m.clear({ via: 'cgroup' }));
  await rejects(t, () => m.delete(r.id), { code: 'NOT_FOUND' });
  t.deepEqual(bpf.liveObjects(), []);
  cgroupFs.noMount = true;
  t.deepEqual(await m.list({ via: 'cgroup' }), []);
  await rejects(t, () => m.add({ cgroup: '/svc', mark: 1 }), { code: 'NOT_FOUND', field: 'cgroup' });
});

test('a Marker with a netns target refuses cgroup rules and never touches them', async (t) => {
  const { bpf, cgroupFs, m } = await setup();
  const r = await m.add({ cgroup: '/svc', mark: 1 });
  const calls = bpf.calls.length;
  const ns = await Marker.open({ netns: '/proc/self/ns/net', bpf, cgroupFs, transport: () => { throw new Error('no netlink'); } });
  const e = await rejects(t, () => ns.add({ cgroup: '/svc', mark: 2 }), { code: 'INVALID_OPTION', field: 'cgroup' });
  t.regex(e!.hint ?? '', /Marker without netns/);
  t.deepEqual(await ns.list({ via: 'cgroup' }), []);
  await ns.clear({ via: 'cgroup' });
  await rejects(t, () => ns.delete(r.id), { code: 'INVALID_OPTION', field: 'id' });
  t.is(bpf.calls.length, calls, 'no bpf() call at all');
  t.deepEqual((await m.list({ via: 'cgroup' })).map((x) => x.id), [r.id]);
});

test('match fields and rate are UNSUPPORTED, naming the field; cgroup is implied by --cgroup', (t) => {
  for (const [f, v] of [['src', '10.0.0.1'], ['dst', 'fd00::1'], ['proto', 'udp'], ['family', 'ip'], ['rate', '1/second']] as const) {
    throwsSync(t, () => normalizeRule({ cgroup: '/svc', mark: 1, [f]: v }), { code: 'UNSUPPORTED', message: new RegExp(f) }, f);
  }
  throwsSync(t, () => normalizeRule({ cgroup: '/svc', mark: 1, proto: 'tcp', dport: 80 }), { code: 'UNSUPPORTED' });
  t.is(normalizeRule({ cgroup: 'svc', mark: 1 }).via, 'cgroup');
  throwsSync(t, () => normalizeRule({ via: 'cgroup', mark: 1 }), { code: 'INVALID_OPTION', field: 'cgroup' });
  throwsSync(t, () => normalizeRule({ cgroup: '../x', mark: 1 }), { code: 'INVALID_ARGUMENT', field: 'cgroup' });
  throwsSync(t, () => normalizeRule({ via: 'nft', cgroup: '/svc', mark: 1 }), { code: 'INVALID_OPTION', field: 'cgroup' });
});

test('encode (dry-run --hex) and explain need no root and no bpf(): instructions with placeholder fd 0, then the config value', (t) => {
  const [insns, value] = encode({ cgroup: '/svc', mark: '0x10/0xf0' });
  const decoded = decodeInsns(insns);
  const ld = decoded.find((i) => i.code === 0x18)!;
  t.is(ld.imm, 0, 'map fd placeholder');
  t.is(value.length, 248);
  const text = explain({ cgroup: '/svc', mark: 1 });
  t.regex(text, /CGROUP_SOCK.*cgroup \/svc/);
  t.regex(text, /^0: \(bf\) r6 = r1$/m);
  t.regex(text, /exit/);
});
