/**
 * The benchmark report: reads bench/results.json (nft10k, tc1k, scale) and results-cli.json,
 * prints each target with its figure and spread, and draws bench/report.svg (bench/chart.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR, type Spread } from './common.js';
import { renderReport, type Bar, type Point } from './chart.js';
import type { ApplyRow, PacketRow } from './scale.js';
import type { SetUpdateRow } from './set-update.js';

const BENCH = join(ROOT_DIR, 'bench');
const read = <T>(f: string): T | undefined => { try { return JSON.parse(readFileSync(join(BENCH, f), 'utf8')) as T; } catch { return undefined; } };
interface Scale { apply: ApplyRow[]; perPacket: PacketRow[]; coldEncodeRulesPerSec: Spread; list?: { n: number; pktmarkStream: { ms: Spread; rssMB: Spread }; nftJson: { ms: Spread; rssMB: Spread } }; setList?: { n: number; pktmark: { ms: Spread; rssMB: Spread }; nftListSet: { ms: Spread; rssMB: Spread } }; machine: string; date: string }
const all = read<{ scale?: Scale; nft10k?: Record<string, number> }>('results.json') ?? {};
const cli = read<{ ratios: Record<string, number>; medianMs: Record<string, number>; spreadMs?: Record<string, Spread> }>('results-cli.json');
const s = all.scale;
if (!s) throw new Error('bench/results.json has no "scale" section: run dist/bench/scale.js first');

const fmt = (x: Spread, d = 1): string => `${x.median.toFixed(d)} [${x.min.toFixed(d)}–${x.max.toFixed(d)}, n=${x.n}]`;
const row = (n: number, method: string, mode: string): ApplyRow | undefined => s.apply.find((r) => r.n === n && r.method === method && r.mode === mode && r.status === 'ok');
/** a/b with the range of the ratio from the two ranges (worst and best pairing) */
const ratio = (a: Spread, b: Spread): string => `${(a.median / b.median).toFixed(2)}× (range ${(a.min / b.max).toFixed(2)}–${(a.max / b.min).toFixed(2)})`;
const lines: string[] = [];
const target = (name: string, got: string, goal: string): void => { lines.push(`${name.padEnd(58)} ${got.padEnd(34)} target ${goal}`); };

