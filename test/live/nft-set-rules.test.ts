/**
 * Live: address lists through the Marker (`src: [...]` → named set + lookup rule), with the
 * real nft as the oracle: add, list back, update (hash and interval), delete with the sets,
 * a mixed v4/v6 list under one id, and a failed add that leaves no set behind.
 */
import { Marker, PktmarkError } from '../../src/index.js';
import { liveTest, withNetns, type Netns } from '../helpers/netns.js';

const sets = (ns: Netns): string[] => {
  const j = ns.ruleset().nftables as { set?: { name: string } }[];
  return j.filter((x) => x.set).map((x) => x.set!.name);
};
const rules = (ns: Netns): number => (ns.ruleset().nftables as { rule?: unknown }[]).filter((x) => x.rule).length;

liveTest('sets: a hash list and an interval list are one rule each, listed back as the list, deleted with their sets', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      const h = await m.add({ src: ['10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.1'], mark: 1 });
      const iv = await m.add({ src: ['10.1.0.0/16', '10.1.2.0/24', '192.168.0.0/24', '192.168.1.0/24', '10.9.9.9'], mark: 2 });
      t.is(rules(ns), 2);
      const text = ns.nft('list', 'ruleset');
      t.regex(text, /ip saddr @pm_[0-9a-f]{16}_src4 counter packets 0 bytes 0 meta mark set 0x00000001/);
      t.regex(text, /flags interval/);
      const listed = await m.list();
      t.deepEqual(listed.map((r) => r.id), [h.id, iv.id]);
      t.deepEqual(listed[0].rule?.srcList, { entries: ['10.0.0.1', '10.0.0.2', '10.0.0.3'], families: ['ip'], interval: [] });
      t.deepEqual(listed[1].rule?.srcList?.entries, ['10.1.0.0/16', '10.9.9.9', '192.168.0.0/23']);
      t.deepEqual(listed[1].rule?.srcList?.interval, ['ip']);
      t.deepEqual(listed[0].rule, h.rule, 'the decoded rule equals the added one');
      await m.delete(h.id);
      t.is(rules(ns), 1);
      t.is(sets(ns).length, 1, 'the hash set went with its rule');
      await m.delete(iv.id);
      t.deepEqual(sets(ns), []);
    } finally { await m.close(); }
  });
});

liveTest('sets: a mixed v4/v6 list is two kernel rules under one id; list joins them, delete removes both and both sets', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      await m.add({ src: '10.7.7.7', mark: 9 });
      const r = await m.add({ src: ['10.0.0.1', 'fd00::1', '2001:db8::/32'], mark: 3 });
      t.is(rules(ns), 3);
      t.is(sets(ns).length, 2);
      const listed = await m.list();
      t.is(listed.length, 2);
      t.is(listed[1].id, r.id);
      t.deepEqual(listed[1].rule?.srcList, { entries: ['10.0.0.1', '2001:db8::/32', 'fd00::1'], families: ['ip', 'ip6'], interval: ['ip6'] });
      t.is(listed[1].rule?.family, undefined);
      await m.delete(r.id);
      t.is(rules(ns), 1);
      t.deepEqual(sets(ns), []);
    } finally { await m.close(); }
  });
});

liveTest('sets: update sends only the change; removing a prefix out of a merged range re-splits it; errors are typed', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      const h = await m.add({ src: ['10.0.0.1', '10.0.0.2'], mark: 1 });
      t.deepEqual(await m.update(h.id, { add: ['10.0.0.5'], remove: ['10.0.0.1'] }), { id: h.id, deleted: 1, added: 1 });
      t.deepEqual((await m.list())[0].rule?.srcList?.entries, ['10.0.0.2', '10.0.0.5']);
      const nf = await t.throwsAsync(m.update(h.id, { remove: ['10.0.0.99'] }), { instanceOf: PktmarkError });
      t.is(nf?.code, 'NOT_FOUND');
      const pf = await t.throwsAsync(m.update(h.id, { add: ['10.5.0.0/16'] }), { instanceOf: PktmarkError });
      t.is(pf?.code, 'INVALID_CIDR');
      t.is(pf?.field, 'add[0]');

      const iv = await m.add({ src: ['10.1.0.0/16'], mark: 2 });
      // take 10.1.1.0/24 out of the /16: the stored pair goes, the two remainders come in
      const u = await m.update(iv.id, { remove: ['10.1.1.0/24'] });
      t.deepEqual(u, { id: iv.id, deleted: 2, added: 4 });
      t.deepEqual((await m.list())[1].rule?.srcList?.entries, ['10.1.0.0/24', '10.1.2.0-10.1.255.255']);
      // an overlapping add merges: 10.1.0.0/23 covers the gap again → one /16
      await m.update(iv.id, { add: ['10.1.0.0/23'] });
      t.deepEqual((await m.list())[1].rule?.srcList?.entries, ['10.1.0.0/16']);
      t.regex(ns.nft('list', 'ruleset'), /10\.1\.0\.0\/16/);
      // no-op: already covered
      t.deepEqual(await m.update(iv.id, { add: ['10.1.3.4'] }), { id: iv.id, deleted: 0, added: 0 });

      const plain = await m.add({ src: '10.2.0.1', mark: 3 });
      const ns1 = await t.throwsAsync(m.update(plain.id, { add: ['10.0.0.1'] }), { instanceOf: PktmarkError });
      t.is(ns1?.code, 'NOT_A_SET_RULE');
      const gone = await t.throwsAsync(m.update('nft:prerouting:9999', { add: ['10.0.0.1'] }), { instanceOf: PktmarkError });
      t.is(gone?.code, 'NOT_FOUND');
      const fam = await t.throwsAsync(m.update(h.id, { add: ['fd00::1'] }), { instanceOf: PktmarkError });
      t.is(fam?.code, 'FAMILY_MISMATCH');
    } finally { await m.close(); }
  });
});

liveTest('sets: a failed add leaves no set behind (one batch)', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      await m.add({ src: '10.0.0.1', mark: 1 });
      // the second rule's iif in an output chain is refused before sending; use a kernel refusal instead:
      // insert before a rule that does not exist → ENOENT for the NEWRULE, after the sets in the batch
      const e = await t.throwsAsync(m.add({ src: ['10.0.0.1', '10.0.0.0/8'], mark: 2 }, { before: 'nft:prerouting:9999' }), { instanceOf: PktmarkError });
      t.is(e?.code, 'NOT_FOUND');
      t.deepEqual(sets(ns), []);
      t.is(rules(ns), 1);
    } finally { await m.close(); }
  });
});
