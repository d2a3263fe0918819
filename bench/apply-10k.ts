/**
 * Issue 11's speed figures (benchmarks, not tests; ratios printed and written to bench/results.json):
 *   1. apply of 10,000 rules into an empty namespace against add of the same rules (≤ 1.1×);
 *   2. inside a running agent (warm): re-apply of the same 10,000 (≤ 50 ms) and a change of 1%
 *      (≤ 60 ms), against `nft -f` of the full file with flush (which also loses the counters);
 *   3. the same two as whole CLI processes (the bundle), with `node -e 0` beside them;
 *   4. the agent's steady-state RSS with 10,000 rules, per-rule metrics off (≤ 80 MB): the CLI
 *      agent (which gives memory back once idle, by default) sampled 5 s after a drift repair and
 *      again once it has settled (V8 shrinks its young generation in a GC after 5 s of low
 *      allocation), with its peak (VmHWM) beside them;
 *   5. a 1% change that comes after the agent has rested 6.5 s, by an agent that gives memory back
 *      (released and settled by then) and by one that keeps it: what releasing costs, apart from
 *      what a rest costs anyway (cold caches; V8's own memory reducer runs when idle too).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Marker } from '../src/marker.js';
import { Agent } from '../src/agent/agent.js';
import { IP, NFT, dropNetns, freshNetns, median, ms, saveResults, timeCommand, timeInNetns, verdict } from './common.js';

const N = Number(process.env.PKTMARK_BENCH_RULES ?? 10000);
const ROUNDS = Number(process.env.PKTMARK_BENCH_ROUNDS ?? 5);
const addr = (i: number, base = 10): string => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const inputs = Array.from({ length: N }, (_, i) => ({ src: addr(i), mark: 0xdeadbeef }));
const yaml = (rs: readonly { src: string; mark: number }[]): string => `rules:\n${rs.map((r) => `  - {src: ${r.src}, mark: ${r.mark}}`).join('\n')}\n`;
/** 1% changed: every 100th rule gets another source (a remove and an add, in place) */
const changed = (k: number): { src: string; mark: number }[] => inputs.map((r, i) => (i % 100 === 0 ? { src: addr(i, 11 + (k % 100)), mark: r.mark } : r));
const dir = mkdtempSync(join(tmpdir(), 'pktmark-bench-apply-'));

async function once(kind: 'add' | 'apply'): Promise<number> {
  const ns = freshNetns();
  try {
    const m = await Marker.open({ netns: ns });
    const t0 = process.hrtime.bigint();
    if (kind === 'add') await m.add(inputs); else { const r = await m.apply(inputs); if (r.added !== N) throw new Error(`applied ${r.added}`); }
    const t = ms(t0);
    await m.close();
    return t;
  } finally { dropNetns(ns); }
}

/** 1% changes, each after the agent has rested 6.5 s (released, 50 ms idle, and settled 5.5 s later, when it releases) */
async function agentAfterRest(releaseMemory: boolean): Promise<number> {
  const ns = freshNetns();
  const file = join(dir, `rest-${releaseMemory}.yaml`);
  writeFileSync(file, yaml(inputs));
  const m = await Marker.open({ netns: ns });
  const agent = new Agent(m, { file, resyncMs: 3_600_000, debounceMs: 3_600_000, ruleMetrics: 'off', releaseMemory, log: () => {} });
  try {
    await agent.start();
    const rested: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      await new Promise((r) => setTimeout(r, 6_500));
      writeFileSync(file, yaml(changed(k)));
      const t0 = process.hrtime.bigint();
      await agent.trigger('file');
      rested.push(ms(t0));
    }
    return median(rested);
  } finally { await agent.stop(); await m.close(); dropNetns(ns); }
}

async function agentWarm(): Promise<{ same: number; sameFull: number; change: number; nftFlush: number }> {
  const ns = freshNetns();
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, yaml(inputs));
  const m = await Marker.open({ netns: ns });
  // as the CLI agent runs by default: memory given back once idle (a busy loop like this one postpones that)
  const agent = new Agent(m, { file, resyncMs: 3_600_000, debounceMs: 3_600_000, ruleMetrics: 'off', releaseMemory: true, log: () => {} });
  try {
    await agent.start();
    const same: number[] = []; const sameFull: number[] = []; const change: number[] = []; const flush: number[] = [];
    let current: { src: string; mark: number }[] = inputs;
    for (let k = 0; k < ROUNDS + 1; k++) {
      // the agent's re-apply of an unchanged file: GETGEN, the generation has not moved, done
      let t0 = process.hrtime.bigint();
      await agent.trigger('resync');
      const s = ms(t0);
      // the same without the generation shortcut: GETGEN, GETTABLE, dump of 10,000, diff, nothing sent
      t0 = process.hrtime.bigint();
      const r = await m.apply({ rules: current });
      const f = ms(t0);
      if (r.sent || r.kept !== N) throw new Error(`re-apply changed something: ${JSON.stringify({ ...r, steps: r.steps.slice(0, 3) })} agent error ${agent.error?.message}`);
      // a 1% change, from the file event to the batch's ack
      current = changed(k);
      writeFileSync(file, yaml(current));
      t0 = process.hrtime.bigint();
      await agent.trigger('file');
      const c = ms(t0);
      if (k > 0) { same.push(s); sameFull.push(f); change.push(c); } // round 0 warms the JIT
    }
    // nft -f of the full (changed) file with a flush: atomic too, but every counter and handle is reset
    const nftText = `flush table inet pktmark\n${changed(7).map((r) => `add rule inet pktmark prerouting ip saddr ${r.src} counter meta mark set 0x${r.mark.toString(16)}`).join('\n')}\n`;
    const nftFile = join(dir, 'flush.nft');
    writeFileSync(nftFile, nftText);
    flush.push(...timeInNetns(ns, ROUNDS, NFT, ['-f', nftFile]));
    return { same: median(same), sameFull: median(sameFull), change: median(change), nftFlush: median(flush) };
  } finally { await agent.stop(); await m.close(); dropNetns(ns); }
}