const cold10k = row(10_000, 'pktmark-rules', 'cold'), nft10k = row(10_000, 'nft-f', 'cold');
if (cold10k?.ms && nft10k?.ms) target('first 10,000-rule add, fresh process / nft -f', ratio(cold10k.ms, nft10k.ms), '≤ 0.6');
target('cold validate+encode (200,000 rules, M rules/s)', fmt({ ...s.coldEncodeRulesPerSec, median: s.coldEncodeRulesPerSec.median / 1e6, min: s.coldEncodeRulesPerSec.min / 1e6, max: s.coldEncodeRulesPerSec.max / 1e6 }, 2), '≥ 1.5');
if (cli) target('one pktmark add process / node -e 0', `${cli.ratios['pktmark add / node -e 0']}×`, '≤ 1.3');
for (const n of [1000, 10_000, 100_000]) {
  const w = row(n, 'pktmark-rules', 'warm'), f = row(n, 'replay-floor', 'warm');
  if (w?.ms && f?.ms) target(`warm add of ${n} / replay floor`, ratio(w.ms, f.ms), '≤ 1.1');
}
if (s.list) target(`list ${s.list.n}: pktmark streaming / nft -j list ruleset`, ratio(s.list.pktmarkStream.ms, s.list.nftJson.ms), '(sets: ≤ 0.5)');
if (s.setList) target(`set list ${s.setList.n}: pktmark m.rules() / nft -j list set`, ratio(s.setList.pktmark.ms, s.setList.nftListSet.ms), '≤ 0.5');
const pkt = (c: string): Spread | undefined => s.perPacket.find((p) => p.case.startsWith(c) && p.status === 'ok')?.usPerPacket;
const none = pkt('no rule'), one = pkt('1 rule'), many = pkt('10000 rules');
if (none && one && many) {
  target('per packet: 1 rule over no rule (µs)', (one.median - none.median).toFixed(2), '-');
  target('per packet: 10,000 rules over no rule (µs)', (many.median - none.median).toFixed(2), '(set: ≤ 1.2× one rule)');
}
// set mode (issue 13): apply of a 100,000-entry list vs nft -f of the same set, update of 1%, per packet
for (const mode of ['cold', 'warm']) {
  const set = row(100_000, 'pktmark-set', mode), nftSet = row(100_000, 'nft-f-set', 'cold'), nftSized = row(100_000, 'nft-f-set-sized', 'cold');
  if (set?.ms && nftSet?.ms) target(`set apply 100,000, ${mode} / nft -f of the same set`, ratio(set.ms, nftSet.ms), '≤ 0.5');
  if (set?.ms && nftSized?.ms) target(`set apply 100,000, ${mode} / nft -f of the same set with pktmark's size`, ratio(set.ms, nftSized.ms), '(reported)');
  if (set?.rssMB && mode === 'cold') target('set apply 100,000, peak RSS (MB)', fmt(set.rssMB, 0), '≤ 80');
}
const hashSet = pkt('set of 10000 (hash)'), intervalSet = pkt('set of 10000 (interval)');
if (none && one && hashSet) target('per packet: hash set of 10,000 over no rule / 1 rule over no rule', ((hashSet.median - none.median) / (one.median - none.median)).toFixed(2), '≤ 1.2');
if (none && one && intervalSet) target('per packet: interval set of 10,000 over no rule / 1 rule over no rule', ((intervalSet.median - none.median) / (one.median - none.median)).toFixed(2), '(reported)');
const su = (all as { setUpdate?: { rows: SetUpdateRow[] } }).setUpdate;
for (const kind of ['hash', 'interval'] as const) {
  const get = (m: string): SetUpdateRow | undefined => su?.rows.find((r) => r.kind === kind && r.method === m);
  const warm = get('pktmark-warm'), cold = get('pktmark-cold'), nft = get('nft-f');
  if (warm) target(`1% update of ${warm.n} (${kind}), pktmark warm (ms)`, fmt(warm.ms), '≤ 50');
  if (cold) target(`1% update of ${cold.n} (${kind}), pktmark first update (ms)`, fmt(cold.ms), '-');
  if (warm && nft) target(`1% update (${kind}): nft -f / pktmark warm`, ratio(nft.ms, warm.ms), '-');
}
for (const r of s.apply.filter((x) => x.status !== 'ok')) lines.push(`N=${r.n} ${r.method} ${r.mode}: ${r.status}${r.note ? ` (${r.note})` : ''}`);

const label: Record<string, string> = {
  'pktmark-rules cold': 'pktmark rules, cold', 'pktmark-rules warm': 'pktmark rules, warm', 'pktmark-rules+import cold': 'pktmark import + first add',
  'pktmark-set cold': 'pktmark set, cold', 'pktmark-set warm': 'pktmark set, warm', 'nft-f cold': 'nft -f', 'nft-add-each cold': 'nft add rule × N',
  'iptables-nft-restore cold': 'iptables-nft-restore', 'replay-floor warm': 'replay floor', 'nft-f-set cold': 'nft -f (one set)',
  'nft-f-set-sized cold': 'nft -f (one set, sized)',
};
const ok = s.apply.filter((r) => r.status === 'ok' && r.ms);
const applyPts: Point[] = ok.map((r) => ({ n: r.n, series: label[`${r.method} ${r.mode}`] ?? r.method, value: r.ms!.median, low: r.ms!.min, high: r.ms!.max }));
const rssPts: Point[] = ok.filter((r) => r.rssMB).map((r) => ({ n: r.n, series: label[`${r.method} ${r.mode}`] ?? r.method, value: r.rssMB!.median, low: r.rssMB!.min, high: r.rssMB!.max }));
const bar = (group: string, lbl: string, x: Spread): Bar => ({ group, label: lbl, value: x.median, low: x.min, high: x.max });
const list: Bar[] = s.list ? [bar('list', 'pktmark rules() stream', s.list.pktmarkStream.ms), bar('list', 'nft -j list ruleset', s.list.nftJson.ms)] : [];
const packet: Bar[] = s.perPacket.filter((p) => p.status === 'ok').map((p) => bar('packet', p.case, p.usPerPacket!));
const svg = await renderReport({ apply: applyPts, rss: rssPts, list, packet, subtitle: `${s.date.slice(0, 10)}; ${s.machine.replace(/^.*load/, 'load')}` });
writeFileSync(join(BENCH, 'report.svg'), svg);
console.log(lines.join('\n'));
console.log(`wrote ${join(BENCH, 'report.svg')} (${svg.length} bytes)`);
