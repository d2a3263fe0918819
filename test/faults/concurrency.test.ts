/**
 * Other writers exist (DESIGN: ownership): 8 processes each add and delete 500 rules in the
 * same namespace at the same time. The final state holds exactly what each process kept — none
 * lost, none duplicated — and no process sees an error (races are retried inside pktmark).
 */
import { runWriter } from './writer.js';
import { liveTest, withNetns } from '../helpers/netns.js';

const WRITERS = 8;
const RULES = 500;

liveTest(`concurrency: ${WRITERS} processes × ${RULES} adds (half deleted again) in one namespace: nothing lost, nothing duplicated, no errors`, async (t) => {
  t.timeout(10 * 60_000);
  await withNetns(async (ns) => {
    const results = await Promise.all(Array.from({ length: WRITERS }, (_, i) => runWriter(ns.path, i, RULES)));
    for (const r of results) t.deepEqual(r.errors, [], `writer ${r.who} saw errors`);
    const rules = (ns.ruleset().nftables.filter((o) => 'rule' in o) as { rule: { handle: number; comment?: string; chain: string } }[]).map((o) => o.rule);
    const ids = rules.map((r) => `nft:${r.chain}:${r.handle}`).sort();
    const kept = results.flatMap((r) => r.kept).sort();
    t.is(kept.length, WRITERS * RULES / 2);
    t.deepEqual(ids, kept, 'the kernel holds exactly the rules the writers kept');
    const comments = rules.map((r) => r.comment ?? '');
    t.is(new Set(comments).size, comments.length, 'no rule twice');
    for (let w = 0; w < WRITERS; w++) {
      const mine = comments.filter((c) => c.startsWith(`w${w}-`)).map((c) => Number(c.split('-')[1])).sort((a, b) => a - b);
      t.deepEqual(mine, Array.from({ length: RULES / 2 }, (_, k) => 2 * k), `writer ${w}'s even rules, all there`);
    }
  });
});
