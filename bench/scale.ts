/**
 * Issue 13's scale benchmark, in one run: for N = 10 … 100,000 sources, the apply time and peak
 * RSS of pktmark (rule mode cold and warm, set mode once the model has it), `nft -f` (set mode:
 * also the same set declared with the `size` pktmark sends, the fair twin), one
 * `nft add rule` per rule (up to 1,000), `iptables-nft-restore` and the pre-encoded replay floor;
 * a 100,000-rule list (pktmark streaming vs `nft -j list ruleset`) and, in set mode, the list of
 * one rule whose src is a 100,000-address set (pktmark's m.rules() vs `nft -j list set`, the
 * issue's reference; `nft -j list ruleset` too); the cost per packet of the
 * output hook with 10,000 rules vs one rule vs none (a veth pair); the cold encode rate.
 * Every measurement is repeated (see ROUNDS) and stored with its spread in bench/results.json
 * (section "scale"); bench/report.ts prints the ratios and draws bench/report.svg.
 *   PKTMARK_BENCH_MAX_N=10000  PKTMARK_BENCH_ROUNDS=3  PKTMARK_BENCH_PACKETS=100000
 *   PKTMARK_BENCH_ONLY=set-apply,list,set-list,packets,encode (a comma list; default all)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Marker } from '../src/index.js';
import { declaredSize } from '../src/backends/nft/set-size.js';
import { IP, NFT, dropNetns, freshNetns, measureInNetns, runChild, saveResults, spread, timeInNetns, type Spread } from './common.js';

const IPT_RESTORE = '/usr/sbin/iptables-nft-restore';
const SIZES = [10, 100, 1000, 10_000, 100_000].filter((n) => n <= Number(process.env.PKTMARK_BENCH_MAX_N ?? 100_000));
const PACKETS = Number(process.env.PKTMARK_BENCH_PACKETS ?? 100_000);
/** Repetitions: fewer for the large sizes, whose single runs take seconds on a loaded machine. */
const rounds = (n: number): number => Number(process.env.PKTMARK_BENCH_ROUNDS ?? (n <= 1000 ? 5 : n <= 10_000 ? 3 : 1));
/** The warm add and its floor are compared with each other: more rounds, as a commit's time moves by ±15% here. */
const pairRounds = (n: number): number => Math.max(rounds(n), n <= 10_000 ? 5 : 3);
const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const dir = mkdtempSync(join(tmpdir(), 'pktmark-scale-'));

export interface ApplyRow {
  readonly n: number;
  /** what was timed: pktmark-rules, pktmark-set, nft-f, nft-add-each, iptables-nft-restore, replay-floor */
  readonly method: string;
  readonly mode: 'cold' | 'warm';
  readonly status: 'ok' | 'not yet' | 'skipped';
  readonly ms?: Spread;
  readonly rssMB?: Spread;
  readonly note?: string;
}

/** Runs `once` in a fresh namespace per round; `once` returns [ms, peak RSS KB] or a status. */
function repeat(n: number, method: string, mode: 'cold' | 'warm', once: (ns: string) => { ms: number; kb?: number } | { status: 'not yet'; note: string }, note?: string, times = rounds(n), quiet = false): ApplyRow {
  const ms: number[] = [], kb: number[] = [];
  for (let r = 0; r < times; r++) {
    const ns = freshNetns();
    try {
      const x = once(ns);
      if ('status' in x) { console.log(`${String(n).padStart(6)} ${`${method} ${mode}`.padEnd(28)}   ${x.status}`); return { n, method, mode, status: x.status, note: x.note }; }
      ms.push(x.ms);
      if (x.kb !== undefined) kb.push(x.kb);
    } finally { dropNetns(ns); }
  }
  const row: ApplyRow = { n, method, mode, status: 'ok', ms: spread(ms), ...(kb.length ? { rssMB: spread(kb.map((k) => k / 1024)) } : {}), ...(note ? { note } : {}) };
  if (!quiet) printRow(row);
  return row;
}

function printRow(row: ApplyRow): void {
  const { n, method, mode } = row;
  console.log(`${String(n).padStart(6)} ${`${method} ${mode}`.padEnd(28)} ${row.ms!.median.toFixed(1).padStart(9)} ms [${row.ms!.min.toFixed(1)}–${row.ms!.max.toFixed(1)}]${row.rssMB ? `  ${row.rssMB.median.toFixed(0)} MB` : ''}`);
}

