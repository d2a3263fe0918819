/**
 * Issue 3's benchmark: 10,000 mark rules (distinct /32 sources) into a fresh namespace in one
 * call, against `nft -f` of the same ruleset and against replaying pktmark's own pre-encoded
 * bytes through a bare netlink socket (the kernel's floor), all in this run.
 */
import { Marker, encode, explain, normalizeRule } from '../src/index.js';
import { encodeAddBatch, nftBackend } from '../src/backends/nft/index.js';
import { WriterPool } from '../codecs/netlink/attributes.js';
import { NetlinkSocket } from '../src/transport/netlink-socket.js';
import { parseMessages } from '../codecs/netlink/message.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NFT, dropNetns, freshNetns, median, ms, saveResults, timeInNetns, verdict } from './common.js';

const N = Number(process.env.PKTMARK_BENCH_RULES ?? 10000);
const ROUNDS = Number(process.env.PKTMARK_BENCH_ROUNDS ?? 5);
const inputs = Array.from({ length: N }, (_, i) => ({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mark: 0xdeadbeef }));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function pktmarkOnce(given?: string): Promise<number> {
  const ns = given ?? freshNetns();
  try {
    const m = await Marker.open({ netns: ns });
    const t0 = process.hrtime.bigint();
    const recs = await m.add(inputs);
    const t = ms(t0);
    if (recs.length !== N) throw new Error(`added ${recs.length}`);
    await m.close();
    return t;
  } finally { if (!given) dropNetns(ns); }
}

function nftOnce(file: string): number {
  const ns = freshNetns();
  try { return timeInNetns(ns, 1, NFT, ['-f', file])[0]; } finally { dropNetns(ns); }
}

async function replayOnce(bytes: Uint8Array, lastSeq: number, ns: string): Promise<number> {
  const s = NetlinkSocket.open({ protocol: 12, netns: ns });
  s.ensureBuffers(bytes.length + 65536, bytes.length * 2 + (1 << 20));
  const t0 = process.hrtime.bigint();
  await s.exchange(bytes, { seq: lastSeq, until: 'ack' });
  const t = ms(t0);
  s.close();
  return t;
}

