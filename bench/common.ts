/** Shared bench scaffolding: throwaway namespaces, timing, results file. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const NFT = '/usr/sbin/nft';
export const TC = '/usr/sbin/tc';
export const IP = '/usr/sbin/ip';

const made = new Set<string>();
process.on('exit', () => { for (const n of made) spawnSync(IP, ['netns', 'del', n]); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

let counter = 0;
export function freshNetns(): string {
  const name = `pmbench-${process.pid}-${counter++}`;
  execFileSync(IP, ['netns', 'add', name]);
  made.add(name);
  return name;
}
export function dropNetns(name: string): void {
  spawnSync(IP, ['netns', 'del', name]);
  made.delete(name);
}

export function ms(t0: bigint): number { return Number(process.hrtime.bigint() - t0) / 1e6; }
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
export function timeCommand(cmd: string, args: string[], input?: string): number {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd, args, input === undefined ? { stdio: 'ignore' } : { input, stdio: ['pipe', 'ignore', 'inherit'] });
  return ms(t0);
}

// Benches run compiled (dist/bench/*.js, see `npm run bench`), so find bench/ from the project root.
const here = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = here.endsWith('/dist/bench') ? join(here, '../../bench') : here;
const TIMER = join(BENCH_DIR, 'time-cmd.mjs');
const MEASURER = join(BENCH_DIR, 'measure-cmd.mjs');
/** The compiled benches (dist/bench), for running one in a fresh process. */
export const COMPILED_DIR = here;
export const ROOT_DIR = join(BENCH_DIR, '..');
/** Times `cmd` run `runs` times inside namespace `ns`, measured from inside it (see time-cmd.mjs). */
export function timeInNetns(ns: string, runs: number, cmd: string, args: string[], stdinFile = '-'): number[] {
  const out = execFileSync(IP, ['netns', 'exec', ns, process.execPath, TIMER, String(runs), stdinFile, '--', cmd, ...args], { encoding: 'utf8' });
  return (JSON.parse(out) as { times: number[] }).times;
}

/** Times one run of `cmd` inside namespace `ns` and reads its peak RSS (see measure-cmd.mjs). */
export function measureInNetns(ns: string, cmd: string, args: string[], stdinFile = '-'): { ms: number; maxRssKB: number } {
  const out = execFileSync(IP, ['netns', 'exec', ns, process.execPath, MEASURER, stdinFile, '--', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return JSON.parse(out) as { ms: number; maxRssKB: number };
}

/** Runs a compiled bench script (dist/bench/NAME.js) in a fresh node process; returns its JSON line. */
export function runChild<T>(name: string, args: string[], wrapNetns?: string): T {
  const node = [join(COMPILED_DIR, `${name}.js`), ...args];
  const out = wrapNetns === undefined
    ? execFileSync(process.execPath, node, { encoding: 'utf8', maxBuffer: 1 << 26 })
    : execFileSync(IP, ['netns', 'exec', wrapNetns, process.execPath, ...node], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out) as T;
}

export interface Spread { readonly median: number; readonly min: number; readonly max: number; readonly n: number }
export function spread(xs: readonly number[]): Spread {
  return { median: median([...xs]), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

const RESULTS = join(BENCH_DIR, 'results.json');
/** Merge one section into bench/results.json (other benches keep theirs). */
export function saveResults(section: string, data: Record<string, unknown>): void {
  let all: Record<string, unknown> = {};
  try { all = JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>; } catch { /* first run */ }
  all[section] = { ...data, date: new Date().toISOString(), kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim() };
  writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
}

export function verdict(name: string, value: number, target: number, lowerIsBetter = true): string {
  const ok = lowerIsBetter ? value <= target : value >= target;
  return `${ok ? 'PASS' : 'MISS'}  ${name}: ${value.toFixed(3)} (target ${lowerIsBetter ? '≤' : '≥'} ${target})`;
}
