/**
 * The bpf and xdp backends against FakeBpf and a fake rtnetlink (test/helpers/fake-rtnl.ts), no
 * root: add/list/delete/clear, the replace sequence, stable ids, rollback when a bpf() call or a
 * netlink request fails half-way (nothing left loaded: FakeBpf.liveObjects()), and BPF_TOO_LARGE
 * before anything is loaded.
 */
import test from 'ava';
import { EPERM } from '../../codecs/errno.js';
import { NLM_F_EXCL } from '../../codecs/netlink/message.js';
import { RTM_DELQDISC, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER } from '../../codecs/tc/constants.js';
import { FakeCgroupFs } from '../../src/testing/cgroup.js';
import { PktmarkError } from '../../src/errors.js';
import { Marker } from '../../src/index.js';
import { FakeBpf } from '../../src/testing/bpf.js';
import { FakeRtnl } from '../helpers/fake-rtnl.js';
import { FakeTransport, ackFor } from '../../src/transport/fake.js';

async function setup(): Promise<{ bpf: FakeBpf; k: FakeRtnl; m: Marker }> {
  const bpf = new FakeBpf();
  const k = new FakeRtnl(bpf);
  // nftables has no pktmark table here (ENOENT), so Marker.clear/list over every backend work
  const nf = new FakeTransport(12, (reqs) => reqs.map((r) => ackFor(r, 2)));
  // the cgroup backend walks a fake cgroup tree over the same FakeBpf (the real tree's fds mean nothing to it)
  const m = await Marker.open({ transport: (p) => (p === 0 ? k.transport : nf), bpf, cgroupFs: new FakeCgroupFs(bpf) });
  return { bpf, k, m };
}
const rule = (src: string, extra: Record<string, unknown> = {}) => ({ via: 'bpf' as const, dev: 'eth0', src, mark: 0xdeadbeef, ...extra });

test('bpf: add, add, list, delete the first, list: ids stable, one filter, replaced in place; clear leaves nothing', async (t) => {
  const { bpf, k, m } = await setup();
  const a = await m.add(rule('10.0.0.1'));
  const b = await m.add(rule('10.0.0.2'));
  t.deepEqual([a.id, b.id], ['bpf:eth0:ingress:0', 'bpf:eth0:ingress:1']);
  t.is(k.filters.length, 1, 'one program per device and direction');
  const newFilters = k.requests.filter((r) => r.header.type === RTM_NEWTFILTER);
  t.truthy(newFilters[0].header.flags & NLM_F_EXCL, 'the first add creates');
  t.falsy(newFilters[1].header.flags & NLM_F_EXCL, 'the second replaces (tc filter replace)');
  t.is(k.filters[0].f.prio, 49152);
  t.deepEqual((await m.list({ via: 'bpf' })).map((r) => r.id), [a.id, b.id]);
  await m.delete(a.id);
  const left = await m.list({ via: 'bpf' });
  t.deepEqual(left.map((r) => r.id), [b.id], 'the second keeps its id');
  t.is(left[0].rule?.src?.address, '10.0.0.2');
  const c = await m.add(rule('10.0.0.3'));
  t.is(c.id, 'bpf:eth0:ingress:0', 'a freed slot is reused by a later rule');
  await m.clear();
  t.is(k.filters.length, 0);
  t.is(k.clsact.size, 0, 'the clsact pktmark made is gone');
  t.deepEqual(bpf.liveObjects(), []);
  t.deepEqual(bpf.openFds(), []);
});

test('bpf: deleting the last rule removes the filter and the clsact pktmark made', async (t) => {
  const { bpf, k, m } = await setup();
  const a = await m.add(rule('10.0.0.1'));
  await m.delete(a.id);
  t.is(k.types.at(-1), RTM_DELQDISC);
  t.deepEqual(bpf.liveObjects(), []);
  await t.throwsAsync(m.delete(a.id), { code: 'NOT_FOUND' });
});

test('bpf: the verifier refuses the first program → BPF_VERIFIER with the log, clsact removed, nothing loaded', async (t) => {
  const { bpf, k, m } = await setup();
  bpf.rejectNextLoad('0: (b7) r0 = 0\nR1 !read_ok\n');
  const e = await t.throwsAsync(m.add(rule('10.0.0.1')), { code: 'BPF_VERIFIER' });
  t.regex(e!.message, /R1 !read_ok/);
  t.is(k.clsact.size, 0);
  t.deepEqual(bpf.liveObjects(), []);
  t.deepEqual(bpf.openFds(), []);
});

test('bpf: the replace is refused → the old program stays attached, the new slot is cleared, nothing extra loaded', async (t) => {
  const { bpf, k, m } = await setup();
  await m.add(rule('10.0.0.1'));
  const before = k.filters[0].id;
  k.refuse(RTM_NEWTFILTER, 22);
  await t.throwsAsync(m.add(rule('10.0.0.2')), { code: 'KERNEL' });
  t.is(k.filters[0].id, before, 'same program');
  t.is(bpf.programs().length, 1);
  t.deepEqual((await m.list()).map((r) => r.id), ['bpf:eth0:ingress:0']);
  t.is(bpf.maps()[0].elements.get('01000000')?.every((x) => x === 0), true, 'slot 1 written back to zeros');
});

