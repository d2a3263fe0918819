/**
 * verify without root (issue 12 part 3): where observers go for each kind of rule, the batch
 * that installs them (owner-flagged table, chain hooks and priorities, observer rules), the bits
 * a foreign rule changes, the report, and the whole run against pktmark/testing's fake nf_tables
 * — observers deleted on success, on abort and on error.
 */
import test from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, parseMessages } from '../../codecs/netlink/message.js';
import { decodeChain, decodeRule, decodeTable, NFT_MSG_DELTABLE, NFT_MSG_GETRULE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType } from '../../codecs/nftables/messages.js';
import type { Expr } from '../../codecs/nftables/expr/index.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { Marker, normalizeRule, PktmarkError } from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { FakeNftKernel, FakeTransport } from '../../src/testing/index.js';
import type { NetlinkMessage } from '../../codecs/netlink/message.js';
import { ruleToExprs } from '../../src/backends/nft/rule.js';
import { PRI_FIRST, PRI_LAST, planFor } from '../../src/verify/plan.js';
import { encodeObserverBatch, NFT_TABLE_F_OWNER } from '../../src/verify/observers.js';
import { markBits } from '../../src/verify/candidates.js';
import { buildReport, candidatesFor, lossesOf } from '../../src/verify/report.js';

const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, HOST_LITTLE_ENDIAN); return b; };
const INPUT = { src: '10.0.0.0/24', proto: 'udp', dport: 9, mark: 0xdeadbeef } as const;
const rule = normalizeRule(INPUT);

test('plan: an nft prerouting rule is watched after its chain, then at the end of prerouting, input, forward, postrouting', (t) => {
  const p = planFor(rule);
  t.deepEqual(p.points.map((x) => [x.name, x.hook, x.priority]), [
    ['marked', 'prerouting', -299], ['prerouting', 'prerouting', PRI_LAST], ['input', 'input', PRI_LAST], ['forward', 'forward', PRI_LAST], ['postrouting', 'postrouting', PRI_LAST],
  ]);
  t.like(planFor(normalizeRule({ table: 'mangle', src: '10.0.0.1', mark: 1 })).points[0], { priority: -149 });
  const out = planFor(normalizeRule({ hook: 'output', dst: '10.0.0.2', mark: '0x10/0xf0' }));
  t.deepEqual(out.points.map((x) => `${x.name}@${x.priority}`), ['marked@-149', `output@${PRI_LAST}`, `postrouting@${PRI_LAST}`]);
  t.like(out, { mark: 0x10, mask: 0xf0 });
});

test('plan: tc, bpf and xdp ingress are watched from the first prerouting priority, matching the device as iif', (t) => {
  for (const via of ['tc', 'bpf', 'xdp'] as const) {
    const p = planFor(normalizeRule({ via, dev: 'veth0', src: '10.0.0.1', mark: 7 }));
    t.like(p.points[0], { name: 'marked', hook: 'prerouting', priority: PRI_FIRST }, via);
    t.is(p.match.iif as string | undefined, 'veth0');
    t.is(p.match.rate, undefined);
  }
});

test('plan: egress, cgroup and xor rules are refused with UNSUPPORTED and why', (t) => {
  for (const r of [
    normalizeRule({ via: 'tc', dev: 'veth0', direction: 'egress', src: '10.0.0.1', mark: 7 }),
    normalizeRule({ via: 'cgroup', cgroup: 'system.slice', mark: 7 }),
    normalizeRule({ src: '10.0.0.1', mark: 5, mask: 1, xor: true }),
  ]) {
    t.like(t.throws(() => planFor(r), { instanceOf: PktmarkError }), { code: 'UNSUPPORTED', field: 'id' });
  }
});

