/**
 * The live scan without root: the scanners run against a fake kernel that answers with the
 * replies the real kernel gave nft, ip, ss (fixtures/conflicts/, fixtures/capture-conflicts.sh),
 * so every decoder meets captured bytes. Then the decisions on top: --mark auto, checkConflicts.
 */
import test from 'ava';
import { Marker } from '../../src/marker.js';
import { PktmarkError } from '../../src/errors.js';
import type { MarkUser, ProcReader } from '../../src/conflicts/types.js';
import { busyBits, pickAutoMark } from '../../src/conflicts/auto.js';
import { CapturedKernel, capturedMessages } from '../helpers/conflicts-kernel.js';
import { decodeInetDiag } from '../../codecs/sockdiag/inet-diag.js';

const inode = decodeInetDiag(capturedMessages('udp-sockets').find((m) => m.header.type === 20)!).inode;
const proc: ProcReader = { pids: () => ['4242'], fdLinks: () => [`socket:[${inode}]`], comm: () => 'python3' };

async function scanCaptured(): Promise<{ users: readonly MarkUser[]; unreadable: readonly { source: string; reason: string }[] }> {
  const k = new CapturedKernel();
  const m = await Marker.open({ transport: k.factory });
  try { return await m.conflicts({ proc }); } finally { await m.close(); }
}

const find = (users: readonly MarkUser[], re: RegExp): MarkUser => {
  const u = users.find((x) => re.test(x.detail));
  if (!u) throw new Error(`no user matches ${re}: ${users.map((x) => x.detail).join(' | ')}`);
  return u;
};
const pick = (u: MarkUser): Record<string, unknown> => ({ source: u.source, owner: u.owner, action: u.action, on: u.on, bits: u.bits, values: u.values, whole: u.whole });

test('scan of captured nft replies: native meta/ct mark statements, a map, and iptables-nft xt payloads with their bits', async (t) => {
  const { users } = await scanCaptured();
  t.deepEqual(pick(find(users, /meta mark set 0xff000000$/)), { source: 'nft', owner: 'table ip foreign', action: 'sets', on: 'packet', bits: 0xffffffff, values: [0xff000000], whole: true });
  t.deepEqual(pick(find(users, /meta mark and 0xf == 0x3/)), { source: 'nft', owner: 'table ip foreign', action: 'matches', on: 'packet', bits: 0xf, values: [3], whole: undefined });
  t.deepEqual(pick(find(users, /ct mark set meta mark and 0xffff/)), { source: 'nft', owner: 'table ip foreign', action: 'saves', on: 'packet', bits: 0xffff, values: undefined, whole: undefined });
  t.deepEqual(pick(find(users, /meta mark set ct mark$/)), { source: 'nft', owner: 'table ip foreign', action: 'restores', on: 'packet', bits: 0xffffffff, values: undefined, whole: undefined });
  const map = find(users, /map @marks/);
  t.deepEqual([...(map.values ?? [])].sort(), [0x20, 0x40], 'the map data elements are read back (GETSETELEM)');
  t.deepEqual(pick(find(users, /meta mark set meta mark or 0x80000/)), { source: 'nft', owner: 'table ip foreign', action: 'sets', on: 'packet', bits: 0x80000, values: [0x80000], whole: undefined });
  t.deepEqual(pick(find(users, /ct mark == 0x7/)), { source: 'nft', owner: 'table ip foreign', action: 'matches', on: 'conntrack', bits: 0xffffffff, values: [7], whole: true });
  // iptables-nft: xt_mark_tginfo2, xt_connmark_tginfo2 (save, restore), xt_connmark_mtinfo1, TPROXY, HMARK, socket v3
  t.deepEqual(pick(find(users, /MARK --set-xmark 0x4000\/0x4000/)), { source: 'nft', owner: 'table ip mangle', action: 'sets', on: 'packet', bits: 0x4000, values: [0x4000], whole: undefined });
  t.is(find(users, /CONNMARK --save-mark/).bits, 0xffffffff);
  t.is(find(users, /CONNMARK --save-mark/).action, 'saves');
  t.deepEqual(pick(find(users, /CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff/)), { source: 'nft', owner: 'table ip mangle', action: 'restores', on: 'packet', bits: 0xff, values: undefined, whole: undefined });
  t.deepEqual(pick(find(users, /-m connmark --mark 0x8\/0x8/)), { source: 'nft', owner: 'table ip mangle', action: 'matches', on: 'conntrack', bits: 8, values: [8], whole: undefined });
  t.deepEqual(pick(find(users, /TPROXY --tproxy-mark 0x1\/0x1/)), { source: 'nft', owner: 'table ip mangle', action: 'sets', on: 'packet', bits: 1, values: [1], whole: undefined });
  t.regex(find(users, /HMARK/).detail, /--hmark-mod 10 --hmark-offset 0x100/);
  t.is(find(users, /--restore-skmark/).action, 'restores');
});