test('bpf: map create refused (EPERM) → EPERM with the capability hint, the clsact pktmark made removed', async (t) => {
  const { bpf, k, m } = await setup();
  bpf.failNext('mapCreate', EPERM);
  const e = await t.throwsAsync(m.add(rule('10.0.0.1')), { code: 'EPERM' }) as PktmarkError | undefined;
  t.regex(e?.hint ?? '', /CAP_BPF/);
  t.is(k.clsact.size, 0);
  t.deepEqual(bpf.liveObjects(), []);
});

test('bpf: the filter request fails after the load → program and map freed', async (t) => {
  const { bpf, k, m } = await setup();
  k.refuse(RTM_NEWTFILTER, 1);
  await t.throwsAsync(m.add(rule('10.0.0.1')), { code: 'EPERM' });
  t.deepEqual(bpf.liveObjects(), []);
  t.is(k.clsact.size, 0);
});

test('bpf: a rule set too large is BPF_TOO_LARGE before any map or program exists', async (t) => {
  const { bpf, k, m } = await setup();
  const many = Array.from({ length: 1025 }, (_, i) => rule(`10.0.${i >> 8}.${i & 255}`));
  await t.throwsAsync(m.add(many), { code: 'BPF_TOO_LARGE' });
  // 400 IPv6 rules with both addresses, ports and a rate (~89 instructions each) fit the slots, not the 16-bit jumps
  const v6 = Array.from({ length: 400 }, (_, i) => rule(`2001:db8::${i.toString(16)}0/125`, { family: 'ip6', dst: '2001:db8:1::/125', proto: 'udp', sport: 1, dport: 53, rate: '1/second', burst: 1 }));
  await t.throwsAsync(m.add(v6), { code: 'BPF_TOO_LARGE' });
  t.false(bpf.calls.some((c) => c.op === 'progLoad' || c.op === 'mapCreate'));
  t.is(k.clsact.size, 0);
});

test('bpf: fields of other backends and prio conflicts are refused naming the field', async (t) => {
  const { m } = await setup();
  await t.throwsAsync(m.add({ via: 'bpf', dev: 'eth0', hook: 'output', mark: 1 }), { code: 'INVALID_OPTION', message: /hook applies to via "nft"/ });
  await m.add(rule('10.0.0.1', { prio: 3 }));
  await t.throwsAsync(m.add(rule('10.0.0.2', { prio: 4 })), { code: 'INVALID_OPTION', message: /prio 3/ });
  await t.throwsAsync(m.add({ via: 'xdp', dev: 'eth0', direction: 'egress', mark: 1 }), { code: 'UNSUPPORTED' });
});

test('xdp: native on veth, second rule replaces with the expected fd, clear detaches and removes the copy filter', async (t) => {
  const { bpf, k, m } = await setup();
  const a = await m.add({ via: 'xdp', dev: 'eth0', src: '10.0.0.1', mark: 1 });
  const b = await m.add({ via: 'xdp', dev: 'eth0', src: '10.0.0.2', mark: 2 });
  t.deepEqual([a.id, b.id], ['xdp:eth0:0', 'xdp:eth0:1']);
  t.is(k.links[1].xdp?.mode, 1, 'native (XDP_ATTACHED_DRV)');
  t.is(k.filters.filter((f) => f.f.options?.kind === 'bpf' && f.f.options.name?.startsWith('pktmark/xdpcp')).length, 1, 'one copy filter');
  const listed = await m.list({ via: 'xdp' });
  t.deepEqual(listed.map((r) => r.text), ['# xdp: dev eth0 native: ip saddr 10.0.0.1 → mark 0x1', '# xdp: dev eth0 native: ip saddr 10.0.0.2 → mark 0x2']);
  await m.delete(a.id);
  t.deepEqual((await m.list({ via: 'xdp' })).map((r) => r.id), [b.id]);
  await m.clear();
  t.is(k.links[1].xdp, undefined);
  t.is(k.filters.length, 0);
  t.is(k.clsact.size, 0);
  t.deepEqual(bpf.liveObjects(), []);
});

test('xdp: native refused → generic; a failed attach leaves no copy filter and nothing loaded', async (t) => {
  const { bpf, k, m } = await setup();
  k.refuse(RTM_NEWLINK, 34); // ERANGE: "Peer MTU is too large to set XDP"
  await m.add({ via: 'xdp', dev: 'eth0', src: '10.0.0.1', mark: 1 });
  t.is(k.links[1].xdp?.mode, 2, 'generic (XDP_ATTACHED_SKB)');
  await m.clear();
  k.refuse(RTM_NEWLINK, 34).refuse(RTM_NEWLINK, 1);
  await t.throwsAsync(m.add({ via: 'xdp', dev: 'eth0', src: '10.0.0.1', mark: 1 }), { code: 'EPERM' });
  t.is(k.filters.length, 0);
  t.is(k.clsact.size, 0);
  t.deepEqual(bpf.liveObjects(), []);
});

test('xdp: a foreign XDP program is NOT_OWNED before anything is created', async (t) => {
  const { bpf, k, m } = await setup();
  const fd = bpf.progLoad({ type: 6, insns: new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), license: 'MIT', name: 'someone_else' });
  k.links[1].xdp = { fd, id: bpf.progInfo(fd).id, mode: 2 };
  await t.throwsAsync(m.add({ via: 'xdp', dev: 'eth0', mark: 1 }), { code: 'NOT_OWNED' });
  t.false(k.types.includes(RTM_NEWQDISC));
  await m.clear();
  t.is(k.links[1].xdp?.fd, fd, 'clear leaves it too');
});