/** Each of `runs` once per round, alternating; one row per run with every round's figures. */
function interleaved(runs: (() => ApplyRow)[], times: number): ApplyRow[] {
  const all = Array.from({ length: times }, () => runs.map((r) => r()));
  return runs.map((_, k) => {
    const rs = all.map((round) => round[k]);
    const first = rs[0];
    if (first.status !== 'ok') return first;
    const ms = rs.flatMap((r) => r.ms ? [r.ms.median] : []), mb = rs.flatMap((r) => r.rssMB ? [r.rssMB.median] : []);
    const row = { ...first, ms: spread(ms), ...(mb.length ? { rssMB: spread(mb) } : {}) };
    printRow(row);
    return row;
  });
}

interface ChildApply { status: string; ms?: number; addMs?: number; vmHwmKB: number; reason?: string }
/** The add call itself (cold: the process's first, which also loads koffi and opens the socket). */
const child = (mode: string, n: number) => (ns: string): { ms: number; kb: number } | { status: 'not yet'; note: string } => {
  const r = runChild<ChildApply>('child-apply', [ns, String(n), mode]);
  return r.status === 'ok' ? { ms: r.addMs!, kb: r.vmHwmKB } : { status: 'not yet', note: r.reason ?? '' };
};
/** From the script's first line: importing pktmark's modules too (a whole start-up, less Node's own). */
const childWithImport = (n: number) => (ns: string): { ms: number; kb: number } => {
  const r = runChild<ChildApply>('child-apply', [ns, String(n), 'cold']);
  return { ms: r.ms!, kb: r.vmHwmKB };
};

function files(n: number): { nft: string; ipt: string; nftSet: string; nftSetSized: string } {
  const nft = join(dir, `rules-${n}.nft`), ipt = join(dir, `rules-${n}.ipt`), nftSet = join(dir, `set-${n}.nft`), nftSetSized = join(dir, `set-sized-${n}.nft`);
  const lines = Array.from({ length: n }, (_, i) => addr(i));
  writeFileSync(nft, ['add table inet pktmark', 'add chain inet pktmark prerouting { type filter hook prerouting priority raw; }',
    ...lines.map((a) => `add rule inet pktmark prerouting ip saddr ${a} counter meta mark set 0xdeadbeef`)].join('\n') + '\n');
  writeFileSync(ipt, ['*raw', ':PREROUTING ACCEPT [0:0]', ...lines.map((a) => `-A PREROUTING -s ${a}/32 -j MARK --set-xmark 0xdeadbeef/0xffffffff`), 'COMMIT'].join('\n') + '\n');
  // set mode's twin: one named set with every address and one rule looking it up
  writeFileSync(nftSet, ['add table inet pktmark', 'add chain inet pktmark prerouting { type filter hook prerouting priority raw; }',
    `add set inet pktmark s4 { type ipv4_addr; elements = { ${lines.join(', ')} } }`,
    'add rule inet pktmark prerouting ip saddr @s4 counter meta mark set 0xdeadbeef'].join('\n') + '\n');
  // the fair twin: the same set declared with the size pktmark sends (set-size.ts), so nft's kernel side is the same fixed-size hash
  writeFileSync(nftSetSized, ['add table inet pktmark', 'add chain inet pktmark prerouting { type filter hook prerouting priority raw; }',
    `add set inet pktmark s4 { type ipv4_addr; size ${declaredSize(n)}; elements = { ${lines.join(', ')} } }`,
    'add rule inet pktmark prerouting ip saddr @s4 counter meta mark set 0xdeadbeef'].join('\n') + '\n');
  return { nft, ipt, nftSet, nftSetSized };
}

