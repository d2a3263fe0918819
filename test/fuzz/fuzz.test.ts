/**
 * The fixed-seed share of the decoder fuzzing (`npm run fuzz` runs ≥ 1,000,000 with a fresh
 * seed): about 20,000 inputs over every decoder, only PktmarkErrors allowed, each call within
 * the time bound; and inputs whose length fields claim far more than they hold.
 */
import test from 'ava';
import { loadCorpus } from './corpus.js';
import { targets } from './targets.js';
import { check, fuzzTarget, summary, TIME_BOUND_MS } from './engine.js';

const SEED = 0x5eed14;
const TOTAL = 20_000;
const all = targets(loadCorpus());

test('the corpus covers every decoder family with fixture seeds', (t) => {
  const names = all.map((x) => x.name);
  for (const want of ['netlink.messages', 'netlink.ack', 'nft.rule', 'nft.set', 'nft.setelem', 'nft.expr.payload', 'tc.filter', 'tc.u32', 'tc.police', 'bpf.insns', 'bpf.config']) {
    t.true(names.includes(want), want);
  }
});

test(`fixed seed 0x${SEED.toString(16)}: ${TOTAL} inputs, only PktmarkErrors, each within ${TIME_BOUND_MS} ms`, (t) => {
  const per = Math.ceil(TOTAL / all.length);
  const results = all.map((x, i) => fuzzTarget(x, per, SEED + i));
  t.log(summary(SEED, results));
  t.deepEqual(results.flatMap((r) => r.findings), []);
  for (const r of results) t.true(r.decoded > 0, `${r.name}: some inputs decode (the seeds at least)`);
});

/** 16 bytes whose every 16- and 32-bit field claims the most it can: nlmsg_len 4 GiB, nla_len 64 KiB, nkeys 255… */
function claims(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const all1 = new Uint8Array(16).fill(0xff);
  out.push(all1);
  for (let at = 0; at + 4 <= 16; at += 2) {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setUint32(at, 0xffffffff, true);
    out.push(b);
    const c = Uint8Array.from([0x10, 0, 0, 0, 0x0a, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // a 16-byte message…
    new DataView(c.buffer).setUint16(at, 0xffff, true); // …with one field at its maximum
    out.push(c);
  }
  return out;
}

test('a 16-byte input claiming gigabytes neither allocates them nor loops', (t) => {
  const inputs = claims();
  for (const x of all) {
    for (const seed of [...inputs, ...x.seeds.slice(0, 3).map((s) => { const b = s.slice(0, 16); b.fill(0xff, 0, 4); return b; })]) {
      const before = process.memoryUsage().arrayBuffers;
      const c = check(x, seed, true);
      const grew = process.memoryUsage().arrayBuffers - before;
      t.not(c.outcome, 'exception', `${x.name}: ${String(c.error)}`);
      t.true(c.ms < TIME_BOUND_MS, `${x.name}: ${c.ms} ms`);
      t.true(grew < 1 << 20, `${x.name}: array buffers grew by ${grew} bytes`);
    }
  }
});
