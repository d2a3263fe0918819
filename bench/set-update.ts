/**
 * Issue 13's live-update benchmark: the 1% update of an N-element set (default N = 100,000: 500
 * elements added and 500 deleted) with pktmark's `Marker.update` (one batch of only the changed
 * elements) vs `nft -f` with the same `add element` and `delete element` lines, for a plain
 * (hash) set of addresses and an interval set (`flags interval`, /30 prefixes). pktmark's first
 * update of a process reads an interval set once (cold); later ones start from what it wrote
 * (warm: WARM of them per round, all in the row's spread). Results go to bench/results.json
 * (section "setUpdate"); report.ts prints the ratios.
 *   PKTMARK_BENCH_SET_N=100000  PKTMARK_BENCH_ROUNDS=3  PKTMARK_BENCH_WARM=5  PKTMARK_BENCH_NFT=0 (pktmark's rows only)
 * nft's interval update of 100,000 elements took 35–49 s here (issue 13): the nft rows of the
 * interval set are one round each.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Marker } from '../src/index.js';
import { IP, NFT, dropNetns, freshNetns, measureInNetns, ms, saveResults, spread, type Spread } from './common.js';

const N = Number(process.env.PKTMARK_BENCH_SET_N ?? 100_000);
const ROUNDS = Number(process.env.PKTMARK_BENCH_ROUNDS ?? 3);
const WITH_NFT = process.env.PKTMARK_BENCH_NFT !== '0';
const CHANGE = Math.max(2, Math.round(N / 100));
/** warm updates per round (distinct elements each) */
const WARM = Number(process.env.PKTMARK_BENCH_WARM ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'pktmark-setupd-'));
const v4 = (n: number): string => `${n >>> 24}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

interface Kind { readonly name: 'hash' | 'interval'; entry(i: number): string }
const KINDS: readonly Kind[] = [
  { name: 'hash', entry: (i) => v4(0x0a000000 + i * 2) },
  { name: 'interval', entry: (i) => `${v4(0x0a000000 + i * 8)}/30` },
];

export interface SetUpdateRow {
  readonly kind: 'hash' | 'interval';
  readonly n: number;
  readonly change: number;
  /** pktmark-cold: the process's first update; pktmark-warm: the next one; nft-f: nft -f of the same lines */
  readonly method: 'pktmark-cold' | 'pktmark-warm' | 'nft-f';
  readonly ms: Spread;
  readonly rssMB?: Spread;
}

/** The change: delete the first CHANGE/2 entries, add CHANGE/2 new ones (beyond the list). */
const removed = (k: Kind, round: number): string[] => Array.from({ length: CHANGE / 2 }, (_, i) => k.entry(round * CHANGE + i));
const added = (k: Kind, round: number): string[] => Array.from({ length: CHANGE / 2 }, (_, i) => k.entry(N + round * CHANGE + i));

async function pktmarkRows(k: Kind): Promise<SetUpdateRow[]> {
  const cold: number[] = [], warm: number[] = [], firstWarm: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ns = freshNetns();
    try {
      const m = await Marker.open({ netns: ns, timeoutMs: 300_000 });
      const rec = await m.add({ src: Array.from({ length: N }, (_, i) => k.entry(i)), mark: 0xdeadbeef });
      // a fresh Marker: its first update reads the set as an agent restarted would
      const u = await Marker.open({ netns: ns, timeoutMs: 300_000 });
      let t0 = process.hrtime.bigint();
      await u.update(rec.id, { add: added(k, 0), remove: removed(k, 0) });
      cold.push(ms(t0));
      // several warm updates per round (the first right after the cold read is kept apart too:
      // it may pay for collecting that read's garbage)
      for (let w = 1; w <= WARM; w++) {
        t0 = process.hrtime.bigint();
        await u.update(rec.id, { add: added(k, w), remove: removed(k, w) });
        warm.push(ms(t0));
        if (w === 1) firstWarm.push(warm[warm.length - 1]);
      }
      await u.close();
      await m.close();
    } finally { dropNetns(ns); }
  }
  const first = spread(firstWarm);
  console.log(`${k.name.padEnd(9)} (first warm update of each round: ${first.median.toFixed(1)} ms [${first.min.toFixed(1)}–${first.max.toFixed(1)}])`);
  return [
    { kind: k.name, n: N, change: CHANGE, method: 'pktmark-cold', ms: spread(cold) },
    { kind: k.name, n: N, change: CHANGE, method: 'pktmark-warm', ms: spread(warm) },
  ];
}

function nftRow(k: Kind): SetUpdateRow {
  const times: number[] = [], kb: number[] = [];
  const rounds = k.name === 'interval' && N >= 10_000 ? 1 : ROUNDS;
  for (let r = 0; r < rounds; r++) {
    const ns = freshNetns();
    try {
      const setup = join(dir, `${k.name}-setup.nft`);
      const flags = k.name === 'interval' ? ' flags interval;' : '';
      writeFileSync(setup, `add table inet bench\nadd set inet bench s { type ipv4_addr;${flags} }\nadd element inet bench s { ${Array.from({ length: N }, (_, i) => k.entry(i)).join(', ')} }\n`);
      execFileSync(IP, ['netns', 'exec', ns, NFT, '-f', setup]);
      const change = join(dir, `${k.name}-change.nft`);
      writeFileSync(change, `add element inet bench s { ${added(k, 0).join(', ')} }\ndelete element inet bench s { ${removed(k, 0).join(', ')} }\n`);
      const x = measureInNetns(ns, NFT, ['-f', change]);
      times.push(x.ms);
      kb.push(x.maxRssKB);
    } finally { dropNetns(ns); }
  }
  return { kind: k.name, n: N, change: CHANGE, method: 'nft-f', ms: spread(times), rssMB: spread(kb.map((x) => x / 1024)) };
}

async function main(): Promise<void> {
  console.log(`# set update: ${CHANGE} of ${N} elements (half added, half deleted); ${ROUNDS} rounds`);
  const rows: SetUpdateRow[] = [];
  for (const k of KINDS) {
    const mine = await pktmarkRows(k);
    const nft = WITH_NFT ? nftRow(k) : undefined;
    rows.push(...mine, ...(nft ? [nft] : []));
    for (const r of [...mine, ...(nft ? [nft] : [])]) console.log(`${k.name.padEnd(9)} ${r.method.padEnd(13)} ${r.ms.median.toFixed(1).padStart(9)} ms [${r.ms.min.toFixed(1)}–${r.ms.max.toFixed(1)}]`);
    console.log(`${k.name.padEnd(9)} ${nft ? `nft -f / pktmark warm: ${(nft.ms.median / mine[1].ms.median).toFixed(1)}×; ` : ''}pktmark warm ${mine[1].ms.median <= 50 ? '≤' : '>'} 50 ms target`);
  }
  if (WITH_NFT) saveResults('setUpdate', { n: N, change: CHANGE, rows, machine: execFileSync('uptime', { encoding: 'utf8' }).trim() });
}

await main();
