/**
 * Packets through list rules (one rule + an nft named set): an address in the middle of a
 * 10,000-entry list is marked and one outside it is not (hash and interval sets); during 1,000
 * update batches a steady stream from an address that stays in the list is marked every time
 * (observer counter == packets that arrived == packets sent), including when each update
 * deletes and re-adds the very interval that holds the sender, and during updates that replace a
 * full hash set by a bigger one (growth); an overlapping prefix is merged.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { Marker } from '../../src/index.js';
import { liveTest, withVethPair, IP, type Netns } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';

const STREAM = fileURLToPath(new URL('./set-stream-sender.mjs', import.meta.url));
const MARK = 0x5e7;
const v4 = (n: number): string => `${n >>> 24}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

/** 10,000 entries of 172.16/12 (never 10.0.0.x), with `extra` put in the middle. */
function bigList(extra: string, prefixes: boolean): string[] {
  const out = Array.from({ length: 9_999 }, (_, i) => (prefixes ? `${v4(0xac100000 + i * 256)}/25` : v4(0xac100000 + i * 3)));
  out.splice(5_000, 0, extra);
  return out;
}

/** Observers in `a`: marked packets from SRC to udp 9, and all packets from SRC to udp 9. */
function observe(a: Netns, src: string): void {
  addObserver(a, MARK, 'prerouting', 'marked', `ip saddr ${src} udp dport 9`);
  a.nftFile(`table inet seen { chain c { type filter hook prerouting priority 0; ip saddr ${src} udp dport 9 counter; }; }\n`);
}

for (const prefixes of [false, true]) {
  liveTest(`set packets: a 10,000-entry ${prefixes ? 'interval' : 'hash'} list marks 10.0.0.1 (in the middle) and not 10.0.0.3`, async (t) => {
    await withVethPair(async (a, b) => {
      const m = await Marker.open({ netns: a.name });
      try {
        const rec = await m.add({ src: bigList(prefixes ? '10.0.0.0/31' : '10.0.0.1', prefixes), mark: MARK });
        t.is(rec.rule?.srcList?.interval.length, prefixes ? 1 : 0);
        addObserver(a, MARK);
        sendUdp(b, '10.0.0.1', '10.0.0.2', 5);
        sendUdp(b, '10.0.0.3', '10.0.0.2', 7);
        t.is(observerCount(a), 5);
        const [listed] = await m.list();
        t.is(listed.packets, 5);
        t.is(listed.rule?.srcList?.entries.length, 10_000);
      } finally { await m.close(); }
    });
  });
}

liveTest('set packets: an overlapping prefix is merged (10.0.0.0/24 + 10.0.0.0/30 + 10.0.0.1): one range, marks .1 and .3', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add({ src: ['10.0.0.0/30', '10.0.0.1', '10.0.0.0/24', '10.0.0.2'], mark: MARK });
      t.deepEqual(rec.rule?.srcList?.entries, ['10.0.0.0/24']);
      t.regex(a.nft('list', 'ruleset'), /elements = \{ 10\.0\.0\.0\/24 \}/);
      addObserver(a, MARK);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 2);
      sendUdp(b, '10.0.0.3', '10.0.0.2', 3);
      t.is(observerCount(a), 5);
    } finally { await m.close(); }
  });
});

/** Run the stream sender from `src` in `b` while `work` runs; resolves to what it sent. */
async function whileStreaming(b: Netns, src: string, work: () => Promise<void>): Promise<number> {
  const p = spawn(IP, ['netns', 'exec', b.name, process.execPath, STREAM, src, '10.0.0.2', '9'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const ready = new Promise<void>((resolve) => p.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) resolve(); }));
  const done = new Promise<number>((resolve, reject) => p.on('close', (code) => {
    const last = out.trim().split('\n').at(-1) ?? '';
    try { resolve((JSON.parse(last) as { sent: number }).sent); } catch { reject(new Error(`sender exited ${code}: ${err}`)); }
  }));
  await ready;
  try { await work(); } finally { p.stdin.end(); }
  return done;
}

