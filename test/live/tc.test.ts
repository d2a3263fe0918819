/**
 * Live tc path on the running kernel (root, throwaway namespaces). Qdisc handling and u32
 * selectors are checked directly (a u32 filter without action, pktmark's bytes vs `tc` in a twin
 * namespace). What a marking `add` must do depends on the kernel, so it is probed first
 * (test/helpers/kernel-features.ts, `tc` as the oracle) and the test asserts that branch:
 *   - without act_skbedit (this machine's 6.18): ACTION_UNAVAILABLE, qdiscs and filters exactly as before;
 *   - with it (Debian's 6.1, e.g. in the test/vm guest, which runs this file on every `npm test`):
 *     the marks, counted by an nft observer in the namespace where they are set, then list, and
 *     clear restoring the device exactly.
 */
import type { ExecutionContext } from 'ava';
import { liveTest, withNetns, withVethPair, run, IP, type Netns } from '../helpers/netns.js';
import { describeFeatures, kernelFeatures } from '../helpers/kernel-features.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';
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
const SETUPS: [string, (ns: Netns, dev: string) => void][] = [
  ['no qdisc', () => {}],
  ['clsact with a foreign filter', (ns, dev) => { ns.tc('qdisc', 'add', 'dev', dev, 'clsact'); ns.tc('filter', 'add', 'dev', dev, 'ingress', 'protocol', 'ip', 'prio', '5', 'u32', 'match', 'ip', 'dst', '10.9.9.9'); }],
  ['classic ingress qdisc', (ns, dev) => { ns.tc('qdisc', 'add', 'dev', dev, 'ingress'); }],
];
const CASES = SETUPS.flatMap(([setupName, setup]) => RULES
  .filter(([, input]) => !(setupName === 'classic ingress qdisc' && input.direction === 'egress'))
  .map(([ruleName, input]) => ({ what: `${setupName} / ${ruleName}`, setup, input })));

liveTest('tc live: a marking add marks packets where the kernel has act_skbedit (and act_police), else fails with ACTION_UNAVAILABLE; the device is left exactly as before', async (t) => {
  const k = await kernelFeatures();
  t.log(await describeFeatures('act_skbedit', 'act_police'));
  if (k.act_skbedit.available !== k.act_police.available) t.log('act_skbedit and act_police differ: each rule asserts the branch of the actions it uses');
  for (const { what, setup, input } of CASES) {
    const needs = input.rate ? k.act_police.available && k.act_skbedit.available : k.act_skbedit.available;
    if (needs) await marks(t, what, setup, input);
    else await refuses(t, what, setup, input);
  }
});

/** Kernel without the action: the typed refusal, nothing left behind. */
async function refuses(t: ExecutionContext, what: string, setup: (ns: Netns, dev: string) => void, input: MarkRuleInput): Promise<void> {
  await withDev(async ([ns]) => {
    setup(ns, 'd0');
    const before = state(ns);
    const m = await Marker.open({ netns: ns.name });
    try {
      const e = await t.throwsAsync(m.add(input), { instanceOf: PktmarkError }, what);
      t.is(e?.code, 'ACTION_UNAVAILABLE', `${what}: ${e?.message}`);
      t.regex(e?.extack ?? '', /action module/i);
      t.regex(e?.hint ?? '', /via: 'nft'/);
      t.regex(e?.hint ?? '', /via: 'bpf'/);
      t.is(state(ns), before, `${what}: kernel state unchanged`);
      t.deepEqual(await m.list({ via: 'tc' }), []);
      await m.clear({ via: 'tc' });
      t.is(state(ns), before, 'clear does not touch foreign filters or qdiscs');
      await t.throwsAsync(m.delete('tc:d0:ingress:5:800::800'), { instanceOf: PktmarkError, message: /not made by pktmark|no tc filter/ });
      t.is(state(ns), before);
    } finally { await m.close(); }
  });
}

/**
 * Kernel with the action: on `va` of a veth pair (a ← b), the rule marks what it should. Ingress
 * marks are counted by an nft observer in `a`'s prerouting (after tc ingress, in the namespace
 * where the mark is set). An egress mark is set after netfilter's last hook and cleared when the
 * packet crosses into `b`, so no observer can see it: there the action's own counter (list) and
 * `tc` reading back mark/mask are the evidence.
 */
async function marks(t: ExecutionContext, what: string, setup: (ns: Netns, dev: string) => void, input: MarkRuleInput): Promise<void> {
  await withVethPair(async (a, b) => {
    setup(a, 'va');
    const devState = (): string => JSON.stringify({ q: JSON.parse(a.tc('-j', 'qdisc', 'show', 'dev', 'va')), f: ['ingress', 'egress'].map((d) => { try { return JSON.parse(a.tc('-j', 'filter', 'show', 'dev', 'va', d)); } catch { return null; } }) });
    const before = devState();
    addObserver(a, 0xdeadbeef);
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add({ ...input, dev: 'va' });
      const listed = await m.list({ via: 'tc' });
      t.deepEqual(listed.map((r) => r.id), [rec.id], `${what}: listed once`);
      if (input.direction === 'egress') {
        sendUdp(a, 'fd00::2', 'fd00::1', 3);
        const [r] = await m.list({ via: 'tc' });
        t.like(r.rule, { mark: 0x10, mask: 0xf0 }, `${what}: read back`);
        t.true((r.packets ?? 0) >= 3, `${what}: the action counted the 3 datagrams to fd00::1 (${r.packets})`);
        t.regex(a.tc('filter', 'show', 'dev', 'va', 'egress'), /skbedit.*mark 16\/0xf0|mark 0x10\/0xf0|mark 16\/240/, `${what}: tc shows the mark/mask`);
      } else if (input.rate) {
        // let the bucket fill for a period first (qemu's emulated clock: see test/vm/tc-guest.ts)
        await new Promise((r) => setTimeout(r, 1200));
        sendUdp(b, '10.0.0.1', '10.0.0.2', 20);
        t.is(observerCount(a), 1, `${what}: one of a quick burst of 20 is marked`);
      } else {
        sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
        sendUdp(b, '10.0.0.3', '10.0.0.2', 3);
        t.is(observerCount(a), 3, `${what}: the 3 from 10.0.0.1 are marked, none of the 3 from 10.0.0.3`);
        const [r] = await m.list({ via: 'tc' });
        t.is(r.packets, 3, `${what}: pktmark's list counts the same 3`);
      }
      await m.clear({ via: 'tc' });
      t.is(devState(), before, `${what}: clear restores the device exactly (foreign qdisc and filter kept)`);
    } finally { await m.close(); }
  });
}
