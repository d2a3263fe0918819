/**
 * Live `pktmark tc -batch` and the tc front's `match ip dport/sport` without a protocol match
 * (root, throwaway namespaces):
 *   - kernel judge: the front's filter for `match ip dport 53 0xffff` alone (and ip6 sport), sent by
 *     pktmark without the action this kernel lacks, equals tc's own in a twin (`tc -j filter show`);
 *   - a batch is atomic: where act_skbedit is missing (this kernel) the first refusal names its
 *     FILE:LINE and the device is exactly as before, the batch's own `qdisc add` line undone too;
 *     with -force every refused line is reported and what went in (the qdisc) stays, as tc does.
 *     Where act_skbedit exists (the test/vm guest), every line goes in and list shows each filter.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveTest, withNetns, run, IP, type Netns } from '../helpers/netns.js';
import { describeFeatures, kernelFeatures } from '../helpers/kernel-features.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { NETLINK_ROUTE } from '../../src/transport/transport.js';
import { execute } from '../../src/transport/execute.js';
import { ruleToFilter } from '../../src/backends/tc/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { parseTc } from '../../src/cli/fronts/tc.js';
import { encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { cli } from '../cli/cli.js';

function withDev<T>(fn: (ns: Netns[]) => Promise<T>, count = 1): Promise<T> {
  return withNetns(async (...ns) => {
    for (const n of ns) {
      run(IP, ['-n', n.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
      n.ip('link', 'set', 'd0', 'up');
    }
    return fn(ns);
  }, count);
}
const show = (ns: Netns, dir: string): unknown => { try { return JSON.parse(ns.tc('-j', 'filter', 'show', 'dev', 'd0', dir)); } catch { return null; } };
const state = (ns: Netns): string => JSON.stringify({ q: JSON.parse(ns.tc('-j', 'qdisc', 'show', 'dev', 'd0')), i: show(ns, 'ingress'), e: show(ns, 'egress') });
const dir = mkdtempSync(join(tmpdir(), 'pktmark-tc-batch-live-'));
const file = (name: string, lines: string[]): string => { const p = join(dir, name); writeFileSync(p, lines.join('\n') + '\n'); return p; };

const PORT_ONLY = [
  'protocol ip prio 1 u32 match ip dport 53 0xffff',
  // (pktmark packs keys in one order, src dst protocol sport dport, as its explain writes them)
  'protocol ip prio 2 u32 match ip dst 10.0.0.2 match ip sport 1024 0xffff',
  'protocol ipv6 prio 3 u32 match ip6 sport 53 0xffff',
];

liveTest('tc front: match ip dport/sport without a protocol match gives the filter tc makes (tc -j filter show, twin namespace)', async (t) => {
  for (const words of PORT_ONLY) {
    await withDev(async ([a, b]) => {
      a.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
      b.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
      const cmd = parseTc(['filter', 'add', 'dev', 'd0', 'ingress', ...words.split(' '), 'action', 'skbedit', 'mark', '1']);
      if (cmd.op !== 'filter-add') throw new Error('not an add');
      const rule = normalizeRule(cmd.rule);
      t.is(rule.proto, undefined, `${words}: no protocol match`);
      const ifindex = JSON.parse(a.ip('-j', 'link', 'show', 'd0'))[0].ifindex as number;
      const f = ruleToFilter(rule, { ifindex, qdisc: 'clsact' });
      const o = f.options!;
      // the selector pktmark builds, without the action this kernel may lack
      const plain: TcFilter = { ...f, options: o.kind === 'u32' ? { ...o, actions: [], sel: { ...o.sel!, flags: 0 } } : o };
      const s = NetlinkSocket.open({ protocol: NETLINK_ROUTE, netns: a.name });
      try { await execute(s, 'add', (w, seq) => encodeNewFilter(w, seq, plain)); } finally { s.close(); }
      b.tc('filter', 'add', 'dev', 'd0', 'ingress', ...words.split(' '));
      t.deepEqual(show(a, 'ingress'), show(b, 'ingress'), words);
      t.regex(JSON.stringify(show(a, 'ingress')), /"match"/, `${words}: a u32 node exists`);
    }, 2);
  }
});

liveTest('tc -batch: atomic where the kernel refuses (ACTION_UNAVAILABLE at FILE:LINE, device as before); -force reports each line; with act_skbedit every line goes in', async (t) => {
  const k = await kernelFeatures();
  t.log(await describeFeatures('act_skbedit'));
  const lines = [
    '# a batch as an entrypoint writes it',
    'qdisc add dev d0 clsact',
    'filter add dev d0 ingress protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef',
    'filter add dev d0 ingress protocol ip prio 2 u32 match ip dport 53 0xffff action skbedit mark 0x2',
    'filter add dev d0 egress protocol ipv6 prio 3 u32 match ip6 dst fd00::1 action skbedit mark 0x10/0xf0',
  ];
  const p = file('batch.tc', lines);
  await withDev(async ([ns]) => {
    const before = state(ns);
    const r = await cli(['tc', '-n', ns.name, '-batch', p]);
    if (k.act_skbedit.available) {
      t.is(r.code, 0, r.stderr);
      const listed = await cli(['tc', '-n', ns.name, '-j', 'filter', 'show', 'dev', 'd0']);
      t.is((JSON.parse(listed.stdout) as { rules: unknown[] }).rules.length, 3);
      t.regex(ns.tc('filter', 'show', 'dev', 'd0', 'ingress'), /match 00000035\/0000ffff at 20/);
      t.is((await cli(['tc', '-n', ns.name, 'filter', 'del', 'dev', 'd0', 'ingress'])).code, 0);
      t.is((await cli(['tc', '-n', ns.name, 'filter', 'del', 'dev', 'd0', 'egress'])).code, 0);
      t.is(ns.tc('filter', 'show', 'dev', 'd0', 'ingress'), '', 'pktmark filters gone');
      return;
    }
    t.is(r.code, 1, 'exit 1, as tc -batch');
    t.is(r.stderr.trim().split('\n').length, 1);
    t.regex(r.stderr, new RegExp(`ACTION_UNAVAILABLE mark: ${p}:3: tc action skbedit is not available`));
    t.is(state(ns), before, 'the device is exactly as before: the qdisc of line 2 is undone too');

    const f = await cli(['tc', '-n', ns.name, '-force', '-batch', p]);
    t.is(f.code, 1);
    t.deepEqual(f.stderr.trim().split('\n').map((l) => /:(\d+): /.exec(l)?.[1]), ['3', '4', '5'], f.stderr);
    t.regex(ns.tc('qdisc', 'show', 'dev', 'd0'), /clsact/, '-force keeps what went in (the qdisc line), as tc does');
    t.is(show(ns, 'ingress') === null ? '' : JSON.stringify(show(ns, 'ingress')), '[]', 'no filter');
  });
});

liveTest('tc -batch --dry-run --hex sends nothing: the device is as before', async (t) => {
  await withDev(async ([ns]) => {
    const before = state(ns);
    const r = await cli(['--dry-run', '--hex', '--ifindex', 'd0=2', 'tc', '-n', ns.name, '-batch', file('dry.tc', ['filter add dev d0 ingress protocol ip prio 1 u32 match ip dport 53 0xffff action skbedit mark 1'])]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim().split('\n').length, 2, 'the clsact pktmark would make, then the filter');
    t.is(state(ns), before);
  });
});
