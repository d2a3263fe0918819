/**
 * The cold encode rate: a fresh process validates and encodes N rules with one encode() call,
 * its first. Prints JSON { rulesPerSec, ms, pageFaults }.   node dist/bench/child-encode.js 200000
 * (page faults: most of the time here is fresh memory, the output's and its views', at ~3-10 µs a page)
 */
import { encode } from '../src/index.js';

const N = Number(process.argv[2] ?? 200_000);
const inputs = Array.from({ length: N }, (_, i) => ({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mark: 0xdeadbeef }));
const faults0 = process.resourceUsage().minorPageFault;
const t0 = process.hrtime.bigint();
const messages = encode(inputs);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const pageFaults = process.resourceUsage().minorPageFault - faults0;
if (messages.length !== N + 4) throw new Error(`encoded ${messages.length} messages`);
process.stdout.write(JSON.stringify({ rulesPerSec: N / (ms / 1000), ms, pageFaults }));