async function main(): Promise<void> {
  // memory first, before anything else has grown the heap: the peak resident memory of one
  // 10,000-rule add (validation, the batch, the socket buffers, the replies) above where it began
  const rssStart = process.memoryUsage().rss;
  await pktmarkOnce(); // also warms the JIT and loads koffi
  const rssGrowthMB = (process.resourceUsage().maxRSS * 1024 - rssStart) / 2 ** 20;
  console.log(`# nft: ${N} rules, ${ROUNDS} rounds each (median)`);
  // encoding alone: validated rules → netlink bytes
  const rules = inputs.map((r) => normalizeRule(r));
  let seq = 0;
  const encodeCtx = { table: 'pktmark', nextSeq: () => ++seq };
  // steady state (an agent encodes again and again): warm the JIT first, then the median of 15
  const steady = (fn: () => unknown): number => {
    for (let i = 0; i < 5; i++) fn();
    const times: number[] = [];
    for (let i = 0; i < 15; i++) { const t0 = process.hrtime.bigint(); fn(); times.push(ms(t0)); }
    return N / (median(times) / 1000);
  };
  // what add() does: encode the batch into the reused buffer (WriterPool), which it gives back after sendmsg
  const pool = new WriterPool();
  const encodePerSec = steady(() => pool.give(encodeAddBatch(rules, 'pktmark', () => ++seq, {}, pool).writer));
  // the public encode()/encodeAdd(): validation too, and fresh memory for the caller to keep
  const encodeFreshPerSec = steady(() => nftBackend.encodeAdd(rules, encodeCtx));
  const validateEncodePerSec = steady(() => encode(inputs));

  const messages = encode(inputs);
  const bytes = concat(messages);
  const lastReal = parseMessages(messages[messages.length - 2])[0].header.seq;
  const nftFile = join(mkdtempSync(join(tmpdir(), 'pktmark-bench-')), 'ruleset.nft');
  writeFileSync(nftFile, ['add table inet pktmark', 'add chain inet pktmark prerouting { type filter hook prerouting priority raw; }',
    ...inputs.map((r) => explain(r).replace(/^nft /, ''))].join('\n') + '\n');

  // Every namespace pktmark and the replay use is made before their first round, and their rounds
  // run back to back: making a namespace spawns `ip`, and a fork leaves every page of this process
  // copy-on-write, so the first write to each page after it faults (with a TLB shoot-down). An add
  // right after a spawn paid 30–40 ms more CPU for that than the same add without (the heap it
  // writes; the batch buffer itself is MADV_DONTFORK, transport/send-pool.ts) — a cost of the
  // harness, which an agent that does not fork never pays. nft runs as its own process anyway.
  const pk: number[] = [], nf: number[] = [], rp: number[] = [];
  const spaces = Array.from({ length: 2 * ROUNDS }, () => freshNetns());
  try {
    for (let i = 0; i < ROUNDS; i++) pk.push(await pktmarkOnce(spaces[i]));
    for (let i = 0; i < ROUNDS; i++) rp.push(await replayOnce(bytes, lastReal, spaces[ROUNDS + i]));
  } finally { spaces.forEach(dropNetns); }
  for (let i = 0; i < ROUNDS; i++) nf.push(nftOnce(nftFile));

  // one rule in-process on an open Marker (the Node-agent case) vs one `nft add rule` process
  const ns = freshNetns();
  const one: number[] = [], nftOne: number[] = [];
  try {
    const m = await Marker.open({ netns: ns });
    await m.add({ src: '10.255.0.1', mark: 1 });
    for (let i = 0; i < 100; i++) {
      const t1 = process.hrtime.bigint();
      await m.add({ src: `10.254.${i >> 8}.${i & 255}`, mark: 0xdeadbeef });
      one.push(ms(t1));
    }
    await m.close();
    nftOne.push(...timeInNetns(ns, 30, NFT, ['add', 'rule', 'inet', 'pktmark', 'prerouting', 'ip', 'saddr', '10.253.0.{i}', 'counter', 'meta', 'mark', 'set', '1']));
  } finally { dropNetns(ns); }

  const r = {
    rules: N,
    pktmarkMs: median(pk), nftFileMs: median(nf), replayFloorMs: median(rp),
    pktmarkVsReplay: median(pk) / median(rp), pktmarkVsNft: median(pk) / median(nf), replayVsNft: median(rp) / median(nf),
    encodeRulesPerSec: Math.round(encodePerSec), encodeAddFreshMemoryRulesPerSec: Math.round(encodeFreshPerSec), validateAndEncodeRulesPerSec: Math.round(validateEncodePerSec),
    batchBytes: bytes.length, rssGrowthMB,
    oneRuleInProcessMedianMs: median(one), nftAddRuleProcessMedianMs: median(nftOne), oneRuleVsNftProcess: median(one) / median(nftOne),
    note: 'nft times are measured from inside the namespace (bench/time-cmd.mjs), so `ip netns exec` is not charged to nft',
  };
  console.log(JSON.stringify(r, null, 2));
  console.log(verdict('pktmark / replay floor', r.pktmarkVsReplay, 1.1));
  console.log(verdict('pktmark / nft -f', r.pktmarkVsNft, 0.55));
  console.log(verdict('encode rules/s (millions), as add() does it', r.encodeRulesPerSec / 1e6, 1, false));
  console.log(`      encodeAdd() into fresh memory: ${(r.encodeAddFreshMemoryRulesPerSec / 1e6).toFixed(2)} M/s; validate + encode: ${(r.validateAndEncodeRulesPerSec / 1e6).toFixed(2)} M/s`);
  console.log(verdict('RSS growth MB', r.rssGrowthMB, 100));
  console.log(verdict('one rule in-process / nft add rule process', r.oneRuleVsNftProcess, 0.1));
  saveResults('nft10k', r);
}

await main();
