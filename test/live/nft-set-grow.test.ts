/**
 * Live: hash list sets declare a size (set-size.ts) and grow past it (address-set-grow.ts),
 * with the real nft as the oracle: the size nft lists, an update past it replacing the set
 * (new name `_g1`, the rule keeping its handle), list / explain text / delete after growth,
 * another writer (nft) filling the set first, a kernel without NFTA_SET_COUNT (the count
 * hidden from pktmark: the kernel's ENFILE drives the growth), and a growth the kernel refuses
 * leaving no new set.
 */
import { parseMessages } from '../../codecs/netlink/message.js';
import { nftType } from '../../codecs/nftables/messages.js';
import { NFT_MSG_DELSET, NFT_MSG_NEWSET } from '../../codecs/nftables/set.js';
import { Marker, PktmarkError } from '../../src/index.js';
import { liveTest, withNetns, type Netns } from '../helpers/netns.js';
import { intercepted } from '../helpers/intercept.js';

interface JSet { name: string; size?: number; elem?: unknown[]; flags?: string[] }
const sets = (ns: Netns): JSet[] => (ns.ruleset().nftables as { set?: JSet }[]).filter((x) => x.set).map((x) => x.set!);
const rules = (ns: Netns): { handle: number; expr: unknown[] }[] => (ns.ruleset().nftables as { rule?: { handle: number; expr: unknown[] } }[]).filter((x) => x.rule).map((x) => x.rule!);
const v4 = (i: number): string => `10.1.${i >> 8}.${i & 255}`;
const range = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => v4(from + i));
const short = (s: JSet): { name: string; size?: number; n: number } => ({ name: s.name.replace(/^pm_[0-9a-f]{16}_/, ''), ...(s.size !== undefined ? { size: s.size } : {}), n: s.elem?.length ?? 0 });

liveTest('sets: a hash list declares its size, an interval list none; an update past the size grows: new set, same handle and id; list, text, delete after', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      const first = await m.add({ src: '10.9.9.9', mark: 9 });
      const rec = await m.add({ src: range(30), mark: 1 });
      const iv = await m.add({ src: ['10.2.0.0/16', '10.3.0.1'], mark: 2 });
      t.deepEqual(short(sets(ns)[0]), { name: 'src4', size: 48, n: 30 });
      t.is(sets(ns)[1].size, undefined, 'the interval set declares no size');
      t.deepEqual(sets(ns)[1].flags, ['interval']);
      t.regex(ns.nft('list', 'ruleset'), /type ipv4_addr\n\t\tsize 48\n/);
      const handles = rules(ns).map((r) => r.handle);
      // 30 + 18 = 48 fits; one more does not
      t.deepEqual(await m.update(rec.id, { add: range(18, 30) }), { id: rec.id, deleted: 0, added: 18 });
      t.is(sets(ns)[0].name.endsWith('_src4'), true);
      t.deepEqual(await m.update(rec.id, { add: [v4(48), v4(49)], remove: [v4(0)] }), { id: rec.id, deleted: 1, added: 2 });
      const grown = sets(ns).find((s) => s.name.includes('_src4_g1'));
      t.deepEqual(grown && short(grown), { name: 'src4_g1', size: 96, n: 49 });
      t.is(sets(ns).length, 2, 'the full set is gone, the interval set untouched');
      t.deepEqual(rules(ns).map((r) => r.handle), handles, 'every rule keeps its handle (and place)');
      t.regex(ns.nft('list', 'ruleset'), new RegExp(`ip saddr @${grown!.name} counter`));
      const listed = await m.list();
      t.deepEqual(listed.map((r) => r.id), [first.id, rec.id, iv.id], 'ids unchanged');
      t.deepEqual(listed[1].rule?.srcList?.entries, range(50, 0).slice(1));
      t.regex(listed[1].text, /^nft add rule inet pktmark prerouting ip saddr \{ 10\.1\.0\.1, 10\.1\.0\.2, .* 10\.1\.0\.49 \} counter meta mark set 0x1$/);
      // a second growth, then a plain update into the grown set, then delete takes it
      await m.update(rec.id, { add: range(60, 100) });
      t.deepEqual(sets(ns).filter((s) => s.name.includes('_src4_g')).map(short), [{ name: 'src4_g2', size: 192, n: 109 }]);
      t.deepEqual(await m.update(rec.id, { remove: [v4(100)] }), { id: rec.id, deleted: 1, added: 0 });
      await m.delete(rec.id);
      t.is(sets(ns).length, 1);
      t.deepEqual((await m.list()).map((r) => r.id), [first.id, iv.id]);
    } finally { await m.close(); }
  });
});

