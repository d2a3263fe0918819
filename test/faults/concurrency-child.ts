/**
 * One of the concurrency test's writers: in namespace argv[2], process number argv[3] adds
 * argv[4] rules one call at a time (each with its own comment) and deletes every other one as it
 * goes, then prints the ids it kept, as JSON, and any error it saw.
 */
import { Marker } from '../../src/index.js';

const [netns, who, countText] = process.argv.slice(2);
const count = Number(countText);
const m = await Marker.open({ netns });
const kept: string[] = [];
const errors: string[] = [];
for (let i = 0; i < count; i++) {
  try {
    const r = await m.add({ src: `10.${Number(who) + 1}.${i >> 8}.${i & 255}`, mark: Number(who) + 1, comment: `w${who}-${i}` });
    if (i % 2 === 1) await m.delete(r.id); else kept.push(r.id);
  } catch (e) {
    errors.push(e instanceof Error ? `${(e as { code?: string }).code ?? ''} ${e.message}` : String(e));
  }
}
await m.close();
console.log(JSON.stringify({ who, kept, errors }));