function bundle(): string {
  const b = join(process.cwd(), 'dist', 'bundle', 'pktmark.cjs');
  if (!existsSync(b)) spawnSync(process.execPath, ['deploy/bundle.mjs'], { stdio: 'inherit' });
  return b;
}

function cli(b: string): { same: number; change: number; nodeE0: number } {
  const ns = freshNetns();
  try {
    const f0 = join(dir, 'cli-0.yaml');
    writeFileSync(f0, yaml(inputs));
    spawnSync(IP, ['netns', 'exec', ns, process.execPath, b, 'apply', '-f', f0]);
    const same: number[] = []; const change: number[] = []; const e0: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      same.push(timeInNetns(ns, 1, process.execPath, [b, 'apply', '-f', f0])[0]);
      const fk = join(dir, `cli-${k + 1}.yaml`);
      writeFileSync(fk, yaml(changed(k)));
      change.push(timeInNetns(ns, 1, process.execPath, [b, 'apply', '-f', fk])[0]);
      writeFileSync(f0, yaml(changed(k)));
      e0.push(timeCommand(process.execPath, ['-e', '0']));
    }
    return { same: median(same), change: median(change), nodeE0: median(e0) };
  } finally { dropNetns(ns); }
}

async function agentRss(b: string): Promise<{ soon: number; settled: number; peak: number }> {
  const ns = freshNetns();
  const file = join(dir, 'rss.yaml');
  writeFileSync(file, yaml(inputs));
  const child = spawn(IP, ['netns', 'exec', ns, process.execPath, b, 'agent', '-f', file, '--resync', '1s', '--metrics', 'off', '--rule-metrics', 'off'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((res) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('"event":"apply"')) res(); }));
    // steady state: a few resyncs (each a GETGEN), plus one drift repair (a full dump + diff)
    await new Promise((r) => setTimeout(r, 2500));
    spawnSync(IP, ['netns', 'exec', ns, NFT, 'add', 'table', 'ip', 'bump']);
    await new Promise((r) => setTimeout(r, 2500));
    const pid = spawnSync('/usr/bin/pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0] || String(child.pid);
    const mb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const soon = mb('VmRSS');
    // settled: the resyncs every second only compare the generation, so the agent is at rest
    await new Promise((r) => setTimeout(r, 8000));
    return { soon, settled: mb('VmRSS'), peak: mb('VmHWM') };
  } finally { child.kill('SIGTERM'); await new Promise((r) => child.on('exit', r)); dropNetns(ns); }
}

async function main(): Promise<void> {
  const adds: number[] = []; const applies: number[] = [];
  await once('add'); await once('apply'); // warm-up
  for (let i = 0; i < ROUNDS; i++) { adds.push(await once('add')); applies.push(await once('apply')); }
  const add = median(adds); const apply = median(applies);
  console.log(`apply of ${N} into an empty namespace: ${apply.toFixed(1)} ms, add ${add.toFixed(1)} ms`);
  console.log(verdict('apply / add', apply / add, 1.1));

  const w = await agentWarm();
  console.log(`agent, warm: re-apply of the same ${N} ${w.same.toFixed(2)} ms (generation unchanged: no dump); with a full dump + diff ${w.sameFull.toFixed(1)} ms`);
  console.log(verdict('agent re-apply, same file (ms)', w.same, 50));
  console.log(verdict('agent re-apply, same file, forced full dump (ms)', w.sameFull, 50));
  console.log(`agent, warm: 1% change ${w.change.toFixed(1)} ms; nft -f of the full file with flush ${w.nftFlush.toFixed(1)} ms (ratio ${(w.change / w.nftFlush).toFixed(2)}×; nft also resets every counter)`);
  console.log(verdict('agent 1% change (ms)', w.change, 60));
  const rest = { released: await agentAfterRest(true), kept: await agentAfterRest(false) };
  console.log(`agent, 1% change after a 6.5 s rest: ${rest.released.toFixed(1)} ms with memory given back, ${rest.kept.toFixed(1)} ms keeping it`);

  const b = bundle();
  const c = cli(b);
  console.log(`CLI processes (bundle): apply same ${c.same.toFixed(0)} ms, 1% change ${c.change.toFixed(0)} ms, node -e 0 ${c.nodeE0.toFixed(0)} ms`);
  const rss = await agentRss(b);
  console.log(`agent RSS with ${N} rules: ${rss.soon.toFixed(0)} MB 5 s after a drift repair, peak ${rss.peak.toFixed(0)} MB`);
  console.log(verdict(`agent steady-state RSS with ${N} rules, rule metrics off, settled (MB)`, rss.settled, 80));
  saveResults('apply-10k', {
    rules: N, rounds: ROUNDS,
    applyMs: apply, addMs: add, applyOverAdd: apply / add,
    agentSameMs: w.same, agentSameFullDumpMs: w.sameFull, agentChange1pctMs: w.change, nftFlushFullFileMs: w.nftFlush, agentChangeOverNftFlush: w.change / w.nftFlush,
    cliSameMs: c.same, cliChange1pctMs: c.change, nodeE0Ms: c.nodeE0,
    agentRssMB: rss.settled, agentRssSoonAfterRepairMB: rss.soon, agentPeakRssMB: rss.peak, agentChange1pctAfterRestMs: rest.released, agentChange1pctAfterRestKeptMs: rest.kept,
    // the machine is shared: its load and a bare node start, to read the figures against
    loadAverage1m: loadavg()[0],
  });
}

void main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
