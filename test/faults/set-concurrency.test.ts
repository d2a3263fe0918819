/**
 * Set updates racing with other writers (issue 14 part 5): while 4 other processes each add 100
 * rules (deleting every other one, test/faults/concurrency-child.ts), this process sends 200
 * updates to an interval list rule and 200 to a hash list rule in the same table. No update and
 * no writer sees an error (lost races are retried inside pktmark), the writers' rules are all
 * there, and each list holds exactly what the updates left.
 */
import { runWriter } from './writer.js';
import { Marker } from '../../src/index.js';
import { liveTest, withNetns } from '../helpers/netns.js';

const WRITERS = 4;
const RULES = 100;
const UPDATES = 200;

liveTest(`set concurrency: ${UPDATES} updates each to an interval and a hash list while ${WRITERS} processes × ${RULES} adds run: no errors, nothing lost`, async (t) => {
  t.timeout(10 * 60_000);
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.path });
    try {
      const iv = await m.add({ src: ['172.16.0.0/16'], mark: 0x77 });
      const h = await m.add({ src: ['172.31.0.1'], mark: 0x78 });
      const writers = Promise.all(Array.from({ length: WRITERS }, (_, i) => runWriter(ns.path, i, RULES)));
      const errors: string[] = [];
      for (let i = 0; i < UPDATES; i++) {
        try {
          // carve /24s out of the /16 one by one, and grow the hash list by one address each time
          await m.update(iv.id, { remove: [`172.16.${i}.0/24`] });
          await m.update(h.id, { add: [`172.30.${i >> 8}.${i & 255}`] });
        } catch (e) { errors.push(`${(e as { code?: string }).code ?? ''} ${(e as Error).message}`); }
      }
      const results = await writers;
      t.deepEqual(errors, [], 'no update failed');
      for (const r of results) t.deepEqual(r.errors, [], `writer ${r.who} saw errors`);
      const list = await m.list();
      const byId = new Map(list.map((r) => [r.id, r]));
      t.deepEqual(byId.get(iv.id)?.rule?.srcList?.entries, [`172.16.${UPDATES}.0-172.16.255.255`]);
      t.is(byId.get(h.id)?.rule?.srcList?.entries.length, UPDATES + 1);
      const kept = results.flatMap((r) => r.kept).sort();
      t.is(kept.length, WRITERS * RULES / 2);
      for (const id of kept) t.true(byId.has(id), `${id} is there`);
      t.is(list.length, kept.length + 2);
    } finally { await m.close(); }
  });
});
