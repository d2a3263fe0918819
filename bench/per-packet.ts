/**
 * Per-packet cost of marking (issue 9's benchmark): 200,000 UDP datagrams from namespace A
 * through a veth pair into B, with no rule, one rule and 100 rules (the matching one last) of
 * each kind — nft, the bpf (cls_bpf) marker, the XDP metadata pair — and, for the eBPF programs,
 * their own run time from the kernel (kernel.bpf_stats_enabled, run_time_ns / run_cnt), which a
 * 4.5 µs send cannot hide. On a veth pair the receiving namespace's ingress path (XDP, tc,
 * netfilter prerouting) runs in the sender's softirq, so its cost shows up in the send time. Also: load + attach time of one bpf marker vs one nft rule.
 * Ratios are printed and written to bench/results.json; nothing here is a test.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Marker } from '../src/index.js';
import type { MarkRuleInput } from '../src/rule.js';
import { openBpf } from '../src/transport/bpf.js';
import { IP, dropNetns, freshNetns, median, ms, runChild, saveResults, verdict } from './common.js';

const PACKETS = Number(process.env.PKTMARK_BENCH_PACKETS ?? 200_000);
const RUNS = Number(process.env.PKTMARK_BENCH_RUNS ?? 5);
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** nft-set / nft-iset: one rule whose src is an n-entry list (a named hash / interval set) */
type Kind = 'nft' | 'bpf' | 'xdp' | 'nft-set' | 'nft-iset';
const ruleFor = (kind: 'nft' | 'bpf' | 'xdp', src: string): MarkRuleInput =>
  kind === 'nft' ? { src, mark: 0xdeadbeef } : { via: kind, dev: 'vb', src, mark: 0xdeadbeef };
/** n rules; only the last matches the sender */
const rules = (kind: Kind, n: number): MarkRuleInput[] => {
  if (kind === 'nft-set') return [{ src: [...Array.from({ length: n - 1 }, (_, i) => `10.1.${i >> 8}.${i & 255}`), '10.0.0.1'], mark: 0xdeadbeef }];
  if (kind === 'nft-iset') return [{ src: [...Array.from({ length: n - 1 }, (_, i) => `10.${1 + (i >> 14)}.${(i >> 6) & 255}.${(i & 63) * 4}/30`), '10.0.0.0/31'], mark: 0xdeadbeef }];
  const k = kind;
  return Array.from({ length: n }, (_, i) => ruleFor(k, i === n - 1 ? '10.0.0.1' : `10.1.${i >> 8}.${i & 255}`));
};

/** ns per datagram, sent from `a` (its only address is 10.0.0.1) by bench/udp-sender.ts */
const blast = (a: string): number => runChild<{ usPerPacket: number }>('udp-sender', ['10.0.0.2', '9', String(PACKETS)], a).usPerPacket * 1000;

/** Sum of run_time_ns / run_cnt over pktmark's loaded programs of these names. */
function progStats(names: readonly string[]): { ns: number; cnt: number } {
  const sys = openBpf();
  let id = 0, ns = 0, cnt = 0;
  for (;;) {
    const next = sys.progNextId(id);
    if (next === undefined) break;
    id = next;
    let fd = -1;
    try {
      fd = sys.progGetFdById(id);
      const info = sys.progInfo(fd);
      if (names.includes(info.name)) { ns += Number(info.runTimeNs); cnt += Number(info.runCnt); }
    } catch { /* gone meanwhile */ } finally { if (fd >= 0) sys.close(fd); }
  }
  return { ns, cnt };
}

interface Row { config: string; nsPerPacket: number; spread: [number, number]; overheadNs: number; progNsPerRun?: number }

