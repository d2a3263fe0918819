/**
 * Another pktmark writer for the restore race test: in NETNS, adds a raw PREROUTING rule (mark 0x77),
 * waits a little and deletes it again (a restore may have flushed it meanwhile), in a loop until
 * killed — two commits every ~90 ms, and a chain that stays short. Prints its count on SIGTERM.
 */
import { Marker } from '../../src/marker.js';

const [netns] = process.argv.slice(2);
const m = await Marker.open({ netns });
let n = 0;
process.on('SIGTERM', () => { process.stdout.write(`${n}\n`); process.exit(0); });
process.stdout.write('ready\n');
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
for (;;) {
  const rec = await m.add({ src: `10.9.${(n >> 8) & 0xff}.${n & 0xff}`, mark: 0x77 });
  n++;
  await pause(40);
  try { await m.delete(rec.id); } catch (e) { if ((e as { code?: string }).code !== 'NOT_FOUND') throw e; }
  await pause(40);
}
