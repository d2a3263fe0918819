/** The Marker facade against the real kernel, nft path: lifecycle, ownership, atomicity, and refusals. */
import { Marker, PktmarkError, type MarkRuleInput } from '../../src/index.js';
import type { ErrorCode } from '../../src/errors.js';
import { liveTest, withNetns, NFT, type Netns } from '../helpers/netns.js';

const listing = (ns: Netns): string => ns.exec(NFT, ['list', 'ruleset']);

liveTest('nft: add, list with counters, delete one, clear — by netns name, path and pid', async (t) => {
  await withNetns(async (ns) => {
    for (const target of [ns.name, ns.path]) {
      const m = await Marker.open({ netns: target });
      try {
        const a = await m.add({ src: '10.0.0.1', mark: 0xdeadbeef, comment: 'first' });
        const [b, c] = await m.add([{ family: 'ip6', src: '2001:db8::1', mark: '0xdeadbeef' }, { hook: 'output', proto: 'tcp', dport: 22, mark: 7 }]);
        t.regex(a.id, /^nft:prerouting:\d+$/);
        t.regex(b.id, /^nft:prerouting:\d+$/);
        t.regex(c.id, /^nft:output:\d+$/);
        const list = await m.list();
        t.deepEqual(list.map((r) => r.id), [a.id, b.id, c.id]);
        t.is(list[0].rule?.comment, 'first');
        t.is(list[0].packets, 0);
        t.true(ns.nft('list', 'ruleset').includes('comment "first"'));
        await m.delete(b.id);
        t.deepEqual((await m.list()).map((r) => r.id), [a.id, c.id]);
        await m.clear();
        t.deepEqual(await m.list(), []);
        t.is(listing(ns).trim(), '');
      } finally { await m.close(); }
    }
  });
});

liveTest('nft: a table of pktmark’s name that pktmark did not make is NOT_OWNED and untouched', async (t) => {
  await withNetns(async (ns) => {
    ns.nftFile('table inet pktmark { chain prerouting { type filter hook prerouting priority 0; counter; }; }\n');
    const before = listing(ns);
    const m = await Marker.open({ netns: ns.name });
    try {
      const e = await t.throwsAsync(m.add({ src: '10.0.0.1', mark: 1 }), { instanceOf: PktmarkError });
      t.is(e?.code, 'NOT_OWNED');
      await t.throwsAsync(m.clear(), { instanceOf: PktmarkError, message: /not/i });
      t.is(listing(ns), before);
    } finally { await m.close(); }
  });
});

liveTest('nft: other tables are never touched; a custom table name works', async (t) => {
  await withNetns(async (ns) => {
    ns.nftFile('table ip other { chain c { type filter hook prerouting priority 0; ip saddr 1.2.3.4 counter; }; }\n');
    const other = ns.nft('list', 'table', 'ip', 'other');
    const m = await Marker.open({ netns: ns.name, table: 'agent_marks' });
    try {
      await m.add({ src: '10.0.0.1', mark: 1 });
      t.true(ns.nft('list', 'tables').includes('table inet agent_marks'));
      await m.clear();
      t.is(ns.nft('list', 'table', 'ip', 'other'), other);
      t.false(ns.nft('list', 'tables').includes('agent_marks'));
    } finally { await m.close(); }
  });
});

const refused: [string, MarkRuleInput | MarkRuleInput[], ErrorCode][] = [
  ['mark out of range', { src: '10.0.0.1', mark: 2 ** 32 }, 'MARK_RANGE'],
  ['mark not a number', { mark: 'lots' }, 'INVALID_MARK'],
  ['value bits outside mask', { mark: '0x11/0xf0' }, 'MASK_MISMATCH'],
  ['bad CIDR', { src: '10.0.0.0/40', mark: 1 }, 'INVALID_CIDR'],
  ['family mismatch', { family: 'ip6', src: '10.0.0.1', mark: 1 }, 'FAMILY_MISMATCH'],
  ['port out of range', { proto: 'udp', dport: 65536, mark: 1 }, 'INVALID_PORT'],
  ['port without tcp/udp/sctp', { dport: 80, mark: 1 }, 'PORT_WITHOUT_PROTO'],
  ['interface name too long', { iif: 'sixteen-chars-ab', mark: 1 }, 'INVALID_IFNAME'],
  ['bad rate unit', { rate: '5/fortnight', mark: 1 }, 'INVALID_RATE'],
  ['zero burst', { rate: '1/second', burst: 0, mark: 1 }, 'INVALID_BURST'],
  ['negative burst', { rate: '1/second', burst: -1, mark: 1 }, 'INVALID_BURST'],
  ['comment too long', { comment: 'é'.repeat(65), mark: 1 }, 'INVALID_COMMENT'],
  ['comment with NUL', { comment: 'a\u0000', mark: 1 }, 'INVALID_COMMENT'],
  ['unknown hook', { hook: 'input', mark: 1 }, 'INVALID_HOOK'],
  ['one bad rule in an array: none applied', [{ src: '10.0.0.5', mark: 1 }, { src: '10.0.0.6', mark: -1 }], 'MARK_RANGE'],
];