function applyRows(): ApplyRow[] {
  const rows: ApplyRow[] = [];
  for (const n of SIZES) {
    const f = files(n);
    rows.push(repeat(n, 'pktmark-rules', 'cold', child('cold', n), 'first add of a fresh process (loads koffi, opens the socket)'));
    rows.push(repeat(n, 'pktmark-rules+import', 'cold', childWithImport(n), 'import of pktmark (dist/, ESM) + first add'));
    // the warm add and its floor alternate round by round, so a slow spell of the machine meets both
    rows.push(...interleaved([
      () => repeat(n, 'pktmark-rules', 'warm', child('warm', n), 'median of 5 timed adds (3 at 100,000), each cleared, after six warm-up adds of up to 2,000 of the rules on the same Marker', 1, true),
      () => repeat(n, 'replay-floor', 'warm', child('replay', n), 'pre-encoded batch through a bare socket, after the same warm-up churn, sampled the same way', 1, true),
    ], pairRounds(n)));
    rows.push(repeat(n, 'pktmark-set', 'cold', child('set-cold', n)));
    rows.push(repeat(n, 'pktmark-set', 'warm', child('set-warm', n)));
    rows.push(repeat(n, 'nft-f', 'cold', (ns) => { const r = measureInNetns(ns, NFT, ['-f', f.nft]); return { ms: r.ms, kb: r.maxRssKB }; }));
    rows.push(repeat(n, 'nft-f-set', 'cold', (ns) => { const r = measureInNetns(ns, NFT, ['-f', f.nftSet]); return { ms: r.ms, kb: r.maxRssKB }; }, 'one named set of the N addresses + one lookup rule'));
    rows.push(repeat(n, 'iptables-nft-restore', 'cold', (ns) => { const r = measureInNetns(ns, IPT_RESTORE, [], f.ipt); return { ms: r.ms, kb: r.maxRssKB }; }));
    if (n <= 1000) {
      rows.push(repeat(n, 'nft-add-each', 'cold', (ns) => {
        execFileSync(IP, ['netns', 'exec', ns, NFT, 'add table inet pktmark; add chain inet pktmark prerouting { type filter hook prerouting priority raw; }']);
        const times = timeInNetns(ns, n, NFT, ['add', 'rule', 'inet', 'pktmark', 'prerouting', 'ip', 'saddr', '{ip}', 'counter', 'meta', 'mark', 'set', '0xdeadbeef']);
        const one = measureInNetns(ns, NFT, ['add', 'rule', 'inet', 'pktmark', 'prerouting', 'ip', 'saddr', '10.255.255.255', 'counter', 'meta', 'mark', 'set', '1']);
        return { ms: times.reduce((a, b) => a + b, 0), kb: one.maxRssKB };
      }, `${n} nft processes; RSS of one`, Math.min(rounds(n), n >= 1000 ? 1 : 3)));
    }
  }
  return rows;
}

/** Set mode's rows alone (PKTMARK_BENCH_ONLY=set-apply): pktmark's set add and nft -f of the same set, interleaved. */
function setApplyRows(): ApplyRow[] {
  const rows: ApplyRow[] = [];
  for (const n of SIZES) {
    const f = files(n);
    rows.push(repeat(n, 'pktmark-set', 'cold', child('set-cold', n)));
    rows.push(repeat(n, 'nft-f-set', 'cold', (ns) => { const r = measureInNetns(ns, NFT, ['-f', f.nftSet]); return { ms: r.ms, kb: r.maxRssKB }; }, 'one named set of the N addresses + one lookup rule'));
    rows.push(repeat(n, 'nft-f-set-sized', 'cold', (ns) => { const r = measureInNetns(ns, NFT, ['-f', f.nftSetSized]); return { ms: r.ms, kb: r.maxRssKB }; }, `the same set declared with pktmark's size (${declaredSize(n)})`));
    rows.push(repeat(n, 'pktmark-set', 'warm', child('set-warm', n)));
  }
  return rows;
}

interface ListResult { n: number; pktmarkStream: { ms: Spread; rssMB: Spread; rows: number }; nftJson: { ms: Spread; rssMB: Spread } }
async function listBench(n: number): Promise<ListResult> {
  const ns = freshNetns();
  try {
    const m = await Marker.open({ netns: ns, timeoutMs: 300_000 });
    await m.add(Array.from({ length: n }, (_, i) => ({ src: addr(i), mark: 0xdeadbeef })));
    await m.close();
    const pk: { ms: number; rows: number; vmHwmKB: number }[] = [], nf: { ms: number; maxRssKB: number }[] = [];
    for (let r = 0; r < Math.max(1, rounds(n)); r++) {
      pk.push(runChild('child-list', [ns]));
      nf.push(measureInNetns(ns, NFT, ['-j', 'list', 'ruleset']));
    }
    const res = {
      n, pktmarkStream: { ms: spread(pk.map((x) => x.ms)), rssMB: spread(pk.map((x) => x.vmHwmKB / 1024)), rows: pk[0].rows },
      nftJson: { ms: spread(nf.map((x) => x.ms)), rssMB: spread(nf.map((x) => x.maxRssKB / 1024)) },
    };
    console.log(`list ${n}: pktmark streaming ${res.pktmarkStream.ms.median.toFixed(0)} ms (${res.pktmarkStream.rssMB.median.toFixed(0)} MB), nft -j list ruleset ${res.nftJson.ms.median.toFixed(0)} ms (${res.nftJson.rssMB.median.toFixed(0)} MB)`);
    return res;
  } finally { dropNetns(ns); }
}

