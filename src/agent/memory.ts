/**
 * The agent's memory between applies. An apply of 10,000 rules, or a drift repair's dump of
 * them, allocates tens of MB that are garbage a moment later, and a process that then sits idle
 * keeps what its peak needed: old-space pages stay committed until a full GC, glibc keeps freed
 * blocks in its heaps, the batch pool keeps its largest batch's pages, and V8's young generation
 * stays at the two 16 MB semi-spaces it grew to. bench/apply-10k.ts's agentRssMB (10,000 rules)
 * was 128 MB with all of that.
 *
 * The young generation is not held small (--semi-space-growth-factor=1 at the start does that,
 * and it is read at run time, unlike --max-semi-space-size): measured, a 1% change of 10,000
 * rules then took 10-11 scavenges instead of 1 and twice as long in the CLI agent. V8 shrinks it
 * in a full GC that comes after 5 s of low allocation, which `settleMemory` is.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dropKnownRulesScratch } from '../apply/known-rules.js';
import { getLibc } from '../transport/syscalls.js';
import type { SendPool } from '../transport/send-pool.js';

/** whether the user gave node this V8 flag themselves (then it is theirs: left alone) */
function userFlag(name: string): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.replace(/_/g, '-').startsWith(name));
}

let gc: (() => void) | null | undefined;

/**
 * A full garbage collection: the user's gc() (node --expose-gc), else the one V8 puts in a
 * context made while --expose-gc is set (the flag is cleared again at once, so no other context
 * gets it). False where neither is possible.
 */
function collect(): boolean {
  if (gc === undefined) {
    const own: unknown = (globalThis as { gc?: unknown }).gc;
    if (typeof own === 'function') gc = own as () => void;
    else {
      try {
        setFlagsFromString('--expose-gc');
        const f: unknown = runInNewContext('gc');
        gc = typeof f === 'function' ? (f as () => void) : null;
      } catch {
        gc = null;
      } finally {
        setFlagsFromString('--no-expose-gc');
      }
    }
  }
  if (gc === null) return false;
  gc();
  return true;
}

/**
 * Give back what the last applies left: apply's scratch, two full GCs, then the batch pools' pages (nft's and tc's), then malloc's
 * free memory (last: the GCs free the external buffers of the dump). Measured after a drift
 * repair of 10,000 rules: one GC leaves most of the old space committed, the second frees it;
 * --optimize-for-size, on only for them, makes them compact fragmented pages as a low-memory GC
 * would (old space 14 MB after them instead of 20.5 MB).
 */
export function releaseMemory(pools: readonly SendPool[]): void {
  const forSize = !userFlag('--optimize-for-size') && !userFlag('--no-optimize-for-size');
  if (forSize) setFlagsFromString('--optimize-for-size');
  dropKnownRulesScratch();
  try {
    if (collect()) collect();
  } finally {
    if (forSize) setFlagsFromString('--no-optimize-for-size');
  }
  try {
    for (const pool of pools) pool.release();
    getLibc().trimMalloc();
  } catch { /* no koffi: nothing native was allocated either */ }
}

/**
 * One full GC once the process has allocated little for over 5 s (V8's window for its allocation
 * rate): V8 then shrinks the young generation back to its start size. It grows again in the
 * next big apply.
 */
export function settleMemory(): void {
  collect();
}

/** V8's allocation-rate window (kThroughputTimeFrameMs, 5 s) and some slack */
export const SETTLE_AFTER_MS = 5_500;

/**
 * When to call `release`: after an apply that did real work (read, diffed or sent), once the
 * event loop has been idle for a `windowMs` (busy under `maxBusy` of it; an embedding program
 * still working, or a benchmark calling apply, postpones it), and never while an apply runs. An
 * apply that starts cancels the wait; one that did nothing (the generation had not moved)
 * restarts it. `settle` follows `settleMs` after the release unless another apply did real work
 * meanwhile (resyncs that only compared the generation allocate next to nothing).
 */
export class IdleRelease {
  private timer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private pending = false;

  constructor(
    private readonly release: () => void,
    private readonly settle: () => void = () => {},
    private readonly windowMs = 50,
    private readonly maxBusy = 0.25,
    private readonly settleMs = SETTLE_AFTER_MS,
  ) {}

  /** an apply starts */
  busy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** an apply ended; `worked`: it did more than compare the generation */
  idle(worked: boolean): void {
    if (worked) { this.pending = true; clearTimeout(this.settleTimer); }
    if (this.pending) this.wait();
  }

  stop(): void {
    this.busy();
    clearTimeout(this.settleTimer);
    this.pending = false;
  }

  private wait(): void {
    clearTimeout(this.timer);
    const from = performance.eventLoopUtilization();
    this.timer = setTimeout(() => {
      if (performance.eventLoopUtilization(from).utilization > this.maxBusy) { this.wait(); return; }
      this.timer = undefined;
      this.pending = false;
      this.release();
      this.settleTimer = setTimeout(this.settle, this.settleMs);
      this.settleTimer.unref();
    }, this.windowMs);
    this.timer.unref();
  }
}