test('the observer batch: an owner-flagged table, one chain per point at its hook and priority, two counting rules each', (t) => {
  let seq = 0;
  const plan = planFor(rule);
  const msgs = parseMessages(encodeObserverBatch(plan, 'pktmark_verify_1_a', () => ++seq).bytes);
  t.is(msgs[0].header.type, 0x10);
  t.is(msgs[msgs.length - 1].header.type, 0x11);
  const table = msgs.find((m) => m.header.type === nftType(NFT_MSG_NEWTABLE))!;
  t.is(table.header.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, 'EXCL: never share a table with anyone');
  t.like(decodeTable(table), { name: 'pktmark_verify_1_a', flags: NFT_TABLE_F_OWNER });
  const chains = msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWCHAIN)).map(decodeChain);
  t.deepEqual(chains.map((c) => [c.name, c.type, c.hook]), [
    ['marked', 'filter', { num: 0, priority: -299 }], ['prerouting', 'filter', { num: 0, priority: PRI_LAST }],
    ['input', 'filter', { num: 1, priority: PRI_LAST }], ['forward', 'filter', { num: 2, priority: PRI_LAST }], ['postrouting', 'filter', { num: 4, priority: PRI_LAST }],
  ]);
  const rules = msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE));
  t.is(rules.length, 10);
  t.true(rules.every((m) => (m.header.flags & (NLM_F_CREATE | NLM_F_APPEND)) === (NLM_F_CREATE | NLM_F_APPEND)));
  t.is(rules.filter((m) => m.header.flags & NLM_F_ACK).length, 1, 'one ack, on the last');
  // the rule's own match expressions (the nft backend's encoder), then [mark & mask == value], counter
  const matches = ruleToExprs(rule).filter((e) => !['counter', 'mark'].includes(e.field)).map((e) => e.expr);
  const [traffic, kept] = rules.slice(0, 2).map((m) => decodeRule(m).exprs);
  t.deepEqual(traffic, [...matches, { kind: 'counter' }] as Expr[]);
  t.deepEqual(kept, [...matches, { kind: 'meta', key: 3, dreg: 1 }, { kind: 'cmp', sreg: 1, op: 0, data: u32(0xdeadbeef) }, { kind: 'counter' }] as Expr[]);
});

test('the observer batch: postrouting observers drop the iif match (the kernel knows no input device there)', (t) => {
  let seq = 0;
  const msgs = parseMessages(encodeObserverBatch(planFor(normalizeRule({ iif: 'veth0', src: '10.0.0.1', mark: 1 })), 'v', () => ++seq).bytes);
  const rules = msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE)).map(decodeRule);
  const hasIif = (r: { exprs: readonly Expr[] }): boolean => r.exprs.some((e) => e.kind === 'meta' && e.key === 6);
  t.deepEqual(rules.map((r) => `${r.chain}:${hasIif(r)}`), ['marked', 'marked', 'prerouting', 'prerouting', 'input', 'input', 'forward', 'forward', 'postrouting', 'postrouting'].map((c) => `${c}:${c !== 'postrouting'}`));
});

test('markBits: which bits of skb->mark a foreign rule can change', (t) => {
  const set = (e: Expr[]): Expr[] => [...e, { kind: 'meta', key: 3, sreg: 1 }];
  t.is(markBits(set([{ kind: 'immediate', dreg: 1, value: u32(0xff000000) }])), 0xffffffff, 'meta mark set V: all 32 bits');
  t.is(markBits(set([{ kind: 'meta', key: 3, dreg: 1 }, { kind: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: u32(0x00ffffff), xor: u32(0xff000000) }])), 0xff000000, 'and 0x00ffffff or 0xff000000');
  t.is(markBits(set([{ kind: 'ct', key: 3, dreg: 1 }])), 0xffffffff, 'meta mark set ct mark: conservatively all');
  t.is(markBits([{ kind: 'meta', key: 3, dreg: 1 }, { kind: 'cmp', sreg: 1, op: 0, data: u32(1) }]), 0, 'a mark match writes nothing');
  // iptables-nft -j MARK --set-xmark 0x4000/0x4000: xt target MARK rev 2, xt_mark_tginfo2 {mark, mask}
  const w = new AttributeWriter(64);
  w.string(1, 'MARK'); w.u32(2, 2, 'be'); w.bytes(3, Uint8Array.of(...u32(0x4000), ...u32(0x4000)));
  t.is(markBits([{ kind: 'raw', name: 'target', bytes: w.finish() }]), 0x4000);
});

/** a parsed message back into bytes (header length recomputed) */
function messageBytes(m: NetlinkMessage): Uint8Array {
  const out = new Uint8Array(16 + m.payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, HOST_LITTLE_ENDIAN); v.setUint16(4, m.header.type, HOST_LITTLE_ENDIAN); v.setUint16(6, m.header.flags, HOST_LITTLE_ENDIAN);
  v.setUint32(8, m.header.seq, HOST_LITTLE_ENDIAN); v.setUint32(12, m.header.pid, HOST_LITTLE_ENDIAN);
  out.set(m.payload, 16);
  return out;
}

