/**
 * The u32 handle rules the tc backend's add relies on (src/backends/tc/handles.ts, send.ts), on
 * the running kernel, with `tc` as the oracle (root, throwaway namespaces; filters without an
 * action, so no act_skbedit is needed): a new priority's echoed first filter and the handles
 * pktmark picks after it, an existing priority found by `get … handle fff::`, and a full handle
 * refused when another writer took it (EEXIST) or the priority's table is another (EINVAL).
 */
import { liveTest, withNetns, run, IP, type Netns } from '../helpers/netns.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { NETLINK_ROUTE } from '../../src/transport/transport.js';
import { filtersOf, ifindexOf } from '../../src/backends/clsact.js';
import { rootTables, sendFilters, type PlannedFilter } from '../../src/backends/tc/send.js';
import { selector } from '../../codecs/tc/classifiers/u32.js';
import { ruleKeys } from '../../src/backends/tc/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { RootTable } from '../../src/backends/tc/handles.js';

const INGRESS = 0xfffffff2;
/** a namespace with veth d0 on a clsact, a route socket in it, and `tc filter add` there (handle optional) */
function withDev(fn: (ns: Netns, s: NetlinkSocket, ifindex: number, tcAdd: (prio: number, src: string, handle?: string) => void) => Promise<void>): Promise<void> {
  return withNetns(async (ns) => {
    run(IP, ['-n', ns.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    ns.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
    const s = NetlinkSocket.open({ protocol: NETLINK_ROUTE, netns: ns.name });
    const tcAdd = (prio: number, src: string, handle?: string): void => {
      ns.tc('filter', 'add', 'dev', 'd0', 'ingress', 'protocol', 'ip', 'prio', String(prio), ...(handle ? ['handle', handle] : []), 'u32', 'match', 'ip', 'src', src);
    };
    try { await fn(ns, s, await ifindexOf(s, 'd0'), tcAdd); } finally { s.close(); }
  });
}
const planned = (ifindex: number, prio: number, from: number, n: number): PlannedFilter[] => Array.from({ length: n }, (_, i) => ({
  direction: 'ingress' as const,
  filter: { ifindex, parent: INGRESS, prio, protocol: 0x0800, handle: 0, options: { kind: 'u32' as const, sel: selector(ruleKeys(normalizeRule({ via: 'tc', dev: 'd0', src: `10.1.${prio}.${from + i}`, mark: 1 })), 0), extra: [] } },
}));
/** `tc filter show`'s node handles of a priority, as u32 numbers */
const shown = (ns: Netns, prio: number): number[] => [...ns.tc('filter', 'show', 'dev', 'd0', 'ingress', 'prio', String(prio)).matchAll(/fh ([0-9a-f]+)::([0-9a-f]+)/g)]
  .map((m) => ((parseInt(m[1], 16) << 20) | parseInt(m[2], 16)) >>> 0).sort((a, b) => a - b);

liveTest('the handles pktmark picks are the ones tc shows: a new priority (echoed first filter) and one in use (fff:: look-up)', async (t) => {
  await withDev(async (ns, s, ifindex, tcAdd) => {
    // prio 9 takes htid 800:, so prio 1 gets 801:; another tool's nodes at 801::800 and 801::802
    tcAdd(9, '10.9.9.9');
    tcAdd(1, '10.9.9.1');
    tcAdd(1, '10.9.9.2', '801::802');
    const p = [...planned(ifindex, 1, 0, 3), ...planned(ifindex, 4, 0, 3)];
    const dumps = new Map([[`${ifindex}/ingress`, await filtersOf(s, ifindex, 'ingress')]]);
    const out = await sendFilters(s, p, await rootTables(s, p, dumps), { atomic: true });
    t.deepEqual(out.map((o) => o.refused?.errno), Array(6).fill(undefined));
    t.deepEqual(out.map((o) => o.handle), [0x80100801, 0x80100803, 0x80100804, 0x80200800, 0x80200801, 0x80200802]);
    t.deepEqual(out.map((o) => o.echo !== undefined), [false, false, false, true, false, false]);
    t.deepEqual(shown(ns, 1), [0x80100800, 0x80100801, 0x80100802, 0x80100803, 0x80100804]);
    t.deepEqual(shown(ns, 4), [0x80200800, 0x80200801, 0x80200802]);
  });
});

liveTest('a stale view is refused, never given another id: a taken node (EEXIST), a replaced priority (EINVAL, extack)', async (t) => {
  await withDev(async (ns, s, ifindex, tcAdd) => {
    tcAdd(1, '10.9.9.1');
    // pktmark's view says 800::800 only; another writer has taken 800::801 since
    tcAdd(1, '10.9.9.2', '800::801');
    const taken = await sendFilters(s, planned(ifindex, 1, 0, 2), new Map([[`${ifindex}/${INGRESS}/1`, new RootTable(0x80000000, [0x800])]]), { atomic: false });
    t.is(taken[0].refused?.errno, 17);
    t.is(taken[0].chosen, 0x80000801);
    t.is(taken[1].handle, 0x80000802);
    // the priority deleted and made again while another one keeps the qdisc's u32 state (with
    // none left the kernel starts over at 800:, and 800::803 is then where the filter really goes)
    tcAdd(9, '10.9.9.9');
    ns.tc('filter', 'del', 'dev', 'd0', 'ingress', 'prio', '1');
    tcAdd(1, '10.9.9.1');
    const replaced = await sendFilters(s, planned(ifindex, 1, 5, 1), new Map([[`${ifindex}/${INGRESS}/1`, new RootTable(0x80000000, [0x800, 0x801, 0x802])]]), { atomic: false });
    t.is(replaced[0].refused?.errno, 22);
    t.regex(replaced[0].refused?.extack ?? '', /hash table address mismatch/);
    t.deepEqual(shown(ns, 1), [0x80200800], 'prio 9 is 801:, the new prio 1 802:');
  });
});
