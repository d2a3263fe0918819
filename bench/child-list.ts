/**
 * Lists pktmark's table in a fresh process by streaming (m.rules()), counting rows and the
 * entries of their address lists (set mode: one rule whose list is a 100,000-element set):
 * prints JSON { ms, rows, entries, vmHwmKB }. Run by bench/scale.ts after it filled the table.
 *   node dist/bench/child-list.js NETNS
 */
import { readFileSync } from 'node:fs';
import { Marker } from '../src/index.js';

const [ns] = process.argv.slice(2);
const m = await Marker.open({ netns: ns, timeoutMs: 300_000 });
const t0 = process.hrtime.bigint();
let rows = 0;
let entries = 0;
for await (const r of m.rules({ via: 'nft' })) {
  if (r.id) rows++;
  entries += (r.rule?.srcList?.entries.length ?? 0) + (r.rule?.dstList?.entries.length ?? 0);
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
await m.close();
const vmHwmKB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
process.stdout.write(JSON.stringify({ ms, rows, entries, vmHwmKB }));