async function main(): Promise<void> {
  const a = freshNetns(), b = freshNetns();
  let sink: ChildProcess | undefined;
  let statsWas: string | undefined;
  const rows: Row[] = [];
  try {
    execFileSync(IP, ['link', 'add', 'va', 'netns', a, 'type', 'veth', 'peer', 'name', 'vb', 'netns', b]);
    execFileSync(IP, ['-n', a, 'addr', 'add', '10.0.0.1/24', 'dev', 'va']);
    execFileSync(IP, ['-n', b, 'addr', 'add', '10.0.0.2/24', 'dev', 'vb']);
    for (const [ns, dev] of [[a, 'va'], [b, 'vb']]) { execFileSync(IP, ['-n', ns, 'link', 'set', dev, 'up']); execFileSync(IP, ['-n', ns, 'link', 'set', 'lo', 'up']); }
    // a socket that never reads: datagrams end at its full queue, after every marking hook
    sink = spawn(IP, ['netns', 'exec', b, process.execPath, '-e', "require('dgram').createSocket('udp4').bind(9,'10.0.0.2');setInterval(()=>{},1e9)"], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    statsWas = readFileSync(STATS, 'utf8').trim();
    writeFileSync(STATS, '1');

    const m = await Marker.open({ netns: `/run/netns/${b}` });
    const measure = async (config: string, kind: Kind | undefined, n: number): Promise<void> => {
      await m.clear();
      if (kind) {
        try { await m.add(rules(kind, n)); } catch (e) { console.log(`skip ${config}: ${(e as Error).message}`); return; }
      }
      blast(a); // settle neighbours and caches
      const names = kind === 'bpf' ? ['pktmark_tc'] : kind === 'xdp' ? ['pktmark_xdp', 'pktmark_xdpcp'] : [];
      const before = progStats(names);
      const xs = Array.from({ length: RUNS }, () => blast(a));
      const after = progStats(names);
      const none = rows.find((r) => r.config === 'no rule')?.nsPerPacket ?? median(xs);
      const row: Row = { config, nsPerPacket: median(xs), spread: [Math.min(...xs), Math.max(...xs)], overheadNs: median(xs) - none };
      if (names.length && after.cnt > before.cnt) row.progNsPerRun = (after.ns - before.ns) / ((after.cnt - before.cnt) / names.length);
      rows.push(row);
      console.log(`${config.padEnd(18)} ${row.nsPerPacket.toFixed(0).padStart(6)} ns/packet (runs ${row.spread.map((x) => x.toFixed(0)).join('-')}), overhead ${row.overheadNs.toFixed(0)} ns${row.progNsPerRun !== undefined ? `, program ${row.progNsPerRun.toFixed(0)} ns/packet` : ''}`);
    };
    await measure('no rule', undefined, 0);
    for (const n of [1, 100]) for (const kind of ['nft', 'bpf', 'xdp'] as const) await measure(`${kind} ${n}`, kind, n);
    // one rule with a 10,000-entry set (issue 13: the overhead should stay near one rule's)
    for (const kind of ['nft-set', 'nft-iset'] as const) await measure(`${kind} 10000`, kind, 10_000);

    // load + attach of one marker vs one nft rule, warm, on the open Marker
    const addTimes = async (kind: 'nft' | 'bpf' | 'xdp'): Promise<number> => {
      const xs: number[] = [];
      for (let i = 0; i < 15; i++) { await m.clear(); const t0 = process.hrtime.bigint(); await m.add(ruleFor(kind, '10.0.0.1')); xs.push(ms(t0)); }
      return median(xs.slice(3));
    };
    const addNft = await addTimes('nft');
    let addBpf: number | undefined;
    try { addBpf = await addTimes('bpf'); } catch (e) { console.log(`skip bpf add timing: ${(e as Error).message}`); }
    await m.clear();
    await m.close();

    const get = (c: string): Row | undefined => rows.find((r) => r.config === c);
    const ratio = (x?: Row, y?: Row): number | undefined => (x && y && y.overheadNs > 0 ? x.overheadNs / y.overheadNs : undefined);
    const r = {
      packets: PACKETS, runs: RUNS, rows,
      addMs: { nft: addNft, bpf: addBpf ?? null }, addBpfVsNft: addBpf !== undefined ? addBpf / addNft : null,
      bpf1VsNft1: ratio(get('bpf 1'), get('nft 1')) ?? null, bpf100VsNft100: ratio(get('bpf 100'), get('nft 100')) ?? null,
      xdp1VsNft1: ratio(get('xdp 1'), get('nft 1')) ?? null, xdp100VsNft100: ratio(get('xdp 100'), get('nft 100')) ?? null,
      hashSet10kVsNft1: ratio(get('nft-set 10000'), get('nft 1')) ?? null, intervalSet10kVsNft1: ratio(get('nft-iset 10000'), get('nft 1')) ?? null,
    };
    saveResults('perPacket', r);
    console.log(`add one rule: nft ${addNft.toFixed(2)} ms, bpf ${addBpf?.toFixed(2) ?? '-'} ms`);
    for (const [name, v] of [['bpf 1 overhead / nft 1 overhead', r.bpf1VsNft1], ['bpf 100 overhead / nft 100 overhead', r.bpf100VsNft100]] as const) {
      if (v !== null) console.log(verdict(name, v, 1));
    }
    if (r.hashSet10kVsNft1 !== null) console.log(verdict('hash set of 10,000 overhead / nft 1 overhead', r.hashSet10kVsNft1, 1.2));
    if (r.intervalSet10kVsNft1 !== null) console.log(`interval set of 10,000 overhead / nft 1 overhead: ${r.intervalSet10kVsNft1.toFixed(2)} (reported)`);
    console.log('(differences are a fraction of a microsecond against a noisy send: the program run times are the steadier figure)');
  } finally {
    if (statsWas !== undefined) writeFileSync(STATS, statsWas);
    sink?.kill();
    dropNetns(a); dropNetns(b);
  }
}

await main();
