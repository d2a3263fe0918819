/**
 * Packets: an iptables-restore file of 30 lines across *raw and *mangle (test/packets/restore-30.rules:
 * set/xset/and/or/xor marks, ranges, negated ranges, multiport, dotted masks, mark matches, limit,
 * PREROUTING and OUTPUT), restored by pktmark in one pair of namespaces and by the real
 * iptables-nft-restore in a twin pair, gives every flow the same final mark. The mark of each
 * datagram is read where it was set, after both tools' chains (priority 0), by an nft observer: a
 * dynamic set keyed by mark . saddr . sport . dport, with a counter per element.
 */
import { fileURLToPath } from 'node:url';
import { cli } from '../cli/cli.js';
import { IP, liveTest, run, withVethPair, type Netns } from '../helpers/netns.js';

const RULES = fileURLToPath(new URL('./restore-30.rules', import.meta.url));
const SENDER = fileURLToPath(new URL('./restore-send.mjs', import.meta.url));

type Flow = readonly [src: string, sport: number, dst: string, dport: number, count: number];
/** into a (10.0.0.2) from b's two sources, several ports: PREROUTING */
const IN: readonly Flow[] = [
  ['10.0.0.1', 30001, '10.0.0.2', 5001, 3], ['10.0.0.3', 30002, '10.0.0.2', 5001, 3],
  ['10.0.0.1', 30003, '10.0.0.2', 5003, 3], ['10.0.0.3', 30004, '10.0.0.2', 5003, 3],
  ['10.0.0.1', 30005, '10.0.0.2', 6001, 3], ['10.0.0.1', 30006, '10.0.0.2', 8000, 3],
  ['10.0.0.1', 4000, '10.0.0.2', 7001, 3], ['10.0.0.3', 4000, '10.0.0.2', 5010, 3],
  ['10.0.0.1', 4001, '10.0.0.2', 5010, 3], ['10.0.0.3', 4002, '10.0.0.2', 5010, 3],
  ['10.0.0.1', 4003, '10.0.0.2', 5010, 3], ['10.0.0.3', 4004, '10.0.0.2', 9999, 3],
  ['10.0.0.3', 30007, '10.0.0.2', 6002, 3],
];
/** out of a: OUTPUT */
const OUT: readonly Flow[] = [
  ['10.0.0.2', 30011, '10.0.0.1', 5100, 3], ['10.0.0.2', 30012, '10.0.0.1', 5101, 3],
  ['10.0.0.2', 30013, '10.0.0.1', 5102, 3], ['10.0.0.2', 4005, '10.0.0.1', 5200, 3],
];

function observe(ns: Netns): void {
  ns.nftFile(`table inet obs {
  set seen { type mark . ipv4_addr . inet_service . inet_service; flags dynamic; counter; size 4096; }
  chain pre { type filter hook prerouting priority 0; meta l4proto udp add @seen { meta mark . ip saddr . udp sport . udp dport }; }
  chain out { type filter hook output priority 0; meta l4proto udp add @seen { meta mark . ip saddr . udp sport . udp dport }; }
}\n`);
}
/** "mark saddr:sport→dport" → packets */
function seen(ns: Netns): Record<string, number> {
  const j = JSON.parse(ns.nft('-j', 'list', 'set', 'inet', 'obs', 'seen')) as { nftables: { set?: { elem?: { elem: { val: { concat: (string | number)[] }; counter?: { packets: number } } }[] } }[] };
  const out: Record<string, number> = {};
  for (const o of j.nftables) for (const e of o.set?.elem ?? []) {
    const [mark, saddr, sport, dport] = e.elem.val.concat;
    out[`0x${Number(mark).toString(16)} ${saddr}:${sport}→${dport}`] = e.elem.counter?.packets ?? 0;
  }
  return out;
}
const send = (ns: Netns, flows: readonly Flow[]): void => { run(IP, ['netns', 'exec', ns.name, process.execPath, SENDER, JSON.stringify(flows)]); };

liveTest('packets: a 30-line restore file (*raw + *mangle) gives the same marks through pktmark as through iptables-nft-restore in a twin', async (t) => {
  t.timeout(3 * 60_000);
  const results: Record<string, number>[] = [];
  for (const tool of ['pktmark', 'iptables-nft-restore'] as const) {
    await withVethPair(async (a, b) => {
      if (tool === 'pktmark') {
        const r = await cli(['--netns', a.name, 'iptables-restore', RULES]);
        t.is(r.code, 0, r.stderr);
      } else {
        a.exec('/usr/sbin/iptables-nft-restore', [RULES]);
      }
      observe(a);
      send(b, IN);
      send(a, OUT);
      results.push(seen(a));
    });
  }
  const [mine, theirs] = results;
  t.log(JSON.stringify(mine, null, 1));
  t.deepEqual(mine, theirs, 'every flow ends with the same mark, for the same number of datagrams');
  // and the file did mark: the expected final marks of a few flows (so two empty results cannot pass)
  for (const k of ['0x100001 10.0.0.1:30001→5001', '0x2 10.0.0.3:30002→5001', '0xc0ffee 10.0.0.3:4002→5010', '0x88 10.0.0.2:30011→5100', '0x5000 10.0.0.1:30006→8000', '0x1000400 10.0.0.1:30005→6001']) {
    t.is(mine[k], 3, k);
  }
});