interface SetListResult { n: number; pktmark: { ms: Spread; rssMB: Spread; entries: number }; nftListSet: { ms: Spread; rssMB: Spread }; nftListRuleset: { ms: Spread; rssMB: Spread } }
/** Set mode: one rule whose src is n addresses (one hash set), listed back. */
async function setListBench(n: number): Promise<SetListResult> {
  const ns = freshNetns();
  try {
    const m = await Marker.open({ netns: ns, timeoutMs: 300_000 });
    await m.add({ src: Array.from({ length: n }, (_, i) => addr(i)), mark: 0xdeadbeef });
    await m.close();
    const name = /\bset (pm_[0-9a-f]{16}_src4)\b/.exec(execFileSync(IP, ['netns', 'exec', ns, NFT, '-t', 'list', 'sets', 'inet'], { encoding: 'utf8', maxBuffer: 1 << 26 }))?.[1];
    if (!name) throw new Error('set-list: the list set is not there');
    const pk: { ms: number; entries: number; vmHwmKB: number }[] = [], set: { ms: number; maxRssKB: number }[] = [], all: { ms: number; maxRssKB: number }[] = [];
    for (let r = 0; r < Math.max(1, rounds(n)); r++) {
      pk.push(runChild('child-list', [ns]));
      set.push(measureInNetns(ns, NFT, ['-j', 'list', 'set', 'inet', 'pktmark', name]));
      all.push(measureInNetns(ns, NFT, ['-j', 'list', 'ruleset']));
    }
    if (pk[0].entries !== n) throw new Error(`set-list: listed ${pk[0].entries} entries of ${n}`);
    const s = (xs: { ms: number; maxRssKB?: number; vmHwmKB?: number }[]): { ms: Spread; rssMB: Spread } => ({ ms: spread(xs.map((x) => x.ms)), rssMB: spread(xs.map((x) => (x.maxRssKB ?? x.vmHwmKB ?? 0) / 1024)) });
    const res = { n, pktmark: { ...s(pk), entries: pk[0].entries }, nftListSet: s(set), nftListRuleset: s(all) };
    console.log(`set list ${n}: pktmark m.rules() ${res.pktmark.ms.median.toFixed(0)} ms (${res.pktmark.rssMB.median.toFixed(0)} MB), nft -j list set ${res.nftListSet.ms.median.toFixed(0)} ms (${res.nftListSet.rssMB.median.toFixed(0)} MB) = ${(res.pktmark.ms.median / res.nftListSet.ms.median).toFixed(2)}x, nft -j list ruleset ${res.nftListRuleset.ms.median.toFixed(0)} ms`);
    return res;
  } finally { dropNetns(ns); }
}

