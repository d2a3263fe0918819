/** `iptables -I CHAIN [N]` through the front: one insert, other rules keep their ids and counters. */
import { main } from '../../src/cli/main.js';
import { liveTest, withNetns } from '../helpers/netns.js';

function io(): { io: { out: (s: string) => void; err: (s: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { io: { out: (s) => out.push(s), err: (s) => err.push(s) }, out, err };
}

liveTest('cli: iptables -I inserts at N like iptables, -I past the end is refused', async (t) => {
  await withNetns(async (ns) => {
    const run = async (...words: string[]): Promise<number> => main(['--netns', ns.name, ...words], io().io);
    const xt = (...words: string[]): Promise<number> => run('iptables', '-t', 'raw', ...words);
    t.is(await xt('-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '1'), 0);
    t.is(await xt('-A', 'PREROUTING', '-s', '10.0.0.2', '-j', 'MARK', '--set-mark', '2'), 0);
    const before = io();
    await main(['--netns', ns.name, '--json', 'list'], before.io);
    const ids = (JSON.parse(before.out.join('')) as { rules: { id: string }[] }).rules.map((r) => r.id);
    t.is(await xt('-I', 'PREROUTING', '-s', '10.0.0.9', '-j', 'MARK', '--set-mark', '9'), 0);
    t.is(await xt('-I', 'PREROUTING', '3', '-s', '10.0.0.8', '-j', 'MARK', '--set-mark', '8'), 0);
    const bad = io();
    t.is(await main(['--netns', ns.name, 'iptables', '-t', 'raw', '-I', 'PREROUTING', '9', '-s', '10.0.0.7', '-j', 'MARK', '--set-mark', '7'], bad.io), 1);
    t.regex(bad.err.join(''), /index of insertion too big/);
    const after = io();
    await main(['--netns', ns.name, '--json', 'list'], after.io);
    const rules = (JSON.parse(after.out.join('')) as { rules: { id: string; src: string }[] }).rules;
    t.deepEqual(rules.map((r) => r.src), ['10.0.0.9/32', '10.0.0.1/32', '10.0.0.8/32', '10.0.0.2/32']);
    t.is(rules[1].id, ids[0], 'the existing rules kept their ids');
    t.is(rules[3].id, ids[1]);
  });
});
