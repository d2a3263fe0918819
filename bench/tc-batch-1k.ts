/**
 * Issue 10's tc batch benchmark: `pktmark tc -batch` of 1,000 filter lines against `tc -batch` of the
 * same file, both as whole processes (the bundled CLI, dist/pktmark.cjs), into a fresh namespace
 * with a veth device each round (target ≤ 1.0×), and the in-process pipelined add on an open Marker
 * (target ≤ 0.5× tc -batch), warm (after 3,000 filters), with the process's first 1,000 beside it.
 *
 * The lines mark (`action skbedit mark 0x1`). Where the kernel has no act_skbedit (this machine's
 * 6.18) no marking filter can go in, so the bench says so and measures what can be measured
 * honestly: tc -batch of the same selectors without the action, pktmark's whole process with
 * --dry-run --hex (read, parse, check and encode every line, print each message, no kernel), and the
 * pipelined exchange of pktmark's filters without the action (the tc backend's sendFilters: the
 * priority's first filter echoed, the rest with the handles pktmark picks).
 * PKTMARK_BENCH_FILTERS / _ROUNDS make it smaller.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTc } from '../src/cli/fronts/tc.js';
import { Marker } from '../src/marker.js';
import type { MarkRuleInput } from '../src/rule.js';
import { normalizeRule } from '../src/normalize.js';
import { ownerCookie, ruleToFilter } from '../src/backends/tc/rule.js';
import { rootTables, sendFilters } from '../src/backends/tc/send.js';
import { NetlinkSocket } from '../src/transport/netlink-socket.js';
import { IP, ROOT_DIR, TC, dropNetns, freshNetns, median, ms, saveResults, timeInNetns, verdict } from './common.js';

const N = Number(process.env.PKTMARK_BENCH_FILTERS ?? 1000);
const ROUNDS = Number(process.env.PKTMARK_BENCH_ROUNDS ?? 5);
const BUNDLE = join(ROOT_DIR, 'dist', 'pktmark.cjs');
const src = (i: number): string => `10.0.${i >> 8}.${i & 255}`;
const line = (i: number, action: boolean): string => `filter add dev d0 ingress protocol ip prio 1 u32 match ip src ${src(i)}${action ? ' action skbedit mark 0x1' : ''}`;
const dir = mkdtempSync(join(tmpdir(), 'pktmark-bench-tcb-'));
const withAction = join(dir, 'marks.tc'), plain = join(dir, 'plain.tc');
writeFileSync(withAction, Array.from({ length: N }, (_, i) => line(i, true)).join('\n') + '\n');
writeFileSync(plain, Array.from({ length: N }, (_, i) => line(i, false)).join('\n') + '\n');

function device(): { ns: string; ifindex: number } {
  const ns = freshNetns();
  execFileSync(IP, ['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
  execFileSync(IP, ['-n', ns, 'link', 'set', 'd0', 'up']);
  const [l] = JSON.parse(execFileSync(IP, ['-n', ns, '-j', 'link', 'show', 'd0'], { encoding: 'utf8' })) as { ifindex: number }[];
  return { ns, ifindex: l.ifindex };
}
const count = (ns: string): number => (execFileSync(TC, ['-n', ns, 'filter', 'show', 'dev', 'd0', 'ingress'], { encoding: 'utf8' }).match(/match /g) ?? []).length;

function skbeditAvailable(): boolean {
  const { ns } = device();
  try {
    execFileSync(TC, ['-n', ns, 'qdisc', 'add', 'dev', 'd0', 'clsact']);
    return spawnSync(TC, ['-n', ns, 'filter', 'add', 'dev', 'd0', 'ingress', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'u32', '0', '0', 'action', 'skbedit', 'mark', '1']).status === 0;
  } finally { dropNetns(ns); }
}

/** a whole process in a fresh namespace; `expect` filters afterwards (undefined: not checked) */
function processRun(cmd: string, args: string[], expect: number | undefined, clsact: boolean): number {
  const { ns } = device();
  try {
    if (clsact) execFileSync(TC, ['-n', ns, 'qdisc', 'add', 'dev', 'd0', 'clsact']);
    const [t] = timeInNetns(ns, 1, cmd, args);
    if (expect !== undefined && count(ns) !== expect) throw new Error(`${args.join(' ')}: ${count(ns)} filters, expected ${expect}`);
    return t;
  } finally { dropNetns(ns); }
}

interface Prepared { readonly ns: string; readonly ifindex: number; readonly rules: MarkRuleInput[] }