export interface PacketRow { readonly case: string; readonly status: 'ok' | 'not yet'; readonly usPerPacket?: Spread; readonly packets?: number }
/** Output-hook cost per UDP send from namespace a to b over a veth pair; the matching rule is last. */
async function packetBench(n: number): Promise<PacketRow[]> {
  const a = freshNetns(), b = freshNetns();
  const ipn = (ns: string, ...args: string[]): void => { execFileSync(IP, ['-n', ns, ...args]); };
  try {
    execFileSync(IP, ['link', 'add', 'pmv0', 'netns', a, 'type', 'veth', 'peer', 'name', 'pmv1', 'netns', b]);
    ipn(a, 'addr', 'add', '10.77.0.1/24', 'dev', 'pmv0'); ipn(a, 'link', 'set', 'pmv0', 'up'); ipn(a, 'link', 'set', 'lo', 'up');
    ipn(b, 'addr', 'add', '10.77.0.2/24', 'dev', 'pmv1'); ipn(b, 'link', 'set', 'pmv1', 'up');
    const send = (): number => runChild<{ usPerPacket: number }>('udp-sender', ['10.77.0.2', '9', String(PACKETS)], a).usPerPacket;
    const rows: PacketRow[] = [];
    const measure = (name: string, r: number): void => {
      const xs = Array.from({ length: r }, send);
      rows.push({ case: name, status: 'ok', usPerPacket: spread(xs), packets: PACKETS });
      console.log(`per packet, ${name.padEnd(22)} ${spread(xs).median.toFixed(2)} µs [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}] (${PACKETS} packets × ${r})`);
    };
    const m = await Marker.open({ netns: a, timeoutMs: 120_000 });
    try {
      measure('no rule', 3);
      await m.add({ hook: 'output', src: '10.77.0.1', mark: 0xdeadbeef });
      measure('1 rule', 3);
      await m.clear();
      const others = Array.from({ length: n - 1 }, (_, i) => ({ hook: 'output' as const, src: `10.200.${(i >> 8) & 255}.${i & 255}`, mark: 0xdeadbeef }));
      await m.add([...others, { hook: 'output', src: '10.77.0.1', mark: 0xdeadbeef }]);
      measure(`${n} rules (match last)`, 1);
      await m.clear();
      // set mode: one rule, the sender's address among n entries (hash), or in a /24 among n − 1 /30s (interval)
      await m.add({ hook: 'output', src: [...Array.from({ length: n - 1 }, (_, i) => `10.200.${(i >> 8) & 255}.${i & 255}`), '10.77.0.1'], mark: 0xdeadbeef });
      measure(`set of ${n} (hash)`, 3);
      await m.clear();
      await m.add({ hook: 'output', src: [...Array.from({ length: n - 1 }, (_, i) => `10.${200 + (i >> 14)}.${(i >> 6) & 255}.${(i & 63) * 4}/30`), '10.77.0.0/24'], mark: 0xdeadbeef });
      measure(`set of ${n} (interval)`, 3);
      await m.clear();
    } finally { await m.close(); }
    return rows;
  } finally { dropNetns(a); dropNetns(b); }
}

/** PKTMARK_BENCH_ONLY: run only these parts (rule/set apply rows are one part). */
const ONLY = process.env.PKTMARK_BENCH_ONLY?.split(',');
const part = (name: string): boolean => !ONLY || ONLY.includes(name);

async function main(): Promise<void> {
  console.log(`# scale: N = ${SIZES.join(', ')}; rounds ${SIZES.map(rounds).join('/')}; ${PACKETS} packets per run${ONLY ? `; only ${ONLY.join(', ')}` : ''}`);
  const coldEncode = part('encode') ? spread(Array.from({ length: 3 }, () => runChild<{ rulesPerSec: number }>('child-encode', ['200000']).rulesPerSec)) : undefined;
  if (coldEncode) console.log(`cold validate+encode of 200,000 rules in a fresh process: ${(coldEncode.median / 1e6).toFixed(2)} M rules/s [${(coldEncode.min / 1e6).toFixed(2)}–${(coldEncode.max / 1e6).toFixed(2)}]`);
  const apply = part('apply') ? applyRows() : part('set-apply') ? setApplyRows() : undefined;
  const listN = Number(process.env.PKTMARK_BENCH_LIST_N ?? 100_000);
  const wantList = SIZES.includes(100_000) || process.env.PKTMARK_BENCH_LIST_N;
  const list = wantList && part('list') ? await listBench(listN) : undefined;
  const setList = wantList && part('set-list') ? await setListBench(listN) : undefined;
  const perPacket = part('packets') ? await packetBench(10_000) : undefined;
  saveResults(ONLY ? 'scalePart' : 'scale', {
    sizes: SIZES, ...(coldEncode ? { coldEncodeRulesPerSec: coldEncode } : {}), ...(apply ? { apply } : {}), ...(list ? { list } : {}),
    ...(setList ? { setList } : {}), ...(perPacket ? { perPacket } : {}), machine: execFileSync('uptime', { encoding: 'utf8' }).trim(),
  });
}

await main();
