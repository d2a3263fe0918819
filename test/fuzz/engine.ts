/**
 * The fuzz loop: for each target, `count` inputs (a seed mutated, or random bytes), each call
 * timed. An input passes when the decoder returns or throws a PktmarkError; anything else
 * (another exception, or a call slower than the bound on three tries) is a finding, kept with
 * its input in hex so it can be replayed.
 */
import { performance } from 'node:perf_hooks';
import { isPktmarkError } from '../../codecs/errors.js';
import { Rng } from './rng.js';
import { mutate, seedOf, type Seed } from './mutate.js';
import type { Target } from './targets.js';

export interface Finding { readonly target: string; readonly kind: 'exception' | 'slow'; readonly detail: string; readonly hex: string }
export interface TargetResult { readonly name: string; runs: number; decoded: number; rejected: number; maxMs: number; findings: Finding[] }

export const TIME_BOUND_MS = 50;

/**
 * One call, classified, timed by the wall clock — or, with `cpu`, by this process's CPU time,
 * which other processes on a shared machine cannot inflate. Exported for replaying one input.
 */
export function check(t: Target, input: Uint8Array, cpu = false): { outcome: 'decoded' | 'rejected' | 'exception'; ms: number; error?: unknown } {
  const c0 = cpu ? process.cpuUsage() : undefined;
  const t0 = performance.now();
  const ms = (): number => {
    if (!c0) return performance.now() - t0;
    const d = process.cpuUsage(c0);
    return (d.user + d.system) / 1000;
  };
  try {
    t.run(input);
    return { outcome: 'decoded', ms: ms() };
  } catch (e) {
    return { outcome: isPktmarkError(e) ? 'rejected' : 'exception', ms: ms(), error: e };
  }
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.subarray(0, 4096)).toString('hex');

export function fuzzTarget(t: Target, count: number, seed: number, maxFindings = 10): TargetResult {
  const rng = new Rng(seed);
  const seeds: Seed[] = t.seeds.map(seedOf);
  const r: TargetResult = { name: t.name, runs: 0, decoded: 0, rejected: 0, maxMs: 0, findings: [] };
  for (let i = 0; i < count; i++) {
    // every seed once unchanged first: the fixtures themselves must decode
    const input = i < seeds.length ? seeds[i]!.bytes : mutate(rng, rng.pick(seeds), seeds);
    let c = check(t, input);
    if (c.ms > TIME_BOUND_MS) {
      // a GC pause or a busy neighbour is not a hang: slow only if it takes more than the bound
      // of this process's own CPU time on each of three more tries
      const again = [check(t, input, true), check(t, input, true), check(t, input, true)];
      c = again.reduce((a, b) => (a.ms < b.ms ? a : b));
      if (c.ms > TIME_BOUND_MS && r.findings.length < maxFindings) {
        r.findings.push({ target: t.name, kind: 'slow', detail: `${c.ms.toFixed(1)} ms`, hex: hexOf(input) });
      }
    }
    r.runs++;
    r.maxMs = Math.max(r.maxMs, c.ms);
    if (c.outcome === 'decoded') r.decoded++;
    else if (c.outcome === 'rejected') r.rejected++;
    else if (r.findings.length < maxFindings) {
      const e = c.error as Error;
      r.findings.push({ target: t.name, kind: 'exception', detail: `${e?.name}: ${e?.message}\n${e?.stack?.split('\n').slice(1, 4).join('\n')}`, hex: hexOf(input) });
    }
  }
  return r;
}

/** Summary line: total, then per target runs / decoded / rejected / findings. */
export function summary(seed: number, results: readonly TargetResult[]): string {
  const total = results.reduce((n, r) => n + r.runs, 0);
  const bad = results.reduce((n, r) => n + r.findings.length, 0);
  const per = results.map((r) => `${r.name}=${r.runs}(${r.decoded} ok/${r.rejected} DECODE${r.findings.length ? `/${r.findings.length} BAD` : ''})`).join(' ');
  return `fuzz seed=${seed} inputs=${total} findings=${bad} maxMs=${Math.max(...results.map((r) => r.maxMs)).toFixed(1)} | ${per}`;
}