const counts = (c: Record<string, [number, number]>): Map<never, { traffic: number; kept: number }> =>
  new Map(Object.entries(c).map(([k, [traffic, kept]]) => [k as never, { traffic, kept }]));

test('report: a loss between prerouting and input names the writer in between, not the others', (t) => {
  const plan = planFor(normalizeRule({ ...INPUT, mark: '0xde000000/0xff000000' }));
  const found = lossesOf(plan, counts({ marked: [100, 100], prerouting: [100, 100], input: [100, 63], forward: [0, 0], postrouting: [0, 0] }));
  t.deepEqual(found.losses, [{ from: 'prerouting', to: ['input'], overwritten: 37, of: 100 }]);
  const w = { family: 'ip', table: 'x', chain: 'y', handle: '5', hook: 'input', priority: 0, bits: 0xff000000 } as const;
  const writers = [w, { ...w, chain: 'early', hook: 'prerouting', priority: -400 } as const, { ...w, chain: 'v6', family: 'ip6' } as const, { ...w, chain: 'low', bits: 0x1 } as const];
  t.deepEqual(candidatesFor(plan, found.losses[0], writers), [w], 'before the mark, another family and disjoint bits are not candidates');
  const r = buildReport({ id: 'nft:prerouting:3', plan, table: 'v', stoppedBy: 'packets', ms: 1200, points: found.points, losses: [{ ...found.losses[0], candidates: [w] }] });
  t.false(r.kept);
  t.true(r.lines.includes('overwritten in 37/100 packets between prerouting and input; candidates: table ip x chain y handle 5 sets bits 0xff000000'), r.lines.join('\n'));
});

test('report: kept to postrouting for forwarded traffic, and packets not seen at the end are said', (t) => {
  const plan = planFor(rule);
  const kept = lossesOf(plan, counts({ marked: [100, 100], prerouting: [100, 100], input: [0, 0], forward: [100, 100], postrouting: [100, 100] }));
  const r = buildReport({ id: 'i', plan, table: 'v', stoppedBy: 'seconds', ms: 5, points: kept.points, losses: [] });
  t.true(r.kept);
  t.true(r.lines.includes('mark kept 100/100 to postrouting'), r.lines.join('\n'));
  const nat = lossesOf(plan, counts({ marked: [10, 10], prerouting: [10, 10], input: [4, 4], forward: [0, 0], postrouting: [0, 0] }));
  const r2 = buildReport({ id: 'i', plan, table: 'v', stoppedBy: 'seconds', ms: 5, points: nat.points, losses: [] });
  t.true(r2.lines.some((l) => l.startsWith('6 packets of the rule\'s traffic were not seen')), r2.lines.join('\n'));
});

/** The fake nf_tables with pktmark's rule in it; `count` fills the observers' counters when verify starts. */
async function fakeRun(opts: { count?: (chain: string, index: number) => bigint; signal?: AbortSignal; packets?: number; seconds?: number; installed?: (yes: boolean) => void }) {
  const k = new FakeNftKernel();
  const opened: string[] = [];
  const m = await Marker.open({ transport: (p) => { opened.push(String(p)); return k.connect(p); } });
  const rec = await m.add(INPUT);
  let observerTable = '';
  const report = await m.verify(rec.id, {
    pollMs: 5, ...(opts.packets !== undefined ? { packets: opts.packets } : {}), seconds: opts.seconds ?? 5, ...(opts.signal ? { signal: opts.signal } : {}),
    onStart: ({ table }) => {
      observerTable = table;
      opts.installed?.(k.tables.some((x) => x.name === table));
      const seen = new Map<string, number>();
      k.rules = k.rules.map((r) => {
        if (r.table !== table) return r;
        const i = seen.get(r.chain) ?? 0;
        seen.set(r.chain, i + 1);
        const n = opts.count?.(r.chain, i) ?? 0n;
        return { ...r, exprs: r.exprs.map((e) => (e.kind === 'counter' ? { kind: 'counter', packets: n, bytes: n * 100n } : e)) };
      });
    },
  }).finally(() => m.close());
  return { k, report, observerTable, opened };
}

