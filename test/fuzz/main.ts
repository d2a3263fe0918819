/**
 * `npm run fuzz [-- --inputs N] [--seed S] [--target NAME]`: at least 1,000,000 inputs over every
 * decoder (split evenly), seed printed first so a run is reproducible. Exits 1 on any finding,
 * printing the input in hex. A watchdog thread is not needed for the time bound (each call is
 * timed), but an input that never returns would stop the loop: the per-target progress line
 * names the target that was running.
 */
import { loadCorpus } from './corpus.js';
import { targets } from './targets.js';
import { fuzzTarget, summary, type TargetResult } from './engine.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const seed = Number(arg('seed') ?? process.env.FUZZ_SEED ?? (Date.now() & 0x7fffffff));
const inputs = Number(arg('inputs') ?? 1_000_000);
const only = arg('target');
const all = targets(loadCorpus()).filter((t) => !only || t.name.startsWith(only));
const per = Math.ceil(inputs / all.length);
console.log(`fuzz seed=${seed} targets=${all.length} inputs/target=${per}`);
const results: TargetResult[] = [];
for (const [i, t] of all.entries()) {
  const t0 = Date.now();
  process.stdout.write(`  ${t.name} (${t.seeds.length} seeds) … `);
  const r = fuzzTarget(t, per, (seed + i * 0x9e3779b9) >>> 0);
  results.push(r);
  console.log(`${r.runs} inputs, ${r.decoded} decoded, ${r.rejected} DECODE, ${r.findings.length} findings, max ${r.maxMs.toFixed(1)} ms, ${Date.now() - t0} ms`);
  for (const f of r.findings) console.log(`    ${f.kind}: ${f.detail}\n    input: ${f.hex}`);
}
console.log(summary(seed, results));
process.exitCode = results.some((r) => r.findings.length) ? 1 : 0;