liveTest(`nft: ${refused.length} bad inputs are refused with their code and the ruleset is unchanged`, async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      await m.add({ src: '10.0.0.1', mark: 1 });
      const before = listing(ns);
      for (const [name, input, code] of refused) {
        const e = await t.throwsAsync(m.add(input as MarkRuleInput), { instanceOf: PktmarkError }, name);
        t.is(e?.code, code, name);
        t.truthy(e?.field, `${name}: the error names the field`);
        t.is(listing(ns), before, `${name}: nothing applied`);
      }
      const missing = await t.throwsAsync(m.delete('nft:prerouting:99999'), { instanceOf: PktmarkError });
      t.is(missing?.code, 'NOT_FOUND');
      const malformed = await t.throwsAsync(m.delete('nft:prerouting:abc'), { instanceOf: PktmarkError });
      t.is(malformed?.code, 'INVALID_ID');
      t.is(listing(ns), before, 'failed deletes changed nothing');
    } finally { await m.close(); }
  });
});

liveTest('nft: a netns that does not exist is INVALID_NETNS before anything is sent', async (t) => {
  const e = await t.throwsAsync(Marker.open({ netns: 'pktmark-no-such-ns' }), { instanceOf: PktmarkError });
  t.is(e?.code, 'INVALID_NETNS');
  t.is(e?.field, 'netns');
});

liveTest('nft: a netns given by the pid of a process inside it', async (t) => {
  await withNetns(async (ns) => {
    const { spawn } = await import('node:child_process');
    const child = spawn('/usr/sbin/ip', ['netns', 'exec', ns.name, 'sleep', '30'], { stdio: 'ignore' });
    try {
      // `ip netns exec` execs sleep in place, so the child's pid is the process inside the namespace
      await new Promise((r) => setTimeout(r, 200));
      const m = await Marker.open({ netns: child.pid! });
      try {
        const r = await m.add({ src: '10.9.9.9', mark: 9 });
        t.true(listing(ns).includes('10.9.9.9'));
        await m.delete(r.id);
      } finally { await m.close(); }
    } finally { child.kill(); }
  });
});

liveTest('nft: add with { before } inserts just before that rule, in input order, in one batch', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      const a = await m.add({ src: '10.0.0.1', mark: 1 });
      const b = await m.add({ src: '10.0.0.2', mark: 2 });
      const [x, y] = await m.add([{ src: '10.0.0.3', mark: 3 }, { src: '10.0.0.4', mark: 4 }], { before: b.id });
      t.deepEqual((await m.list()).map((r) => r.id), [a.id, x.id, y.id, b.id], 'order a, x, y, b; ids of a and b unchanged');
      const [p, q] = await m.add([{ src: '10.0.0.6', mark: 6 }, { src: '10.0.0.7', mark: 7 }], { first: true });
      t.deepEqual((await m.list()).map((r) => r.id), [p.id, q.id, a.id, x.id, y.id, b.id], 'first: p, q at the head, in input order');
      t.is(p.rule?.src?.address, '10.0.0.6', 'records come back in input order');
      const before = listing(ns);
      const gone = await t.throwsAsync(m.add({ src: '10.0.0.5', mark: 5 }, { before: 'nft:prerouting:9999' }), { instanceOf: PktmarkError });
      t.is(gone?.code, 'NOT_FOUND');
      t.is(gone?.field, 'before');
      const chain = await t.throwsAsync(m.add({ hook: 'output', mark: 5 }, { before: b.id }), { instanceOf: PktmarkError });
      t.is(chain?.code, 'INVALID_OPTION');
      const tc = await t.throwsAsync(m.add({ via: 'tc', dev: 'lo', mark: 5 }, { before: b.id }), { instanceOf: PktmarkError });
      t.is(tc?.code, 'INVALID_OPTION');
      t.is(listing(ns), before, 'refused inserts changed nothing');
    } finally { await m.close(); }
  });
});
