/**
 * Waiting for traffic: the observer counters are polled until the rule's traffic at the marking
 * point reaches `packets`, `seconds` have passed, or the caller aborts (Ctrl-C). Verify sends
 * no packet of its own.
 */
import { PktmarkError } from '../errors.js';
import type { Counts } from './observers.js';

export type StopReason = 'packets' | 'seconds' | 'aborted';

export interface StopWhen {
  readonly packets?: number;
  readonly seconds?: number;
  readonly signal?: AbortSignal;
  /** how often counters are read (default 100 ms) */
  readonly pollMs?: number;
}

export const DEFAULT_SECONDS = 10;

/** Options checked before anything is sent; with neither limit, DEFAULT_SECONDS. */
export function checkStop(o: StopWhen): StopWhen {
  if (o.packets !== undefined && (!Number.isInteger(o.packets) || o.packets < 1)) {
    throw new PktmarkError('INVALID_OPTION', `packets ${String(o.packets)} must be a whole number ≥ 1`, { field: 'packets' });
  }
  if (o.seconds !== undefined && (!Number.isFinite(o.seconds) || o.seconds <= 0)) {
    throw new PktmarkError('INVALID_OPTION', `seconds ${String(o.seconds)} must be a positive number`, { field: 'seconds' });
  }
  if (o.pollMs !== undefined && (!Number.isFinite(o.pollMs) || o.pollMs < 1)) {
    throw new PktmarkError('INVALID_OPTION', `pollMs ${String(o.pollMs)} must be ≥ 1`, { field: 'pollMs' });
  }
  return o.packets === undefined && o.seconds === undefined ? { ...o, seconds: DEFAULT_SECONDS } : o;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  const timer = setTimeout(done, ms);
  function done(): void { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); }
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Poll `read` until a stop condition holds; returns the last counts. After the packet count is
 * reached one more read follows a short pause, so a packet still between two points is counted
 * at both.
 */
export async function countUntil(read: () => Promise<Counts>, first: 'marked', stop: StopWhen): Promise<{ counts: Counts; stoppedBy: StopReason; ms: number }> {
  const start = Date.now();
  const poll = stop.pollMs ?? 100;
  for (;;) {
    if (stop.signal?.aborted) return { counts: await read(), stoppedBy: 'aborted', ms: Date.now() - start };
    const counts = await read();
    if (stop.packets !== undefined && (counts.get(first)?.traffic ?? 0) >= stop.packets) {
      await sleep(Math.min(poll, 50));
      return { counts: await read(), stoppedBy: 'packets', ms: Date.now() - start };
    }
    const left = stop.seconds === undefined ? Infinity : start + stop.seconds * 1000 - Date.now();
    if (left <= 0) return { counts, stoppedBy: 'seconds', ms: Date.now() - start };
    await sleep(Math.min(poll, left), stop.signal);
  }
}
