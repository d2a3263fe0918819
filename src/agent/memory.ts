/**
 * The agent's memory between applies. An apply of 10,000 rules, or a drift repair's dump of
 * them, allocates tens of MB that are garbage a moment later, and a process that then sits idle
 * keeps what its peak needed: V8's young generation grows to two 16 MB semi-spaces and shrinks
 * only in a low-memory GC, old-space pages stay committed until a full GC, glibc keeps freed
 * blocks in its heaps, and the batch pool keeps its largest batch's pages. bench/apply-10k.ts's
 * agentRssMB (10,000 rules) was 128 MB with all of that; see the README for what this leaves.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { getLibc } from '../transport/syscalls.js';
import type { SendPool } from '../transport/send-pool.js';

/** whether the user gave node this V8 flag themselves (then it is theirs: left alone) */
function userFlag(name: string): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.replace(/_/g, '-').startsWith(name));
}

/**
 * Keep V8's young generation at the size it has now (2 × 2 MB when the CLI's agent starts,
 * instead of growing to 2 × 16 MB in the first big apply). --max-semi-space-size is read once,
 * when the heap is set up, so setting it now would do nothing; the growth factor is read at
 * every growth, so a factor of 1 holds the size.
 */
export function holdYoungGeneration(): void {
  if (userFlag('--semi-space') || userFlag('--max-semi-space') || userFlag('--min-semi-space')) return;
  setFlagsFromString('--semi-space-growth-factor=1');
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
 * Give back what the last applies left: two full GCs, then the batch pool's pages, then malloc's
 * free memory (last: the GCs free the external buffers of the dump). Measured after a drift
 * repair of 10,000 rules: one GC leaves most of the old space committed, the second frees it;
 * --optimize-for-size, on only for them, makes them compact fragmented pages as a low-memory GC
 * would (old space 14 MB after them instead of 20.5 MB).
 */
export function releaseMemory(pool: SendPool): void {
  const forSize = !userFlag('--optimize-for-size') && !userFlag('--no-optimize-for-size');
  if (forSize) setFlagsFromString('--optimize-for-size');
  try {
    if (collect()) collect();
  } finally {
    if (forSize) setFlagsFromString('--no-optimize-for-size');
  }
  try {
    pool.release();
    getLibc().trimMalloc();
  } catch { /* no koffi: nothing native was allocated either */ }
}

/**
 * When to call `release`: after an apply that did real work (read, diffed or sent), once the
 * event loop has been idle for a `windowMs` (busy under `maxBusy` of it; an embedding program
 * still working, or a benchmark calling apply, postpones it), and never while an apply runs. An
 * apply that starts cancels the wait; one that did nothing (the generation had not moved)
 * restarts it.
 */
export class IdleRelease {
  private timer: NodeJS.Timeout | undefined;
  private pending = false;

  constructor(private readonly release: () => void, private readonly windowMs = 50, private readonly maxBusy = 0.25) {}

  /** an apply starts */
  busy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** an apply ended; `worked`: it did more than compare the generation */
  idle(worked: boolean): void {
    if (worked) this.pending = true;
    if (this.pending) this.wait();
  }

  stop(): void {
    this.busy();
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
    }, this.windowMs);
    this.timer.unref();
  }
}