async function updatesUnderTraffic(t: ExecutionContext, list: string[], step: (m: Marker, id: string, i: number) => Promise<void>): Promise<void> {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add({ src: list, mark: MARK });
      observe(a, '10.0.0.1');
      sendUdp(b, '10.0.0.1', '10.0.0.2', 1); // neighbour resolution before the count starts
      const before = observerCount(a, 'seen');
      const t0 = Date.now();
      const sent = await whileStreaming(b, '10.0.0.1', async () => {
        for (let i = 0; i < 1_000; i++) await step(m, rec.id, i);
      });
      const seen = observerCount(a, 'seen') - before;
      const marked = observerCount(a, 'marked') - before;
      t.log(`1,000 updates in ${Date.now() - t0} ms; ${sent} packets sent, ${seen} arrived, ${marked} marked`);
      t.true(sent > 100, `a steady stream (${sent} packets)`);
      t.is(seen, sent, 'every packet arrived');
      t.is(marked, seen, 'every packet from the address that stays was marked');
    } finally { await m.close(); }
  });
}

liveTest('set packets: during 1,000 hash-set update batches, a stream from 10.0.0.1 (which stays) is marked 100%', async (t) => {
  t.timeout(5 * 60_000);
  await updatesUnderTraffic(t, bigList('10.0.0.1', false), async (m, id, i) => {
    const other = v4(0xc0a80000 + (i % 200));
    await m.update(id, i % 2 === 0 ? { add: [other, v4(0xc0a90000 + i)] } : { remove: [v4(0xc0a90000 + i - 1)], add: [other] });
  });
});

liveTest('set packets: during 1,000 interval updates that split and re-join the range holding 10.0.0.1, its stream is marked 100%', async (t) => {
  t.timeout(5 * 60_000);
  // 10.0.0.0/24 holds the sender; taking 10.0.0.128/25 out deletes the /24's pair and adds
  // 10.0.0.0/25; putting it back deletes that pair and adds the /24: the sender's range is
  // deleted and re-added in every batch, atomically
  await updatesUnderTraffic(t, bigList('10.0.0.0/24', true), async (m, id, i) => {
    await m.update(id, i % 2 === 0 ? { remove: ['10.0.0.128/25'] } : { add: ['10.0.0.128/25'] });
  });
});

liveTest('set packets: during 300 hash updates that grow the set 8 times (declared 48 → 12,288), the stream from 10.0.0.1 is marked 100% and the counter carries over', async (t) => {
  t.timeout(5 * 60_000);
  // 20 addresses with the sender among them (size 48); each update adds 40 more: the set is
  // replaced by a bigger one (new set, rule replaced by handle, old set deleted) at 49, 97, …
  const start = [...Array.from({ length: 19 }, (_, i) => v4(0xac100000 + i)), '10.0.0.1'];
  let id = '';
  let before = 0;
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add({ src: start, mark: MARK });
      id = rec.id;
      observe(a, '10.0.0.1');
      sendUdp(b, '10.0.0.1', '10.0.0.2', 1);
      before = (await m.list())[0].packets;
      const seen0 = observerCount(a, 'seen');
      const sent = await whileStreaming(b, '10.0.0.1', async () => {
        for (let i = 0; i < 300; i++) await m.update(id, { add: Array.from({ length: 40 }, (_, k) => v4(0xac200000 + i * 40 + k)) });
      });
      const seen = observerCount(a, 'seen') - seen0;
      const marked = observerCount(a, 'marked') - seen0;
      const [listed] = await m.list();
      const name = (JSON.parse(a.nft('-j', 'list', 'sets')).nftables as { set?: { name: string; size?: number } }[]).find((x) => x.set)?.set;
      t.log(`${sent} packets sent, ${seen} arrived, ${marked} marked; set now ${name?.name} (size ${name?.size})`);
      t.is(listed.id, id, 'the id survives every growth');
      t.is(listed.rule?.srcList?.entries.length, 20 + 300 * 40);
      t.regex(name?.name ?? '', /_src4_g8$/);
      t.is(name?.size, 12_288);
      t.true(sent > 100, `a steady stream (${sent} packets)`);
      t.is(seen, sent, 'every packet arrived');
      t.is(marked, seen, 'every packet from the address that stays was marked');
      // A growth carries the counter it read, so the packets counted between that read and its
      // commit are lost (documented): 15% of them under CI's load. A counter reset by each of the
      // 8 replacements would hold only the packets since the last one, about a ninth of them.
      t.true(listed.packets >= before + Math.floor(sent * 0.5), `the rule's counter carried over the replacements (${before} → ${listed.packets} of ${sent} sent)`);
    } finally { await m.close(); }
  });
});
