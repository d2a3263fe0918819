/**
 * Live tc path on this machine's kernel (root, throwaway namespaces). This kernel has cls_u32
 * and clsact but no act_skbedit/act_police, so: qdisc handling and u32 selectors are checked
 * directly (a u32 filter without action, pktmark's bytes vs `tc` in a twin namespace), and a
 * marking `add` must fail with ACTION_UNAVAILABLE leaving qdiscs and filters exactly as before.
 * Marking itself is proven in the VM test (test/vm/).
 */
import type { ExecutionContext } from 'ava';
import { liveTest, withNetns, run, IP, type Netns } from '../helpers/netns.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { NETLINK_ROUTE } from '../../src/transport/transport.js';
import { tcKernel } from '../../src/backends/tc/index.js';
import { execute } from '../../src/transport/execute.js';
import { ruleToFilter } from '../../src/backends/tc/rule.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { Marker } from '../../src/marker.js';
import { PktmarkError } from '../../src/errors.js';

function withDev<T>(fn: (ns: Netns[]) => Promise<T>, count = 1): Promise<T> {
  return withNetns(async (...ns) => {
    for (const n of ns) {
      run(IP, ['-n', n.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
      n.ip('link', 'set', 'd0', 'up');
    }
    return fn(ns);
  }, count);
}
const qdiscs = (ns: Netns): unknown => JSON.parse(ns.tc('-j', 'qdisc', 'show', 'dev', 'd0'));
function filters(ns: Netns): unknown {
  const out: unknown[] = [];
  for (const d of ['ingress', 'egress']) {
    try { out.push(JSON.parse(ns.tc('-j', 'filter', 'show', 'dev', 'd0', d))); } catch { out.push(null); }
  }
  return out;
}
const state = (ns: Netns): string => JSON.stringify({ q: qdiscs(ns), f: filters(ns) });
const kinds = (ns: Netns): string[] => (qdiscs(ns) as { kind: string }[]).map((q) => q.kind);

liveTest('tc live: clsact is created when missing and removed by rollback; ingress and clsact are reused', async (t) => {
  await withDev(async ([ns]) => {
    const s = NetlinkSocket.open({ protocol: NETLINK_ROUTE, netns: ns.name });
    try {
      const undo: (() => Promise<void>)[] = [];
      const st = await tcKernel.prepareDevice(s, 'd0', 'ingress', undo);
      t.like(st, { qdisc: 'clsact', created: true, qdiscOwned: true });
      t.true(kinds(ns).includes('clsact'));
      const again = await tcKernel.prepareDevice(s, 'd0', 'egress', []);
      t.like(again, { qdisc: 'clsact', created: false, qdiscOwned: false }, 'reused, and not ours without a pktmark filter saying so');
      for (const u of undo.reverse()) await u();
      t.false(kinds(ns).includes('clsact'), 'removed again');

      ns.tc('qdisc', 'add', 'dev', 'd0', 'ingress');
      const ing = await tcKernel.prepareDevice(s, 'd0', 'ingress', []);
      t.like(ing, { qdisc: 'ingress', created: false });
      await t.throwsAsync(tcKernel.prepareDevice(s, 'd0', 'egress', []), { instanceOf: PktmarkError, message: /no egress hook/ });
      t.true(kinds(ns).includes('ingress'));
      await t.throwsAsync(tcKernel.ifindexOf(s, 'nope0'), { instanceOf: PktmarkError, message: /does not exist/ });
    } finally { s.close(); }
  });
});

const SELECTORS: [string, Omit<MarkRuleInput, 'via' | 'dev' | 'mark'>, string][] = [
  ['v4 /32 src', { src: '10.0.0.1' }, 'protocol ip prio 1 u32 match ip src 10.0.0.1'],
  ['v4 /24 src + dst', { src: '10.0.0.0/24', dst: '192.168.1.7' }, 'protocol ip prio 1 u32 match ip src 10.0.0.0/24 match ip dst 192.168.1.7'],
  ['v6 /128 src', { src: '2001:db8::1' }, 'protocol ipv6 prio 1 u32 match ip6 src 2001:db8::1'],
  ['v6 /36 dst', { dst: '2001:db8::/36' }, 'protocol ipv6 prio 1 u32 match ip6 dst 2001:db8::/36'],
  ['proto + dport', { family: 'ip', proto: 'tcp', dport: 80 }, 'protocol ip prio 1 u32 match ip protocol 6 0xff match ip dport 80 0xffff'],
  ['udp sport + dport v6', { family: 'ip6', proto: 'udp', sport: 53, dport: 5353 }, 'protocol ipv6 prio 1 u32 match ip6 protocol 17 0xff match ip6 sport 53 0xffff match ip6 dport 5353 0xffff'],
  ['egress match-all', { direction: 'egress' }, 'protocol all prio 1 u32 match u32 0 0'],
];

async function applyPlain(t: ExecutionContext, ns: Netns, f: TcFilter): Promise<void> {
  const s = NetlinkSocket.open({ protocol: NETLINK_ROUTE, netns: ns.name });
  try {
    // the same u32 selector pktmark builds for a rule, without the action this kernel lacks
    const o = f.options!;
    const plain: TcFilter = { ...f, options: o.kind === 'u32' ? { ...o, actions: [], sel: { ...o.sel!, flags: 0 } } : o };
    await execute(s, 'add', (w, seq) => encodeNewFilter(w, seq, plain));
  } finally { s.close(); }
  t.pass();
}

liveTest('tc live: u32 selectors applied by pktmark equal the same filters applied by tc (twin namespace)', async (t) => {
  for (const [name, input, words] of SELECTORS) {
    await withDev(async ([a, b]) => {
      a.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
      b.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
      const rule = normalizeRule({ via: 'tc', dev: 'd0', prio: 1, mark: 1, ...input });
      const ifindex = JSON.parse(a.ip('-j', 'link', 'show', 'd0'))[0].ifindex as number;
      await applyPlain(t, a, ruleToFilter(rule, { ifindex, qdisc: 'clsact' }));
      const dir = rule.direction ?? 'ingress';
      b.tc('filter', 'add', 'dev', 'd0', dir, ...words.split(' '));
      const show = (ns: Netns): unknown => JSON.parse(ns.tc('-j', 'filter', 'show', 'dev', 'd0', dir));
      t.deepEqual(show(a), show(b), name);
      t.true(JSON.stringify(show(a)).includes('"match"'), `${name}: a u32 node exists`);
    }, 2);
  }
});

const RULES: [string, MarkRuleInput][] = [
  ['cheat sheet', { via: 'tc', dev: 'd0', src: '10.0.0.1', mark: 0xdeadbeef }],
  ['police rate', { via: 'tc', dev: 'd0', src: '10.0.0.1', mark: 0xdeadbeef, rate: '1/second', burst: 1 }],
  ['egress mark/mask', { via: 'tc', dev: 'd0', direction: 'egress', dst: 'fd00::1', mark: '0x10/0xf0' }],
];
const SETUPS: [string, (ns: Netns) => void][] = [
  ['no qdisc', () => {}],
  ['clsact with a foreign filter', (ns) => { ns.tc('qdisc', 'add', 'dev', 'd0', 'clsact'); ns.tc('filter', 'add', 'dev', 'd0', 'ingress', 'protocol', 'ip', 'prio', '5', 'u32', 'match', 'ip', 'dst', '10.9.9.9'); }],
  ['classic ingress qdisc', (ns) => { ns.tc('qdisc', 'add', 'dev', 'd0', 'ingress'); }],
];

liveTest('tc live: a marking add fails with ACTION_UNAVAILABLE and leaves qdiscs and filters exactly as before', async (t) => {
  for (const [setupName, setup] of SETUPS) {
    for (const [ruleName, input] of RULES) {
      if (setupName === 'classic ingress qdisc' && input.direction === 'egress') continue;
      await withDev(async ([ns]) => {
        setup(ns);
        const before = state(ns);
        const m = await Marker.open({ netns: ns.name });
        try {
          const e = await t.throwsAsync(m.add(input), { instanceOf: PktmarkError }, `${setupName} / ${ruleName}`);
          t.is(e?.code, 'ACTION_UNAVAILABLE', `${setupName} / ${ruleName}: ${e?.message}`);
          t.regex(e?.extack ?? '', /action module/i);
          t.regex(e?.hint ?? '', /via: 'nft'/);
          t.regex(e?.hint ?? '', /via: 'bpf'/);
          t.is(state(ns), before, `${setupName} / ${ruleName}: kernel state unchanged`);
          t.deepEqual(await m.list({ via: 'tc' }), []);
          await m.clear({ via: 'tc' });
          t.is(state(ns), before, 'clear does not touch foreign filters or qdiscs');
          await t.throwsAsync(m.delete('tc:d0:ingress:5:800::800'), { instanceOf: PktmarkError, message: /not made by pktmark|no tc filter/ });
          t.is(state(ns), before);
        } finally { await m.close(); }
      });
    }
  }
});
