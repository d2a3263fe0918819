/**
 * The kernel as judge: every golden case applied by pktmark in one namespace and by the real
 * `nft` (from the case's own nft text) in a twin namespace must leave the same rules, as
 * `nft -j list ruleset` reports them (expressions, chain, comment).
 */
import { readFileSync } from 'node:fs';
import { Marker, type MarkRuleInput } from '../../src/index.js';
import { liveTest, withNetns, type Netns } from '../helpers/netns.js';

interface Case { name: string; input: MarkRuleInput; nft: string }
const cases = JSON.parse(readFileSync(new URL('../../fixtures/nft/cases.json', import.meta.url), 'utf8')) as { setup: string[]; rules: Case[] };

type JsonRule = { family: string; table: string; chain: string; expr: unknown[]; comment?: string };
function rules(ns: Netns): JsonRule[] {
  return ns.ruleset().nftables.flatMap((o) => (o.rule ? [o.rule as JsonRule] : []))
    .map(({ family, table, chain, expr, comment }) => ({ family, table, chain, expr, ...(comment ? { comment } : {}) }));
}
function chains(ns: Netns): unknown[] {
  return ns.ruleset().nftables.flatMap((o) => (o.chain ? [o.chain as Record<string, unknown>] : []))
    .map(({ handle: _h, ...c }) => c).sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

liveTest(`kernel judge: ${cases.rules.length} golden rules applied by pktmark equal the same rules applied by nft`, async (t) => {
  await withNetns(async (mine, twin) => {
    twin.nftFile(cases.setup.join('\n') + '\n');
    const m = await Marker.open({ netns: mine.name });
    try {
      for (const c of cases.rules) {
        await m.add(c.input);
        twin.exec('/usr/sbin/nft', splitNft(c.nft));
      }
      const got = rules(mine);
      const want = rules(twin);
      t.is(got.length, want.length);
      cases.rules.forEach((c, i) => t.deepEqual(got[i], want[i], `case ${c.name}: ${c.nft}`));
      t.deepEqual(chains(mine), chains(twin), 'base chains: type, hook, priority, policy');
      const listed = await m.list();
      // list() goes chain by chain (prerouting, then output), as the kernel dumps them
      const sorted = (xs: string[]): string[] => [...xs].sort();
      t.deepEqual(sorted(listed.map((r) => r.text)), sorted(cases.rules.map((c) => c.nft)), 'list() decodes every rule back to its nft text');
    } finally { await m.close(); }
  }, 2);
});

/** Split an `nft add rule …` line into argv (quoted strings kept whole, quotes kept for nft's parser). */
function splitNft(line: string): string[] {
  const words = line.match(/"[^"]*"|\S+/g) ?? [];
  return words.slice(1);
}
