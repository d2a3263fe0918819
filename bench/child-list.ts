/**
 * Lists pktmark's table in a fresh process by streaming (m.rules()), counting rows: prints JSON
 * { ms, rows, vmHwmKB }. Run by bench/scale.ts after it filled the table.
 *   node dist/bench/child-list.js NETNS
 */
import { readFileSync } from 'node:fs';
import { Marker } from '../src/index.js';

const [ns] = process.argv.slice(2);
const m = await Marker.open({ netns: ns, timeoutMs: 300_000 });
const t0 = process.hrtime.bigint();
let rows = 0;
for await (const r of m.rules({ via: 'nft' })) if (r.id) rows++;
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
await m.close();
const vmHwmKB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
process.stdout.write(JSON.stringify({ ms, rows, vmHwmKB }));
