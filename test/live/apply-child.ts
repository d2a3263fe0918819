/** A second process for the race test: applies FILE to NETNS N times as fast as it can. */
import { readFileSync } from 'node:fs';
import { Marker } from '../../src/marker.js';
import { parseDesired } from '../../src/apply/index.js';

const [netns, file, times] = process.argv.slice(2);
const desired = parseDesired(readFileSync(file, 'utf8'), file);
const m = await Marker.open({ netns });
let retries = 0;
let busy = 0;
for (let i = 0; i < Number(times); i++) {
  try { retries += (await m.apply(desired)).retries; } catch (e) { if ((e as { code?: string }).code === 'BUSY') busy++; else throw e; }
}
await m.close();
process.stdout.write(JSON.stringify({ retries, busy }) + '\n');
