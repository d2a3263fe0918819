/**
 * The agent as a process inside a namespace: a ConfigMap symlink swap applied within 1 s, a rule
 * deleted with `nft delete rule` back within the resync period, a bad file that keeps the old
 * rules and raises the failure metric (not-ready, still live), a start with a bad file that
 * applies once fixed, SIGTERM that leaves the rules (and --clear-on-exit that removes them), and
 * per-rule metrics scraped over real HTTP equal to the kernel's counters.
 */
import { fileURLToPath } from 'node:url';
import { liveTest, withVethPair, withNetns, type Netns } from '../helpers/netns.js';
import { ConfigMapDir, httpGet, startAgent, until } from '../helpers/agent.js';
import { sendUdp } from '../helpers/packets.js';

const ENTRY = ['--import', 'tsx', fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url))];
const PORT = 9464;

interface JRule { handle: number; packets: number; bytes: number; comment?: string; saddr?: string }
function rules(ns: Netns): JRule[] {
  let text: string;
  try { text = ns.nft('-j', '-a', 'list', 'chain', 'inet', 'pktmark', 'prerouting'); } catch { return []; }
  const j = JSON.parse(text) as { nftables: { rule?: { handle: number; expr: Record<string, { packets?: number; bytes?: number; right?: string }>[] } }[] };
  return j.nftables.flatMap((o) => (o.rule ? [{
    handle: o.rule.handle,
    packets: o.rule.expr.find((e) => e.counter)?.counter.packets ?? 0,
    bytes: o.rule.expr.find((e) => e.counter)?.counter.bytes ?? 0,
    saddr: o.rule.expr.find((e) => e.match)?.match.right as string | undefined,
  }] : []));
}
const srcsOf = (ns: Netns): string[] => rules(ns).map((r) => r.saddr ?? '?');
const metric = (body: string, name: string, labels = ''): number | undefined => {
  const line = body.split('\n').find((l) => l.startsWith(name + (labels ? `{${labels}` : ' ')) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

const V1 = 'rules:\n  - {name: a, src: 10.0.0.1, mark: 1}\n  - {src: 10.0.0.3, mark: 3}\n';
const V2 = 'rules:\n  - {name: a, src: 10.0.0.1, mark: 1}\n  - {src: 10.0.0.5, mark: 5}\n  - {src: 10.0.0.3, mark: 3}\n';
const BAD = 'rules:\n  - {name: a, src: 10.0.0.1, mark: 1}\n  - {src: 10.0.0.300, mark: 5}\n';

liveTest('agent: symlink swap within 1 s, drift repaired within the resync, bad file keeps the rules and raises the failure metric, metrics equal the kernel, SIGTERM leaves the rules', async (t) => {
  await withVethPair(async (a, b) => {
    const cm = new ConfigMapDir();
    cm.write(V1);
    const ag = startAgent(a, ['-f', cm.file, '--resync', '1s', '--metrics', `127.0.0.1:${PORT}`], ENTRY);
    try {
      await until('first apply', () => ag.lines.some((l) => l.event === 'apply'), 15000);
      t.like(ag.lines[0], { event: 'apply', reason: 'start', added: 2, removed: 0, kept: 0 });
      t.deepEqual(srcsOf(a), ['10.0.0.1', '10.0.0.3']);
      await until('healthz', () => httpGet(a, PORT, '/healthz')[0] === 200, 5000, 100);

      // ConfigMap update: the ..data symlink swap
      const kept = rules(a)[0].handle;
      const t0 = Date.now();
      cm.write(V2);
      await until('swap applied', () => srcsOf(a).length === 3, 3000, 10);
      const ms = Date.now() - t0;
      t.true(ms <= 1000, `applied ${ms} ms after the swap`);
      t.deepEqual(srcsOf(a), ['10.0.0.1', '10.0.0.5', '10.0.0.3']);
      t.is(rules(a)[0].handle, kept, 'the unchanged rule kept its handle');

      // drift: someone deletes a rule
      const victim = rules(a)[1].handle;
      a.nft('delete', 'rule', 'inet', 'pktmark', 'prerouting', 'handle', String(victim));
      // (the repair may already be done by the time nft returns on a loaded machine: look for the new handle)
      const back = await until('drift repaired', () => { const r = rules(a); return r.length === 3 && r[1].handle !== victim; }, 3000, 50);
      t.true(back <= 2000, `repaired ${back} ms after nft delete returned (resync 1 s)`);
      t.deepEqual(srcsOf(a), ['10.0.0.1', '10.0.0.5', '10.0.0.3']);
      let [, m] = httpGet(a, PORT, '/metrics');
      t.true((metric(m, 'pktmark_drift_repairs_total') ?? 0) >= 1);

      // per-rule metrics over HTTP equal the kernel's counters
      sendUdp(b, '10.0.0.1', '10.0.0.2', 7);
      sendUdp(b, '10.0.0.3', '10.0.0.2', 2);
      [, m] = httpGet(a, PORT, '/metrics');
      const k = rules(a);
      t.is(metric(m, 'pktmark_rule_packets_total', 'rule="a"'), k[0].packets);
      t.is(k[0].packets, 7);
      t.is(metric(m, 'pktmark_rule_bytes_total', 'rule="a"'), k[0].bytes);
      t.is(metric(m, 'pktmark_rule_packets_total', `rule="nft:prerouting:${k[2].handle}"`), 2);

      // a bad file: old rules stay, not ready, failure counted, still live
      const before = srcsOf(a);
      cm.write(BAD);
      await until('failure reported', () => ag.lines.some((l) => l.error !== undefined), 3000);
      t.regex(JSON.stringify(ag.lines.find((l) => l.error)), /rule 1.*line 3|rule 1 \(rules\.yaml:3\)/);
      t.deepEqual(srcsOf(a), before);
      t.is(httpGet(a, PORT, '/healthz')[0], 503);
      t.is(httpGet(a, PORT, '/livez')[0], 200);
      [, m] = httpGet(a, PORT, '/metrics');
      t.true((metric(m, 'pktmark_apply_failures_total') ?? 0) >= 1);
      await new Promise((r) => setTimeout(r, 1200)); // a resync with the bad file still clears nothing
      t.deepEqual(srcsOf(a), before);

      // fixed again, then SIGTERM: exit 0, rules stay
      cm.write(V1);
      await until('fixed', () => srcsOf(a).length === 2, 3000);
      await until('ready again', () => httpGet(a, PORT, '/healthz')[0] === 200, 3000, 100);
      ag.child.kill('SIGTERM');
      t.is(await ag.exited, 0);
      t.deepEqual(srcsOf(a), ['10.0.0.1', '10.0.0.3']);
      t.true(ag.lines.filter((l) => l.event === 'apply').every((l) => typeof l.durationMs === 'number'));
    } finally {
      ag.child.kill('SIGKILL');
      cm.remove();
    }
  });
});

liveTest('agent: started with a bad file it applies nothing and is not ready, then applies as soon as the file is fixed; --clear-on-exit removes its rules', async (t) => {
  await withNetns(async (ns) => {
    const cm = new ConfigMapDir();
    cm.write(BAD);
    const ag = startAgent(ns, ['-f', cm.file, '--resync', '10s', '--metrics', `127.0.0.1:${PORT}`, '--clear-on-exit'], ENTRY);
    try {
      await until('first apply', () => ag.lines.some((l) => l.event === 'apply'), 15000);
      t.truthy(ag.lines[0].error);
      t.deepEqual(rules(ns), []);
      await until('http', () => httpGet(ns, PORT, '/healthz')[0] !== 0, 5000, 100);
      t.is(httpGet(ns, PORT, '/healthz')[0], 503);
      t.is(httpGet(ns, PORT, '/livez')[0], 200);
      const t0 = Date.now();
      cm.write(V1);
      await until('applied once fixed', () => rules(ns).length === 2, 3000, 10);
      t.true(Date.now() - t0 <= 1000);
      ag.child.kill('SIGTERM');
      t.is(await ag.exited, 0);
      t.deepEqual(rules(ns), [], '--clear-on-exit removed apply\'s rules');
    } finally {
      ag.child.kill('SIGKILL');
      cm.remove();
    }
  });
});
