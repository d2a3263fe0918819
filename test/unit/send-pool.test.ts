import test from 'ava';
import { setImmediate as tick } from 'node:timers/promises';
import { SendPool } from '../../src/transport/send-pool.js';

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

test('a buffer given back is zeroed before anyone takes it again, at once or after the caller has its answer', async (t) => {
  const pool = new SendPool();
  const w = pool.take(1 << 20);
  for (let i = 0; i < 4096; i++) w.u32(1, 0xffffffff);
  const written = w.backing;
  pool.give(w);
  const again = pool.take(1 << 20);
  t.is(again.backing, written, 'the same mapped buffer');
  t.true(allZero(again.backing), 'a take right after give zeroes it itself');
  for (let i = 0; i < 4096; i++) again.u32(1, 0xffffffff);
  pool.give(again);
  await tick();
  t.true(allZero(written), 'zeroed once the loop turned');
});