test('verify on the fake kernel: counts read from the observer table, which is deleted afterwards', async (t) => {
  let installed = false;
  const { k, report, observerTable, opened } = await fakeRun({ installed: (v) => { installed = v; }, packets: 10, count: (chain, i) => (chain === 'input' && i === 1 ? 6n : ['forward', 'postrouting'].includes(chain) ? 0n : 10n) });
  t.true(installed, 'the observer table exists while verify watches');
  t.regex(observerTable, /^pktmark_verify_\d+_[0-9a-f]+$/);
  t.is(report.stoppedBy, 'packets');
  t.like(report, { traffic: 10, marked: 10, kept: false });
  t.deepEqual(report.losses.map((l) => [l.from, l.overwritten, l.of]), [['prerouting', 4, 10]]);
  t.false(k.tables.some((x) => x.name === observerTable), 'deleted');
  t.true(k.requests.some((r) => r.header.type === nftType(NFT_MSG_DELTABLE) && decodeTable(r).name === observerTable));
  t.is(opened.filter((p) => p === '12').length, 2, 'verify opened a netfilter socket of its own');
});

test('verify on the fake kernel: an abort stops the watch and still deletes the observers', async (t) => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30);
  const { k, report, observerTable } = await fakeRun({ seconds: 30, signal: ac.signal });
  t.is(report.stoppedBy, 'aborted');
  t.false(k.tables.some((x) => x.name === observerTable));
});

test('verify on the fake kernel: a failing read still deletes the observers and closes verify\'s socket', async (t) => {
  const k = new FakeNftKernel();
  const mine: FakeTransport[] = [];
  const m = await Marker.open({ transport: (p) => {
    const inner = k.connect(p);
    const tr = new FakeTransport(p, async (reqs, wait) => {
      const r = reqs[0];
      if (r.header.type === nftType(NFT_MSG_GETRULE) && new TextDecoder().decode(r.payload).includes('pktmark_verify')) throw new PktmarkError('TIMEOUT', 'injected');
      return inner.exchange(Uint8Array.from(reqs.flatMap((q) => [...messageBytes(q)])), wait).then((ms) => ms.map(messageBytes));
    });
    mine.push(tr);
    return tr;
  } });
  try {
    const rec = await m.add(INPUT);
    t.like(await t.throwsAsync(m.verify(rec.id, { seconds: 1 })), { code: 'TIMEOUT' });
    t.false(k.tables.some((x) => x.name.startsWith('pktmark_verify')), 'deleted');
    t.is(mine.length, 2);
    await t.throwsAsync(mine[1].exchange(new Uint8Array(0), { seq: 1, until: 'ack' }), { code: 'CLOSED' } as never);
  } finally { await m.close(); }
});

test('verify: bad options and unknown ids are refused before anything is installed', async (t) => {
  const k = new FakeNftKernel();
  const m = await Marker.open({ transport: k.factory });
  try {
    await t.throwsAsync(m.verify('nft:prerouting:99'), { instanceOf: PktmarkError, code: 'NOT_FOUND' });
    t.like(await t.throwsAsync(m.verify('nft:prerouting:1', { packets: 0 })), { code: 'INVALID_OPTION', field: 'packets' });
    t.like(await t.throwsAsync(m.verify('10.0.0.1')), { code: 'INVALID_ID' });
    t.deepEqual(k.tables, []);
  } finally { await m.close(); }
});

test('CLI: verify and ipft-args by id on the fake kernel', async (t) => {
  const k = new FakeNftKernel();
  const m = await Marker.open({ transport: k.factory });
  const rec = await m.add({ src: '10.0.0.1', mark: '0x10/0xf0' });
  await m.close();
  const out: string[] = [], err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  t.is(await main(['ipft-args', rec.id], io, { transport: k.factory }), 0);
  t.deepEqual(out, ['-m 0x10 --mask 0xf0']);
  out.length = 0;
  t.is(await main(['--json', 'verify', rec.id, '--seconds', '0.05'], io, { transport: k.factory }), 0, err.join('\n'));
  const j = JSON.parse(out[0]) as Record<string, unknown>;
  t.like(j, { id: rec.id, mark: '0x10', mask: '0xf0', stoppedBy: 'seconds', traffic: 0, kept: false });
  t.regex(err[0], /^watching nft:prerouting:\d+: observers in table inet pktmark_verify_/);
  t.is((await main(['verify', rec.id, '--packets', 'x'], io, { transport: k.factory })), 2);
});