test('scan of captured ip rule, xfrm policy and sock_diag replies', async (t) => {
  const { users, unreadable } = await scanCaptured();
  t.deepEqual(pick(find(users, /^ip rule \d+: fwmark 0x100\/0x100/)), { source: 'ip-rule', owner: 'ip rule 32765', action: 'matches', on: 'packet', bits: 0x100, values: [0x100], whole: undefined });
  t.deepEqual(pick(find(users, /^ip -6 rule \d+: fwmark 0x7\/0xffffffff/)), { source: 'ip-rule', owner: 'ip6 rule 32765', action: 'matches', on: 'packet', bits: 0xffffffff, values: [7], whole: true });
  t.deepEqual(pick(find(users, /policy dir out .*mark 0x30\/0xf0/)), { source: 'xfrm', owner: 'xfrm policy out index 1', action: 'matches', on: 'packet', bits: 0xf0, values: [0x30], whole: undefined });
  const s = find(users, /SO_MARK 0x10000/);
  t.deepEqual(pick(s), { source: 'socket', owner: 'pid 4242 (python3)', action: 'sets', on: 'packet', bits: 0xffffffff, values: [0x10000], whole: true });
  t.regex(s.detail, /^udp 127\.0\.0\.1:5555 /);
  t.true(unreadable.some((u) => u.source === 'ipvs' && u.reason === 'absent'), 'a genl family that answers ENOENT is absent, not an error');
  t.false(unreadable.some((u) => u.reason !== 'absent'), JSON.stringify(unreadable));
});

test('--mark auto on the captured system: a bit outside every live user, the registry\'s least used; NO_FREE_MARK when none', async (t) => {
  const { users } = await scanCaptured();
  const busy = busyBits(users);
  // HMARK and --restore-skmark write the whole mark with unknown values: nothing is free at all
  t.is(busy, 0xffffffff);
  const e = t.throws(() => pickAutoMark(users, 0xff), { instanceOf: PktmarkError });
  t.is(e?.code, 'NO_FREE_MARK');
  const known = users.filter((u) => !/HMARK|restore-skmark|meta mark set ct mark$|--save-mark|--restore-mark/.test(u.detail));
  const c = pickAutoMark(known);
  t.is(c.mark, c.mask);
  t.is((c.mask & busyBits(known)), 0);
  for (const bit of [0xff000000, 0x4000, 0x100, 0x10000, 0xf, 0x20, 0x40, 0x80000, 0xf0, 0x1, 0x8]) t.is(c.mask & bit, 0, `avoids ${bit.toString(16)}`);
  t.regex(c.why, /no live user touches it/);
  const narrow = pickAutoMark(known, 0x0f00);
  t.true((narrow.mask & 0x0f00) !== 0 && (narrow.mask & ~0x0f00) === 0);
});

test('Marker.add with checkConflicts refuses a live overlap with MARK_CONFLICT naming whom, and sends no batch; offline encoding refuses auto', async (t) => {
  const k = new CapturedKernel();
  const m = await Marker.open({ transport: k.factory });
  const e = await t.throwsAsync(m.add({ src: '10.0.0.1', mark: '0x4000/0x4000' }, { checkConflicts: true }), { instanceOf: PktmarkError });
  t.is(e?.code, 'MARK_CONFLICT');
  t.regex(e!.message, /table ip mangle sets bits 0x4000 .*MARK --set-xmark 0x4000\/0x4000/);
  t.false(k.requests.some((r) => r.protocol === 12 && r.message.header.type === 0x10), 'no nft batch begin was sent');
  await m.close();
  t.throws(() => m.encode({ src: '10.0.0.1', mark: 'auto' }), { code: 'INVALID_MARK', message: /live scan/ } as never);
});