/**
 * A namespace with its device (and, without the action, its clsact qdisc) for one in-process
 * round, made before any round is timed: making it runs `ip` and `tc`, and a child process leaves
 * every page of this one copy-on-write, so the next write to each takes a fault. Timed right after
 * a spawn, the library's add paid that (the harness's cost; an agent does not fork per add).
 */
function prepare(marking: boolean): Prepared {
  const { ns, ifindex } = device();
  if (!marking) execFileSync(TC, ['-n', ns, 'qdisc', 'add', 'dev', 'd0', 'clsact']);
  const rules = Array.from({ length: N }, (_, i) => { const c = parseTc(line(i, true).split(' ')); if (c.op !== 'filter-add') throw new Error('not an add'); return c.rule; });
  return { ns, ifindex, rules };
}

/** in process: the tc backend's pipelined add on an open Marker (marking), or the same filters' exchange without the action */
async function inProcess(p: Prepared, marking: boolean): Promise<number> {
  const { ns, ifindex, rules } = p;
  if (marking) {
    const m = await Marker.open({ netns: ns });
    const t0 = process.hrtime.bigint();
    await m.add(rules);
    const t = ms(t0);
    await m.close();
    return t;
  }
  const s = NetlinkSocket.open({ protocol: 0, netns: ns });
  const t0 = process.hrtime.bigint();
  const planned = rules.map((input) => {
    const f = ruleToFilter(normalizeRule(input), { ifindex, qdisc: 'clsact', cookie: ownerCookie(false, 'ingress') });
    const o = f.options!;
    return { direction: 'ingress' as const, filter: { ...f, options: o.kind === 'u32' ? { ...o, actions: [], sel: { ...o.sel!, flags: 0 } } : o } };
  });
  // the backend's exchange (send.ts) as add() runs it on a device whose clsact is new (no dump)
  const outcomes = await sendFilters(s, planned, await rootTables(s, planned, new Map()), { atomic: true });
  const t = ms(t0);
  s.close();
  const bad = outcomes.filter((o) => o.refused || o.handle === undefined);
  if (bad.length) throw new Error(`in-process: ${bad.length} refused`);
  return t;
}

/** `times` in-process rounds back to back (no child process between them), each then checked and dropped. */
async function inProcessRounds(marking: boolean, times: number): Promise<number[]> {
  const spaces = Array.from({ length: times }, () => prepare(marking));
  try {
    const out: number[] = [];
    for (const p of spaces) out.push(await inProcess(p, marking));
    for (const p of spaces) if (count(p.ns) !== N) throw new Error(`in-process: ${count(p.ns)} filters, expected ${N}`);
    return out;
  } finally { spaces.forEach((p) => dropNetns(p.ns)); }
}

async function main(): Promise<void> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: npm run build`);
  const marking = skbeditAvailable();
  console.log(`# tc -batch of ${N} lines, ${ROUNDS} rounds (median); act_skbedit ${marking ? 'available: marking filters' : 'missing: see the note'}`);
  // V8 11.3 (Node 20, no Maglev) optimises a per-filter function after some 2-3k calls: the first
  // 1,000 of a process are its cold figure, the rounds after three warm-ups the library's steady state
  const [first] = await inProcessRounds(marking, 3);
  // a round is ~10 ms, most of it the kernel's: more of them than of the processes, for a steadier median
  const lib = await inProcessRounds(marking, 3 * ROUNDS);
  const mine: number[] = [], tc: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    mine.push(marking
      ? processRun(process.execPath, [BUNDLE, 'tc', '-batch', withAction], N, false)
      : processRun(process.execPath, [BUNDLE, '--dry-run', '--hex', '--ifindex', 'd0=2', 'tc', '-batch', withAction], undefined, false));
    tc.push(processRun(TC, ['-batch', marking ? withAction : plain], N, true));
  }
  const r = {
    lines: N, marking,
    pktmarkProcessMs: median(mine), tcBatchMs: median(tc), inProcessMs: median(lib), inProcessFirstMs: first,
    processVsTcBatch: median(mine) / median(tc), inProcessVsTcBatch: median(lib) / median(tc),
    note: marking ? 'marking filters (u32 + skbedit) through both tools'
      : 'no act_skbedit on this kernel: pktmark process = --dry-run --hex of the marking lines (no kernel); tc -batch and in-process = the same selectors without the action',
  };
  console.log(JSON.stringify(r, null, 2));
  console.log(verdict('pktmark tc -batch (process) / tc -batch', r.processVsTcBatch, 1.0));
  console.log(`in process, the first 1,000 filters of the process (cold JIT): ${first.toFixed(1)} ms`);
  console.log(verdict('in-process pipelined add (warm) / tc -batch', r.inProcessVsTcBatch, 0.5));
  saveResults('tcBatch1k', r);
}

await main();
