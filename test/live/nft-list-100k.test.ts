/**
 * A streaming list of 100,000 rules stays bounded: every rule is yielded once (element count,
 * unique ids), and the resident memory while reading grows far less than the collected list
 * would need (a generous RSS bound). No timing is asserted: the kernel's rule dump re-walks the
 * chain for every part it sends, so its duration depends on the machine's load.
 */
import { Marker } from '../../src/index.js';
import { liveTest, withNetns } from '../helpers/netns.js';

const N = 100_000;
/** Growth of RSS allowed while the 100,000 rules stream by. Collected, they take ~100 MB more. */
const RSS_GROWTH_BOUND_MB = 128;

liveTest('nft: rules() streams 100,000 rules, each once, within a memory bound', async (t) => {
  t.timeout(600_000);
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name, timeoutMs: 60_000 });
    try {
      const inputs = Array.from({ length: N }, (_, i) => ({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mark: 0x100 + (i & 0xff) }));
      const added = await m.add(inputs);
      t.is(added.length, N);
      const firstId = added[0].id;
      const lastId = added[N - 1].id;
      added.length = 0; // keep nothing of the add: only the stream is measured
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      let n = 0;
      let prevHandle = 0;
      let ordered = true;
      let firstSeen = '';
      let lastSeen = '';
      for await (const r of m.rules({ via: 'nft' })) {
        const handle = Number(r.id.split(':')[2]);
        if (handle <= prevHandle) ordered = false; // appended in one batch: handles ascend, so a repeat would show here
        prevHandle = handle;
        if (n === 0) firstSeen = r.id;
        lastSeen = r.id;
        if (++n % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      t.is(n, N, 'element count');
      t.true(ordered, 'every rule once, in handle order (none yielded twice)');
      t.is(firstSeen, firstId);
      t.is(lastSeen, lastId);
      const growthMB = (peak - rss0) / 2 ** 20;
      t.log(`RSS ${(rss0 / 2 ** 20).toFixed(0)} MB before, peak growth ${growthMB.toFixed(1)} MB while streaming ${N} rules`);
      t.true(growthMB < RSS_GROWTH_BOUND_MB, `RSS grew ${growthMB.toFixed(1)} MB (bound ${RSS_GROWTH_BOUND_MB} MB)`);
    } finally {
      await m.clear();
      await m.close();
    }
  });
});
