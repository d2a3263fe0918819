import test from 'ava';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleRelease, releaseMemory, settleMemory } from '../../src/agent/memory.js';
import { SendPool } from '../../src/transport/send-pool.js';
import { getLibc } from '../../src/transport/syscalls.js';

/** the release comes when the loop has been idle: under a loaded machine that can take a while */
async function eventually(cond: () => boolean, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (cond()) return true;
  return cond();
}

const rssKiB = (): number => Number(/^Rss:\s+(\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))![1]);

test.serial('an apply that worked is followed by one release once the loop is idle', async (t) => {
  let n = 0;
  const r = new IdleRelease(() => n++, undefined, 20);
  r.idle(true);
  t.is(n, 0, 'not during the apply that asked for it');
  t.true(await eventually(() => n === 1));
  r.idle(false);
  await sleep(60);
  t.is(n, 1, 'nothing new to give back after an apply that only compared the generation');
});

test.serial('an apply that starts cancels the wait, and a skipped one restarts it', async (t) => {
  let n = 0;
  const r = new IdleRelease(() => n++, undefined, 20);
  r.idle(true);
  r.busy();
  await sleep(60);
  t.is(n, 0);
  r.idle(false);
  t.true(await eventually(() => n === 1));
});

test.serial('a busy event loop postpones the release; stop drops it', async (t) => {
  let n = 0;
  const r = new IdleRelease(() => n++, undefined, 20);
  r.idle(true);
  const spin = setInterval(() => { const end = Date.now() + 15; while (Date.now() < end) { /* busy */ } }, 1);
  await sleep(140);
  t.is(n, 0, 'the loop was busy');
  clearInterval(spin);
  t.true(await eventually(() => n === 1));
  r.idle(true);
  r.stop();
  await sleep(60);
  t.is(n, 1);
});

test.serial('the settle GC follows the release after its delay, unless an apply that worked comes first', async (t) => {
  let released = 0;
  let settled = 0;
  const r = new IdleRelease(() => released++, () => settled++, 20, 0.25, 150);
  r.idle(true);
  t.true(await eventually(() => released === 1));
  r.busy(); // a resync that only compared the generation
  r.idle(false);
  t.true(await eventually(() => settled === 1));
  r.idle(true);
  t.true(await eventually(() => released === 2));
  r.idle(true); // another change before the settle: it waits for the release after that one
  await sleep(100);
  t.is(settled, 1);
  t.true(await eventually(() => released === 3 && settled === 2));
  r.stop();
});

test('discardPages gives a mapped buffer back and leaves it zeroed; other buffers are refused', (t) => {
  const libc = getLibc();
  const b = libc.mapDontFork(8 << 20, true)!;
  b.fill(1);
  const before = rssKiB();
  t.true(libc.discardPages(b));
  t.true(before - rssKiB() > 6 * 1024, 'most of the 8 MiB left the resident set');
  t.is(b[0], 0);
  t.is(b[b.length - 1], 0);
  b[5] = 7; // still mapped and writable
  t.is(b[5], 7);
  t.false(libc.discardPages(new Uint8Array(4096)));
});

test('releaseMemory collects, releases the pool and trims malloc without failing', (t) => {
  const pool = new SendPool();
  const w = pool.take(1 << 20);
  pool.give(w);
  t.notThrows(() => releaseMemory([pool]));
  t.notThrows(() => releaseMemory([pool]), 'the gc() it found the first time is used again');
  t.notThrows(() => settleMemory());
  t.is(typeof getLibc().trimMalloc(), 'boolean');
});
