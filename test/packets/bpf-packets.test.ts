/**
 * Packets through pktmark's bpf backend (root): rules added with Marker.add({ via: 'bpf' }) over
 * rtnetlink and bpf() — no tc binary — on va's clsact ingress in namespace `a`, packets sent from
 * `b` over the veth, counted by an nft observer (`meta mark 0xdeadbeef counter`) in `a`, where the
 * mark was set. Also: list reads the rules back from the config map with their counters, and
 * after clear `tc filter show` and `tc qdisc show` are what they were before.
 */
import type { ExecutionContext } from 'ava';
import { Marker } from '../../src/index.js';
import { liveTest, withVethPair, type Netns } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';

const M = 0xdeadbeef;
const tcState = (a: Netns): string => [a.tc('qdisc', 'show', 'dev', 'va'), a.tc('filter', 'show', 'dev', 'va', 'ingress'), a.tc('filter', 'show', 'dev', 'va', 'egress')].join('\n');

/** Add `rule` on va, send each [src, dst, count, port] from b, and return the observer count; clear restores tc state. */
async function marked(t: ExecutionContext, rule: Record<string, unknown>, sends: readonly [string, string, number, number?][]): Promise<number> {
  return withVethPair(async (a, b) => {
    addObserver(a, M);
    const before = tcState(a);
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add({ via: 'bpf', dev: 'va', mark: M, ...rule } as never);
      t.regex(rec.id, /^bpf:va:ingress:\d+$/);
      for (const [src, dst, n, port] of sends) sendUdp(b, src, dst, n, port);
      const n = observerCount(a);
      const listed = (await m.list({ via: 'bpf' })).find((r) => r.id === rec.id);
      t.is(listed?.packets, n, 'list reads the program\'s own counter back from the config map');
      await m.clear();
      t.is(tcState(a), before, 'after clear: tc qdisc/filter show as before');
      return n;
    } finally { await m.close(); }
  });
}

liveTest('bpf: src 10.0.0.1 marks 3/3 from 10.0.0.1 and 0/4 from 10.0.0.3', async (t) => {
  t.is(await marked(t, { src: '10.0.0.1' }, [['10.0.0.1', '10.0.0.2', 3], ['10.0.0.3', '10.0.0.2', 4]]), 3);
});
liveTest('bpf: prefix 10.0.0.0/30 matches .1 and .3; !10.0.0.1 matches only .3', async (t) => {
  t.is(await marked(t, { src: '10.0.0.0/30' }, [['10.0.0.1', '10.0.0.2', 2], ['10.0.0.3', '10.0.0.2', 3]]), 5);
  t.is(await marked(t, { src: '!10.0.0.1' }, [['10.0.0.1', '10.0.0.2', 2], ['10.0.0.3', '10.0.0.2', 3]]), 3);
});
liveTest('bpf: IPv6 source fd00::1 marks 3/3 and 0/2 from fd00::3', async (t) => {
  // proto udp: the kernel's neighbour solicitations from fd00::1 match a bare source too (and are marked, rightly)
  t.is(await marked(t, { family: 'ip6', src: 'fd00::1', proto: 'udp' }, [['fd00::1', 'fd00::2', 3], ['fd00::3', 'fd00::2', 2]]), 3);
  t.is(await marked(t, { family: 'ip6', src: 'fd00::/127', proto: 'udp' }, [['fd00::1', 'fd00::2', 3], ['fd00::3', 'fd00::2', 2]]), 3);
});
liveTest('bpf: proto udp dport 5353 marks only that port; proto tcp marks no UDP packet', async (t) => {
  t.is(await marked(t, { family: 'ip', proto: 'udp', dport: 5353 }, [['10.0.0.1', '10.0.0.2', 3, 5353], ['10.0.0.1', '10.0.0.2', 4, 9]]), 3);
  t.is(await marked(t, { family: 'ip', proto: 'tcp' }, [['10.0.0.1', '10.0.0.2', 3, 9]]), 0);
});
liveTest('bpf: rate 1/second burst 1: a quick burst of 20 gets exactly one mark', async (t) => {
  t.is(await marked(t, { src: '10.0.0.1', rate: '1/second', burst: 1 }, [['10.0.0.1', '10.0.0.2', 20]]), 1);
});

liveTest('bpf: two rules in one program; deleting the first keeps the second\'s id, slot and counter', async (t) => {
  await withVethPair(async (a, b) => {
    addObserver(a, M);
    const before = tcState(a);
    const m = await Marker.open({ netns: a.name });
    try {
      const [r1, r2] = await m.add([{ via: 'bpf', dev: 'va', src: '10.0.0.3', mark: M }, { via: 'bpf', dev: 'va', src: '10.0.0.1', mark: M }]);
      t.deepEqual([r1.id, r2.id], ['bpf:va:ingress:0', 'bpf:va:ingress:1']);
      t.is(a.tc('filter', 'show', 'dev', 'va', 'ingress').match(/pktmark\/bpf/g)?.length, 1, 'one filter holds both rules');
      sendUdp(b, '10.0.0.1', '10.0.0.2', 2);
      await m.delete(r1.id);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
      const left = await m.list({ via: 'bpf' });
      t.deepEqual(left.map((r) => r.id), [r2.id]);
      t.is(left[0].packets, 5, 'the counter survived the program swap');
      t.is(observerCount(a), 5);
      t.regex(left[0].text, /^# bpf: dev va ingress prio \d+: ip saddr 10\.0\.0\.1 → mark 0xdeadbeef$/);
      await m.delete(r2.id);
      t.is(tcState(a), before, 'the last delete removes the filter and the clsact pktmark made');
    } finally { await m.close(); }
  });
});