liveTest('sets: another writer (nft) fills the set to its size; the next update grows it and keeps those elements', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      const rec = await m.add({ src: range(30), mark: 1 });
      const name = sets(ns)[0].name;
      ns.nft('add', 'element', 'inet', 'pktmark', name, `{ ${range(18, 200).join(', ')} }`);
      t.throws(() => ns.nft('add', 'element', 'inet', 'pktmark', name, '{ 10.8.8.8 }'), { message: /Too many open files in system|ENFILE|No space/ }, 'the kernel itself refuses a 49th');
      await m.update(rec.id, { add: ['10.8.0.1'] });
      t.deepEqual(sets(ns).map(short), [{ name: 'src4_g1', size: 96, n: 49 }]);
      t.is((await m.list())[0].rule?.srcList?.entries.length, 49);
    } finally { await m.close(); }
  });
});

/** Real sockets whose GETSET dump replies lose NFTA_SET_COUNT (renamed to an unknown attribute): a kernel before 6.13. */
const withoutSetCount = (netns: string): ReturnType<typeof intercepted> => intercepted(netns, {
  receive(replies) {
    for (const m of replies) {
      if (m.header.type !== nftType(NFT_MSG_NEWSET)) continue;
      const p = m.payload;
      const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
      for (let at = 4; at + 4 <= p.length;) {
        const len = v.getUint16(at, true);
        if ((v.getUint16(at + 2, true) & 0x3fff) === 20) v.setUint16(at + 2, 0x3ff0, true);
        at += (len + 3) & ~3;
      }
    }
  },
});

liveTest('sets: on a kernel without NFTA_SET_COUNT the update is refused with ENFILE first, then the set is read and grown; nothing half-applied', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name, transport: withoutSetCount(ns.name) });
    try {
      const rec = await m.add({ src: range(30), mark: 1 });
      await m.update(rec.id, { add: range(18, 30) });
      t.deepEqual(await m.update(rec.id, { add: ['10.8.0.1', '10.8.0.2'], remove: [v4(3)] }), { id: rec.id, deleted: 1, added: 2 });
      t.deepEqual(sets(ns).map(short), [{ name: 'src4_g1', size: 96, n: 49 }]);
    } finally { await m.close(); }
  });
});

/** Real sockets that spoil the name in every DELSET they send: the kernel refuses the batch (ENOENT). */
const spoilDelset = (netns: string): ReturnType<typeof intercepted> => intercepted(netns, {
  send(bytes) {
    const copy = bytes.slice();
    for (const msg of parseMessages(copy)) {
      if (msg.header.type !== nftType(NFT_MSG_DELSET)) continue;
      const at = Buffer.from(msg.payload).indexOf('pm_');
      if (at >= 0) msg.payload[at + 1] = 0x78; // pm_… → px_…: no such set
    }
    return copy;
  },
});

liveTest('sets: a growth the kernel refuses changes nothing: no new set, the old set, its elements and the rule as they were', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name, transport: spoilDelset(ns.name) });
    try {
      const rec = await m.add({ src: range(30), mark: 1 });
      await m.update(rec.id, { add: range(18, 30) });
      const before = { sets: sets(ns), rules: rules(ns) };
      const e = await t.throwsAsync(m.update(rec.id, { add: ['10.8.0.1'] }), { instanceOf: PktmarkError });
      t.is(e?.errno, 2);
      t.deepEqual(sets(ns), before.sets, 'no orphan set, the old one whole');
      t.deepEqual(rules(ns), before.rules);
    } finally { await m.close(); }
  });
});
